/**
 * The platform series beyond the execution lifecycle, each moved by the real thing it counts: the wait behind a
 * team's concurrency limit (real Temporal and Postgres; the sim backend runs the jobs, as in team-limits.test.ts,
 * because only the queue is under test), Kubernetes API calls and a watch's re-lists against a real
 * kube-apiserver (after a 410, and after its connection is cut by a TCP proxy that plays the network), and Temporal Core's own metrics served by the worker's Runtime (TEMPORAL_CORE_METRICS_ADDRESS).
 */
import { CustomObjectsApi, KubeConfig, type CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createClusterClients,
  createThrottle,
  watchSparkApplications,
} from '../../gateway/backends/kubernetes/index.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { platformMetrics } from '../../observability/platform-metrics.js';
import { freePort } from '../../provision/process.js';
import { JobSpec } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import type { RunningWorker } from '../../worker/index.js';
import { startTestKube, type TestKube } from '../helpers/kube.js';
import { sample } from '../helpers/prometheus.js';
import { proxyKube } from '../helpers/tcp-proxy.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';

const TEAM = 'qwait-team';
const sim = createSimBackend();
let stack: TestStack;
let worker: RunningWorker;
let kube: TestKube;
let coreMetrics: string;

beforeAll(async () => {
  coreMetrics = `127.0.0.1:${await freePort()}`;
  stack = await openTestStack({
    TEAM_CONCURRENCY_LIMITS: `${TEAM}=1`,
    TEAM_QUEUE_POLL_MS: '200',
    WORKER_METRICS_PORT: '0',
    TEMPORAL_CORE_METRICS_ADDRESS: coreMetrics,
  });
  worker = await stack.startWorker({ sim });
  kube = await startTestKube('platform-metrics', ['sjns-pm']);
}, 120_000);

afterAll(async () => {
  await kube?.stop();
  await stack?.close();
});

const scrape = async (url: string) => (await fetch(`${url}/metrics`)).text();

async function counted(counter: { get(): Promise<{ values: { labels: object; value: number }[] }> }, labels: object) {
  const { values } = await counter.get();
  const match = values.find((v) =>
    Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x),
  );
  return match?.value ?? 0;
}

describe('queue wait behind team limits', () => {
  const spec = (name: string, runMs: number) =>
    JobSpec.parse({
      name,
      engineVersion: '4.0',
      backend: 'sim',
      application: { type: 'python', file: 'job.py' },
      sim: { attempts: [{ runningAfterMs: 50, endAfterMs: runMs }] },
    });
  const submit = async (name: string, runMs: number) =>
    (await submitExecution(stack, { team: TEAM, trigger: 'api', spec: spec(name, runMs) })).execution.executionId;

  it('observes each admitted execution once, the queued one with at least the time the slot holder kept it', async () => {
    const holder = await submit('holder', 1500);
    const queued = await submit('queued', 100);
    for (const id of [holder, queued])
      expect((await executionHandle(stack.client, id).result()).state).toBe('SUCCEEDED');
    const [h, q] = await Promise.all([holder, queued].map(async (id) => (await stack.store.getExecution(id))!));
    // The queued execution was admitted only after the holder ended.
    expect(q!.admittedAt!.getTime()).toBeGreaterThanOrEqual(h!.endTime!.getTime());
    const text = await scrape(worker.metricsUrl!);
    expect(sample(text, 'spark_runner_team_queue_wait_seconds_count', { team: TEAM })).toBe(2);
    const sum = sample(text, 'spark_runner_team_queue_wait_seconds_sum', { team: TEAM })!;
    const expected = [h!, q!].reduce((s, r) => s + (r.admittedAt!.getTime() - r.createdAt.getTime()) / 1000, 0);
    expect(sum).toBeCloseTo(expected, 3);
    expect(sum).toBeGreaterThanOrEqual((h!.endTime!.getTime() - q!.createdAt.getTime()) / 1000);
  });
});

