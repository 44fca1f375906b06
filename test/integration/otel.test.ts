/**
 * Traces through a real OpenTelemetry Collector (built from Go modules by the global setup: otlp receiver, debug
 * exporter): a SparkPi submitted over REST to a real API, run by a worker with TEMPORAL_OTEL_INTERCEPTORS on real
 * Temporal and local Spark, is one trace from the request through the workflow start, the workflow and its
 * activities. The worker's own log lines for that execution (captured from its pino logger) carry its execution
 * id, attempt and the trace id the Collector received; the API's and the worker's metrics reach the same Collector
 * over OTLP with their Prometheus names and labels. Then the replay check the setting exists for: recorded
 * histories, with and without the interceptors.
 */
import path from 'node:path';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTracing,
  tracingClientInterceptors,
  tracingWorkerPlugins,
  type Tracing,
} from '../../observability/telemetry.js';
import { findLocalSparks } from '../../gateway/backends/local/spark-install.js';
import { startWorker, WORKFLOWS_PATH, type RunningWorker } from '../../worker/index.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startCollector, type CollectedSpan, type TestCollector } from '../helpers/otel-collector.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const PI = path.resolve('examples/pi.py');

let collector: TestCollector;
let traced: TestStack;
let plain: TestStack;
let tracing: Tracing;
let api: TestApi;
let plainApi: TestApi;
let tracedId: string;
let plainId: string;
let tracedWorker: RunningWorker;
/** The traced worker's log lines, as pino wrote them (one JSON object a line). */
const workerLines: Record<string, unknown>[] = [];

