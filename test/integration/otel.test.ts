/**
 * Traces through a real OpenTelemetry Collector (built from Go modules by the global setup: otlp receiver, debug
 * exporter): a SparkPi submitted over REST to a real API, run by a worker with TEMPORAL_OTEL_INTERCEPTORS on real
 * Temporal and local Spark, is one trace from the request through the workflow start, the workflow and its
 * activities. Then the replay check the setting exists for: recorded histories, with and without the interceptors.
 */
import path from 'node:path';
import { Client } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  startTracing,
  tracingClientInterceptors,
  tracingWorkerPlugins,
  type Tracing,
} from '../../observability/telemetry.js';
import { WORKFLOWS_PATH } from '../../worker/index.js';
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
    TEMPORAL_OTEL_INTERCEPTORS: 'true',
  });
  // API and worker share this test process, and so its one tracer provider.
  tracing = startTracing(traced.config, 'dev')!;
  await traced.startWorker();
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