describe('Kubernetes API calls and watch re-lists', () => {
  const kubeConfig = () => {
    const config = new KubeConfig();
    config.loadFromFile(kube.kubeconfigPath);
    return config;
  };

  it('counts typed API calls by cluster, verb and answer: 200, 201, 404 and 409, on the worker /metrics too', async () => {
    const clients = createClusterClients([{ name: 'pm', kubeConfig: kubeConfig() }], { retries: 0 });
    const core: CoreV1Api = clients.get('pm')!.core;
    const before = {
      get200: await counted(platformMetrics.kubernetesRequests, { cluster: 'pm', verb: 'GET', code: '200' }),
      get404: await counted(platformMetrics.kubernetesRequests, { cluster: 'pm', verb: 'GET', code: '404' }),
      post201: await counted(platformMetrics.kubernetesRequests, { cluster: 'pm', verb: 'POST', code: '201' }),
      post409: await counted(platformMetrics.kubernetesRequests, { cluster: 'pm', verb: 'POST', code: '409' }),
    };
    await core.readNamespace({ name: 'sjns-pm' });
    await core.readNamespace({ name: 'sjns-pm' });
    await expect(core.readNamespace({ name: 'no-such-namespace' })).rejects.toMatchObject({ code: 404 });
    await core.createNamespace({ body: { metadata: { name: 'pm-created' } } });
    await expect(core.createNamespace({ body: { metadata: { name: 'pm-created' } } })).rejects.toMatchObject({
      code: 409,
    });
    const after = async (verb: string, code: string) =>
      counted(platformMetrics.kubernetesRequests, { cluster: 'pm', verb, code });
    expect(await after('GET', '200')).toBe(before.get200 + 2);
    expect(await after('GET', '404')).toBe(before.get404 + 1);
    expect(await after('POST', '201')).toBe(before.post201 + 1);
    expect(await after('POST', '409')).toBe(before.post409 + 1);
    const text = await scrape(worker.metricsUrl!);
    expect(sample(text, 'spark_runner_kubernetes_requests_total', { cluster: 'pm', verb: 'POST', code: '409' })).toBe(
      before.post409 + 1,
    );
  });

  it('counts a watch that starts from a compacted resourceVersion as one re-list for 410 Gone', async () => {
    const config = kubeConfig();
    const before = await counted(platformMetrics.watchRelists, { cluster: 'pm-watch', reason: 'gone' });
    const controller = new AbortController();
    let opened = 0;
    const relists: string[] = [];
    for await (const event of watchSparkApplications(
      {
        cluster: 'pm-watch',
        kubeConfig: config,
        api: config.makeApiClient(CustomObjectsApi),
        throttle: createThrottle({ qps: 100, burst: 100 }),
        startResourceVersion: '1',
        backoffMs: { min: 50, max: 200 },
        onRelist: (reason) => relists.push(reason),
        // Open once from version 1 (answered 410), then again after the re-list: stop there.
        onHealth: (healthy) => {
          if (healthy && ++opened === 2) controller.abort();
        },
      },
      controller.signal,
    )) {
      void event;
    }
    expect(relists).toEqual(['gone']);
    expect(await counted(platformMetrics.watchRelists, { cluster: 'pm-watch', reason: 'gone' })).toBe(before + 1);
    expect(await counted(platformMetrics.watchRelists, { cluster: 'pm-watch', reason: 'error' })).toBe(0);
    expect(sample(await scrape(worker.metricsUrl!), 'spark_runner_watch_relists_total', { cluster: 'pm-watch' })).toBe(
      before + 1,
    );
  });
});

describe('a watch cut off by the network', () => {
  it('counts a watch whose connection is cut as one re-list for error, then lists and watches again', async () => {
    // The network between the watch and the real kube-apiserver: a TCP proxy that resets every connection.
    const { proxy, kubeconfigPath } = await proxyKube(kube);
    const config = new KubeConfig();
    config.loadFromFile(kubeconfigPath);
    const labels = { cluster: 'pm-cut' };
    const before = await counted(platformMetrics.watchRelists, { ...labels, reason: 'error' });
    const controller = new AbortController();
    const health: boolean[] = [];
    const relists: string[] = [];
    try {
      for await (const event of watchSparkApplications(
        {
          ...labels,
          kubeConfig: config,
          api: config.makeApiClient(CustomObjectsApi),
          throttle: createThrottle({ qps: 100, burst: 100 }),
          backoffMs: { min: 50, max: 200 },
          onRelist: (reason) => relists.push(reason),
          onHealth: (healthy) => {
            health.push(healthy);
            // Listed and watching: half a second on, the network goes; it is back once the watch has seen it go
            // (the watch, or its request if it has not connected yet, fails either way).
            if (healthy && health.length === 1) setTimeout(() => proxy.cut(), 500);
            if (!healthy) proxy.restore();
            if (healthy && health.length === 3) controller.abort();
          },
        },
        controller.signal,
      )) {
        void event;
      }
    } finally {
      await proxy.close();
    }
    // Listed at the start, watched, cut: reported unhealthy, re-listed for the error, healthy again.
    expect(relists).toEqual(['start', 'error']);
    expect(health).toEqual([true, false, true]);
    expect(await counted(platformMetrics.watchRelists, { ...labels, reason: 'error' })).toBe(before + 1);
    expect(await counted(platformMetrics.watchRelists, { ...labels, reason: 'gone' })).toBe(0);
    expect(
      sample(await scrape(worker.metricsUrl!), 'spark_runner_watch_relists_total', { ...labels, reason: 'error' }),
    ).toBe(before + 1);
  });
});

describe("Temporal's own metrics", () => {
  it("serves Temporal Core's metrics for this worker's task queue at TEMPORAL_CORE_METRICS_ADDRESS", async () => {
    // The queue-wait test ran two workflows to completion on this task queue.
    const text = await scrape(`http://${coreMetrics}`);
    const queue = stack.config.TEMPORAL_TASK_QUEUE;
    const completed = sample(text, 'temporal_workflow_completed_total', { task_queue: queue });
    expect(
      completed,
      text
        .split('\n')
        .filter((l) => l.startsWith('temporal_workflow'))
        .join('\n'),
    ).toBeGreaterThanOrEqual(2);
    const activities = text.split('\n').filter((l) => l.startsWith('temporal_activity_execution_latency'));
    expect(
      sample(text, 'temporal_activity_execution_latency_count', { task_queue: queue }),
      activities.join('\n'),
    ).toBeGreaterThan(0);
  });
});