async function submitPi(to: TestApi, name: string): Promise<string> {
  const res = await fetch(`${to.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${to.tokens.dataInfra}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name,
      engineVersion: '4.0',
      backend: 'local',
      application: { type: 'python', file: PI },
      args: ['2'],
    }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { execution_id: string }).execution_id;
}

async function succeeded(stack: TestStack, id: string): Promise<void> {
  await eventually(
    `execution ${id} to succeed`,
    async () => ((await stack.store.getExecution(id))?.state === 'SUCCEEDED' ? true : undefined),
    180_000,
  );
}

beforeAll(async () => {
  collector = await startCollector();
  traced = await openTestStack({
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.httpEndpoint,
    OTEL_METRIC_EXPORT_INTERVAL: '500',
    // Status reads every second while nothing changes, so the run's lines include a poll's.
    STATUS_POLL_INTERVAL_MS: '1000',
    TEMPORAL_OTEL_INTERCEPTORS: 'true',
  });
  // API and worker share this test process, and so its one tracer provider.
  tracing = startTracing(traced.config, 'dev')!;
  // The worker logs at debug into this array, as it would to stdout.
  const capture = { write: (line: string) => void workerLines.push(JSON.parse(line) as Record<string, unknown>) };
  tracedWorker = await startWorker({
    config: traced.config,
    spark: await findLocalSparks(traced.config),
    logger: pino({ level: 'debug' }, capture),
  });
  const client = new Client({
    connection: traced.client.connection,
    namespace: traced.config.TEMPORAL_NAMESPACE,
    interceptors: tracingClientInterceptors(tracing),
  });
  api = await startTestApi(traced, { client });
  // A second worker on a task queue of its own, with the interceptors off (the default).
  plain = await openTestStack({ OTEL_EXPORTER_OTLP_ENDPOINT: collector.httpEndpoint });
  await plain.startWorker();
  plainApi = await startTestApi(plain);
  [tracedId, plainId] = await Promise.all([submitPi(api, 'otel-pi'), submitPi(plainApi, 'otel-pi-plain')]);
  await Promise.all([succeeded(traced, tracedId), succeeded(plain, plainId)]);
  await tracing.flush();
}, 400_000);

afterAll(async () => {
  await api?.close();
  await plainApi?.close();
  await tracedWorker?.shutdown();
  await traced?.close();
  await plain?.close();
  await tracing?.shutdown();
  await collector?.stop();
});

describe('traces', () => {
  it('links the API request, the workflow start, the workflow and its activities under one trace id', async () => {
    const workflowRun = await collector.waitForSpan((s) => s.name === 'RunWorkflow:executionWorkflow', 30_000);
    const trace = async (pred: (s: CollectedSpan) => boolean) =>
      eventually(
        'the span',
        async () => {
          await tracing.flush();
          return collector.spans().find((s) => s.traceId === workflowRun.traceId && pred(s));
        },
        30_000,
      );
    const request = await trace((s) => s.name === 'POST /api/v1/jobs');
    expect(request.kind).toBe('Server');
    expect(request.parentId).toBe('');
    expect(request.attributes['http.response.status_code']).toBe(202);
    const start = await trace((s) => s.name === 'StartWorkflow:executionWorkflow');
    expect(start.parentId).toBe(request.spanId);
    const submit = await trace((s) => s.name === 'RunActivity:submitAttempt');
    const finalize = await trace((s) => s.name === 'RunActivity:finalize');
    const ids = new Set(
      collector
        .spans()
        .filter((s) => s.traceId === workflowRun.traceId)
        .map((s) => s.spanId),
    );
    for (const span of [workflowRun, submit, finalize]) expect(ids.has(span.parentId), span.name).toBe(true);
    expect(workflowRun.serviceName).toBe('spark-runner-dev');
  });

  it('traces no workflow or activity of the worker with TEMPORAL_OTEL_INTERCEPTORS off (the default)', async () => {
    await tracing.flush();
    const named = (name: string) => collector.spans().filter((s) => s.name === name);
    // Two executions ran, one per worker: only the traced one has workflow and submit spans.
    expect(named('RunWorkflow:executionWorkflow')).toHaveLength(1);
    expect(named('RunActivity:submitAttempt')).toHaveLength(1);
    // The plain API's client has no interceptor: its request span starts no workflow span.
    expect(named('StartWorkflow:executionWorkflow')).toHaveLength(1);
    expect(named('POST /api/v1/jobs')).toHaveLength(2);
  });
});

describe('log correlation', () => {
  it('gives every worker line of the execution its execution_id, attempt and the trace id the Collector received', async () => {
    // The activity spans name their workflow: this execution's submit span gives its trace id.
    const submitSpan = await collector.waitForSpan(
      (s) => s.name === 'RunActivity:submitAttempt' && s.attributes.temporalWorkflowId === `exec-${tracedId}`,
      30_000,
    );
    const traceId = submitSpan.traceId;
    const lines = workerLines.filter((l) => l.execution_id === tracedId);
    const messages = lines.map((l) => String(l.msg));
    // Submit, status checks, the end of the attempt and the end of the execution all logged, by their activity.
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^attempt submitted to local/),
        'attempt closed: log archived',
        'execution ended SUCCEEDED',
      ]),
    );
    expect(lines.some((l) => l.activity === 'pollStatus')).toBe(true);
    for (const line of lines) expect(line.trace_id, String(line.msg)).toBe(traceId);
    for (const line of lines.filter((l) => l.activity !== 'begin' && l.activity !== 'admit')) {
      expect(line.attempt, String(line.msg)).toBe(1);
    }
    // A line's span is the RunActivity span the Collector holds for that activity.
    const submitted = lines.find((l) => String(l.msg).startsWith('attempt submitted'))!;
    expect(submitted.span_id).toBe(submitSpan.spanId);
    // The other execution ran on the plain worker: none of its lines are here.
    expect(workerLines.some((l) => l.execution_id === plainId)).toBe(false);
  });
});

describe('metrics over OTLP', () => {
  const latest = (name: string, service: string) =>
    eventually(
      `${name} from ${service} at the Collector`,
      () =>
        Promise.resolve(
          collector
            .metrics()
            .filter((m) => m.name === name && m.serviceName === service)
            .at(-1),
        ),
      30_000,
    );

  it('delivers the worker lifecycle series with their labels: finished by state and failure class, time to RUNNING by backend and cluster', async () => {
    const finished = await eventually(
      'a finished count of 1 for local',
      async () => {
        const m = await latest('spark_runner_executions_finished_total', 'spark-runner-worker');
        const point = m.dataPoints.find(
          (p) => p.attributes.state === 'SUCCEEDED' && p.attributes.backend === 'local' && (p.value ?? 0) >= 1,
        );
        return point ? { m, point } : undefined;
      },
      30_000,
    );
    expect(finished.m).toMatchObject({ type: 'Sum', isMonotonic: true, temporality: 'Cumulative' });
    expect(finished.point.attributes).toEqual({ state: 'SUCCEEDED', failure_class: 'none', backend: 'local' });
    const ttr = await latest('spark_runner_time_to_running_seconds', 'spark-runner-worker');
    expect(ttr).toMatchObject({ type: 'Histogram', unit: 's' });
    const local = ttr.dataPoints.find((p) => p.attributes.backend === 'local' && (p.count ?? 0) >= 1)!;
    expect(Object.keys(local.attributes).sort()).toEqual(['backend', 'cluster']);
    expect(local.bucketCounts!.reduce((a, b) => a + b, 0)).toBe(local.count);
    expect(local.bucketCounts).toHaveLength(local.bounds!.length + 1);
  });

  it('delivers the API submit-latency histogram by outcome, and no series carries an execution_id or attempt', async () => {
    const submit = await eventually(
      'a created submit',
      async () => {
        const m = await latest('spark_runner_submit_seconds', 'spark-runner-api');
        return m.dataPoints.find((p) => p.attributes.outcome === 'created' && (p.count ?? 0) >= 1);
      },
      30_000,
    );
    expect(submit.sum).toBeGreaterThan(0);
    for (const m of collector.metrics()) {
      for (const p of m.dataPoints) {
        expect(Object.keys(p.attributes), m.name).not.toContain('execution_id');
        expect(Object.keys(p.attributes), m.name).not.toContain('attempt');
      }
    }
  });
});

describe('replay of recorded histories', () => {
  const history = (stack: TestStack, id: string) => stack.client.workflow.getHandle(`exec-${id}`).fetchHistory();
  const replay = async (h: Awaited<ReturnType<typeof history>>, withInterceptors: boolean) => {
    const plugins = tracingWorkerPlugins(tracing, { TEMPORAL_OTEL_INTERCEPTORS: withInterceptors });
    await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH, plugins }, h, `replay-${withInterceptors}`);
  };

  it('replays a history recorded with the interceptors, with them', async () => {
    await replay(await history(traced, tracedId), true);
  });
  it('replays a history recorded without the interceptors, without them', async () => {
    await replay(await history(plain, plainId), false);
  });
  it('replays a history recorded without the interceptors, with them (turning the setting on)', async () => {
    await replay(await history(plain, plainId), true);
  });
  it('replays a history recorded with the interceptors, without them (turning the setting off)', async () => {
    await replay(await history(traced, tracedId), false);
  });
});
