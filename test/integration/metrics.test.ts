/**
 * Metrics from every process, scraped by a real Prometheus (Debian's, unpacked by the global setup): the API's
 * /metrics, the worker's listener (WORKER_METRICS_PORT) and the watcher's (WATCHER_PORT, over a real
 * kube-apiserver). Real executions on local Spark feed the lifecycle series; the README's SLO PromQL is evaluated
 * by Prometheus itself.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { startWatcher, type RunningWatcher } from '../../watcher/index.js';
import type { RunningWorker } from '../../worker/index.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startTestKube, type TestKube } from '../helpers/kube.js';
import { startPrometheus, type TestPrometheus } from '../helpers/prometheus.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const PI = path.resolve('examples/pi.py');
const JOB = `metrics-${Date.now().toString(36)}`;

/** The README's SLO queries ("Service level objectives"), over a 15 m window that spans this whole file's run. */
const SLO = {
  submitP99: 'histogram_quantile(0.99, sum by (le) (rate(spark_runner_submit_seconds_bucket{outcome="created"}[15m])))',
  timeToRunningP95:
    'histogram_quantile(0.95, sum by (le, backend) (rate(spark_runner_time_to_running_seconds_bucket[15m])))',
  successRate:
    'sum(increase(spark_runner_executions_finished_total{state="SUCCEEDED"}[15m])) / ' +
    'sum(increase(spark_runner_executions_finished_total{state=~"SUCCEEDED|FAILED",failure_class!="USER_ERROR"}[15m]))',
};

let stack: TestStack;
let worker: RunningWorker;
let api: TestApi;
let kube: TestKube;
let watcher: RunningWatcher;
let prometheus: TestPrometheus;
const hostPort = (url: string) => new URL(url).host;

