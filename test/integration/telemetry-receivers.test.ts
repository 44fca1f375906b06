/**
 * The telemetry receivers later tests check Spark Runner's traces and metrics against: a real OpenTelemetry
 * Collector (OTLP in, debug exporter out) and a real Prometheus. Everything sent here is hand-written OTLP/JSON
 * (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding: hex trace and span ids, enums as numbers,
 * 64-bit integers as strings) or the Prometheus text format, so these tests prove the receivers, not a client SDK.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startCollector, type TestCollector } from '../helpers/otel-collector.js';
import { startPrometheus, type TestPrometheus } from '../helpers/prometheus.js';

const hex = (bytes: number) => crypto.randomBytes(bytes).toString('hex');
const nowNanos = () => (BigInt(Date.now()) * 1_000_000n).toString();
const str = (key: string, value: string) => ({ key, value: { stringValue: value } });

async function postOtlp(collector: TestCollector, signal: 'traces' | 'metrics' | 'logs', body: unknown) {
  const res = await fetch(`${collector.httpEndpoint}/v1/${signal}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  // A full success rejects nothing: partialSuccess is empty or its rejected* counts are zero.
  const answer = (await res.json()) as { partialSuccess?: Record<string, unknown> };
  const rejected = Object.entries(answer.partialSuccess ?? {}).filter(
    ([k, v]) => k.startsWith('rejected') && Number(v),
  );
  expect(rejected).toEqual([]);
}

function resource(service: string) {
  return { attributes: [str('service.name', service), str('deployment.environment', 'test')] };
}

describe('an OpenTelemetry Collector receiving OTLP/HTTP', () => {
  let collector: TestCollector;

  beforeAll(async () => {
    const started = Date.now();
    collector = await startCollector();
    console.log(`[otelcol] answering on ${collector.httpEndpoint} in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await collector?.stop();
  });

  it('shows a posted span with its name, trace id, parent id, resource and attributes', async () => {
    const traceId = hex(16);
    const rootId = hex(8);
    const childId = hex(8);
    const start = nowNanos();
    await postOtlp(collector, 'traces', {
      resourceSpans: [
        {
          resource: resource('spark-runner-test'),
          scopeSpans: [
            {
              scope: { name: 'telemetry-receivers.test', version: '1.0.0' },
              spans: [
                {
                  traceId,
                  spanId: rootId,
                  name: 'POST /jobs',
                  kind: 2,
                  startTimeUnixNano: start,
                  endTimeUnixNano: start,
                },
                {
                  traceId,
                  spanId: childId,
                  parentSpanId: rootId,
                  name: 'submit execution',
                  kind: 1,
                  startTimeUnixNano: start,
                  endTimeUnixNano: start,
                  attributes: [
                    str('job.path', 'data-infra/spark-pi'),
                    { key: 'attempt', value: { intValue: '2' } },
                    { key: 'retryable', value: { boolValue: true } },
                    { key: 'memory.factor', value: { doubleValue: 1.5 } },
                    {
                      key: 'backends',
                      value: { arrayValue: { values: [{ stringValue: 'local' }, { stringValue: 'k8s' }] } },
                    },
                  ],
                  events: [{ name: 'submitted', timeUnixNano: start, attributes: [str('backend', 'local')] }],
                  status: { code: 2, message: 'driver OOM-killed' },
                },
              ],
            },
          ],
        },
      ],
    });

    const child = await collector.waitForSpan((s) => s.spanId === childId);
    expect(child).toMatchObject({
      name: 'submit execution',
      traceId,
      parentId: rootId,
      kind: 'Internal',
      statusCode: 'Error',
      statusMessage: 'driver OOM-killed',
      serviceName: 'spark-runner-test',
      resource: { 'deployment.environment': 'test' },
      scope: { name: 'telemetry-receivers.test', version: '1.0.0' },
      attributes: {
        'job.path': 'data-infra/spark-pi',
        attempt: 2,
        retryable: true,
        'memory.factor': 1.5,
        backends: ['local', 'k8s'],
      },
      events: [{ name: 'submitted', attributes: { backend: 'local' } }],
    });
    const root = await collector.waitForSpan((s) => s.spanId === rootId);
    expect(root).toMatchObject({ name: 'POST /jobs', traceId, parentId: '', kind: 'Server', attributes: {} });
  });

  it('shows a posted counter and histogram with their data point attributes and values', async () => {
    const time = nowNanos();
    const run = hex(4);
    await postOtlp(collector, 'metrics', {
      resourceMetrics: [
        {
          resource: resource('spark-runner-test'),
          scopeMetrics: [
            {
              scope: { name: 'telemetry-receivers.test' },
              metrics: [
                {
                  name: `executions_submitted_${run}`,
                  description: 'Executions submitted',
                  unit: '1',
                  sum: {
                    aggregationTemporality: 2,
                    isMonotonic: true,
                    dataPoints: [
                      {
                        asInt: '7',
                        timeUnixNano: time,
                        attributes: [str('team', 'data-infra'), str('backend', 'local')],
                      },
                      { asInt: '3', timeUnixNano: time, attributes: [str('team', 'ml'), str('backend', 'k8s')] },
                    ],
                  },
                },
                {
                  name: `submit_latency_${run}`,
                  unit: 'ms',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [
                      {
                        count: '3',
                        sum: 42.5,
                        bucketCounts: ['1', '2', '0'],
                        explicitBounds: [10, 100],
                        timeUnixNano: time,
                        attributes: [str('route', '/jobs')],
                      },
                    ],
                  },
                },
              ],
            },
          ],
        },
      ],
    });

    const counter = await collector.waitForMetric((m) => m.name === `executions_submitted_${run}`);
    expect(counter).toMatchObject({
      type: 'Sum',
      isMonotonic: true,
      temporality: 'Cumulative',
      unit: '1',
      description: 'Executions submitted',
      serviceName: 'spark-runner-test',
    });
    expect(counter.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }))).toEqual([
      { attributes: { team: 'data-infra', backend: 'local' }, value: 7 },
      { attributes: { team: 'ml', backend: 'k8s' }, value: 3 },
    ]);
    const histogram = await collector.waitForMetric((m) => m.name === `submit_latency_${run}`);
    expect(histogram).toMatchObject({ type: 'Histogram', unit: 'ms' });
    expect(histogram.dataPoints).toMatchObject([
      { attributes: { route: '/jobs' }, count: 3, sum: 42.5, bounds: [10, 100], bucketCounts: [1, 2, 0] },
    ]);
  });

  it('shows a posted log record with its body, severity, attributes and trace context', async () => {
    const traceId = hex(16);
    const spanId = hex(8);
    await postOtlp(collector, 'logs', {
      resourceLogs: [
        {
          resource: resource('spark-runner-test'),
          scopeLogs: [
            {
              scope: { name: 'telemetry-receivers.test' },
              logRecords: [
                {
                  timeUnixNano: nowNanos(),
                  severityNumber: 13,
                  severityText: 'WARN',
                  body: { stringValue: 'attempt 1 was OOM-killed' },
                  attributes: [str('execution.id', 'exec-1')],
                  traceId,
                  spanId,
                },
              ],
            },
          ],
        },
      ],
    });
    await vi.waitFor(() => expect(collector.logRecords().some((r) => r.traceId === traceId)).toBe(true), {
      timeout: 15_000,
      interval: 100,
    });
    expect(collector.logRecords().find((r) => r.traceId === traceId)).toMatchObject({
      body: 'attempt 1 was OOM-killed',
      severity: 'Warn',
      severityText: 'WARN',
      spanId,
      serviceName: 'spark-runner-test',
      attributes: { 'execution.id': 'exec-1' },
    });
  });
});

describe('a Prometheus scraping a /metrics endpoint', () => {
  let prometheus: TestPrometheus;
  let server: http.Server;
  let target: string;
  let count = 42;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
      res.end(
        [
          '# HELP my_counter_total Things counted by the test.',
          '# TYPE my_counter_total counter',
          `my_counter_total{route="/jobs"} ${count}`,
          '',
        ].join('\n'),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const started = Date.now();
    prometheus = await startPrometheus([target], { scrapeIntervalMs: 500 });
    console.log(`[prometheus] ready on ${prometheus.url} in ${Date.now() - started} ms`);
  });

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('scrapes the target, reports it up, and answers a query with the counter value', async () => {
    const started = Date.now();
    await vi.waitFor(
      async () => expect((await prometheus.targets()).map((t) => [t.instance, t.health])).toEqual([[target, 'up']]),
      { timeout: 30_000, interval: 250 },
    );
    console.log(`[prometheus] target up ${Date.now() - started} ms after ready`);
    await vi.waitFor(async () => expect(await prometheus.query('my_counter_total')).toHaveLength(1), {
      timeout: 15_000,
      interval: 250,
    });
    const [sample] = await prometheus.query('my_counter_total');
    expect(sample!.value).toBe(42);
    expect(sample!.metric).toMatchObject({
      __name__: 'my_counter_total',
      route: '/jobs',
      job: 'test',
      instance: target,
    });
    expect(await prometheus.query(`up{instance="${target}"}`)).toMatchObject([{ value: 1 }]);

    count = 45;
    await vi.waitFor(async () => expect((await prometheus.query('my_counter_total'))[0]?.value).toBe(45), {
      timeout: 15_000,
      interval: 250,
    });
  });
});