async function submit(file: string, args: string[] = []): Promise<string> {
  const res = await fetch(`${api.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${api.tokens.dataInfra}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name: JOB,
      engineVersion: '4.0',
      backend: 'local',
      application: { type: 'python', file },
      args,
    }),
  });
  expect(res.status).toBe(202);
  return ((await res.json()) as { execution_id: string }).execution_id;
}

async function ended(id: string): Promise<string> {
  return eventually(
    `execution ${id} to end`,
    async () => {
      const state = (await stack.store.getExecution(id))?.state;
      return state === 'SUCCEEDED' || state === 'FAILED' ? state : undefined;
    },
    180_000,
  );
}

/** Polls a query until it returns samples that `accept` takes. */
async function until(promql: string, accept: (values: number[]) => boolean) {
  return eventually(
    `Prometheus: ${promql}`,
    async () => {
      const samples = await prometheus.query(promql);
      return samples.length && accept(samples.map((s) => s.value)) ? samples : undefined;
    },
    60_000,
  );
}

beforeAll(async () => {
  stack = await openTestStack({ WORKER_METRICS_PORT: '0' });
  worker = await stack.startWorker();
  api = await startTestApi(stack);
  kube = await startTestKube('metrics', ['sjns-data-infra']);
  const clusters = path.join(
    fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'metrics-')),
    'clusters.yaml',
  );
  fs.writeFileSync(
    clusters,
    YAML.stringify({
      clusters: [{ name: 'east', region: 'us-east', weight: 1, capacity: 10, kubeconfig: kube.kubeconfigPath }],
    }),
  );
  watcher = await startWatcher({
    config: loadConfig({
      ...stack.env,
      GATEWAY_CONFIG: clusters,
      GATEWAY_HEALTH_INTERVAL_MS: '200',
      WATCHER_HOST: '127.0.0.1',
      WATCHER_PORT: '0',
    }),
    logger: pino({ level: 'warn' }),
  });
  expect(worker.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  prometheus = await startPrometheus([hostPort(api.url), hostPort(worker.metricsUrl!), hostPort(watcher.url)], {
    scrapeIntervalMs: 500,
  });
  // Every target scraped once before anything happens, so rates see the change.
  await eventually(
    'all three targets up',
    async () => ((await prometheus.targets()).filter((t) => t.health === 'up').length === 3 ? true : undefined),
    60_000,
  );
  const failing = path.join(path.dirname(clusters), 'fails.py');
  fs.writeFileSync(failing, 'raise ValueError("metrics: a user error")\n');
  const [ok, bad] = await Promise.all([submit(PI, ['2']), submit(failing)]);
  expect(await ended(ok)).toBe('SUCCEEDED');
  expect(await ended(bad)).toBe('FAILED');
}, 400_000);

afterAll(async () => {
  await prometheus?.stop();
  await watcher?.stop();
  await kube?.stop();
  await api?.close();
  await stack?.close();
});

describe('metrics from every process, scraped by Prometheus', () => {
  it('scrapes the API, the worker and the watcher, each with its own process metrics', async () => {
    const up = await prometheus.query('up');
    expect(up.map((s) => `${s.metric.instance}=${s.value}`).sort()).toEqual(
      [api.url, worker.metricsUrl!, watcher.url].map((u) => `${hostPort(u)}=1`).sort(),
    );
    for (const role of ['api', 'worker', 'watcher']) {
      const samples = await prometheus.query(`spark_runner_${role}_process_resident_memory_bytes`);
      expect(samples.length, role).toBe(1);
    }
  });

  it('answers the submit-latency SLO query (p99 of POST /api/v1/jobs) with a value', async () => {
    const [p99] = await until(SLO.submitP99, (v) => v.every(Number.isFinite));
    expect(p99!.value).toBeGreaterThan(0);
    expect(p99!.value).toBeLessThanOrEqual(10);
  });

  it('records time to RUNNING per backend and cluster, and answers its p95 SLO query for the local backend', async () => {
    // SparkPi reached RUNNING; the failing script raised before starting a SparkContext, so it never did.
    const counts = await until('spark_runner_time_to_running_seconds_count', (v) => v.some((x) => x >= 1));
    const local = counts.find((s) => s.metric.backend === 'local')!;
    expect(local.metric.cluster).toMatch(/\S/);
    expect(Object.keys(local.metric).sort()).toEqual(['__name__', 'backend', 'cluster', 'instance', 'job']);
    const p95 = await until(SLO.timeToRunningP95, (v) => v.some(Number.isFinite));
    expect(p95.find((s) => s.metric.backend === 'local')?.value).toBeGreaterThan(0);
  });

  it('counts executions by final state and failure class, and the success rate excluding user errors is 1', async () => {
    const by = await eventually('both executions counted', async () => {
      const samples = await prometheus.query('spark_runner_executions_finished_total{backend="local"}>0');
      const counted = Object.fromEntries(samples.map((x) => [`${x.metric.state}/${x.metric.failure_class}`, x.value]));
      return Object.keys(counted).length >= 2 ? counted : undefined;
    });
    expect(by).toEqual({ 'SUCCEEDED/none': 1, 'FAILED/USER_ERROR': 1 });
    const [rate] = await until(SLO.successRate, (v) => v.every(Number.isFinite));
    expect(rate!.value).toBe(1);
  });

  it('times each activity in the worker, reports the watched cluster as available, and has no execution_id label', async () => {
    const activities = await until('sum by (activity) (spark_runner_activity_seconds_count)', (v) => v.length > 0);
    expect(activities.map((s) => s.metric.activity)).toEqual(expect.arrayContaining(['submitAttempt', 'finalize']));
    const [east] = await until('spark_runner_backend_available{cluster="east"}', (v) => v[0] === 1);
    expect(east!.metric.instance).toBe(hostPort(watcher.url));
    expect(await prometheus.query('{execution_id!=""}')).toEqual([]);
    expect(await prometheus.query('{__name__=~"spark_runner_.+",attempt!=""}')).toEqual([]);
  });

  it('serves in-flight executions from the API without counting ended ones', async () => {
    const states = await prometheus.query('spark_runner_executions');
    expect(states.map((s) => s.metric.state).sort()).toEqual(['PENDING', 'RUNNING', 'SUBMITTED']);
  });
});
