/**
 * APS on real local Spark, real Temporal and real Postgres, through the REST API: a job that runs out of JVM heap
 * at its requested driver memory succeeds after AR raises it; in `sizing: auto` its next run starts at the size
 * that worked (or more, by APS's headroom rule) and succeeds on its first attempt; in `manual` it starts at the
 * requested size. Team caps (TEAM_RESOURCE_LIMITS) reject an oversized submit with a 422 naming the field.
 *
 * The OOM is real: the job collects ~150 MiB of rows into a 512 MiB driver JVM, which throws
 * java.lang.OutOfMemoryError: Java heap space (768 MiB, AR's 1.5× raise, is enough).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import type { RunningHistoryServer } from '../../provision/history-server.js';
import { freePort } from '../../provision/process.js';
import { matchedRule } from '../../runner/classify.js';
import { executionHandle } from '../../service/handles.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startTestHistoryServer } from '../helpers/history-server.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const COLLECT_JOB = `
import sys
from pyspark.sql import SparkSession

mb = int(sys.argv[1])
spark = SparkSession.builder.appName("collect-to-driver").getOrCreate()
rows = mb * 1024 * 1024 // 512
df = spark.range(0, rows, numPartitions=4).selectExpr(
    "concat(sha2(cast(id as string), 512), sha2(cast(id * 7 as string), 512), "
    "sha2(cast(id * 13 as string), 512), sha2(cast(id * 31 as string), 512)) as s"
)
got = df.collect()
print(f"collected {len(got)} rows of ~{mb} MiB", flush=True)
spark.stop()
`;

let stack: TestStack;
let api: TestApi;
let history: RunningHistoryServer;
let jobFile: string;

beforeAll(async () => {
  // A real History Server, so each run's METRICS_SUMMARY carries the Spark metrics APS reads (peak JVM heap).
  const port = await freePort();
  stack = await openTestStack({
    HISTORY_SERVER_URL: `http://localhost:${port}`,
    TEAM_RESOURCE_LIMITS: JSON.stringify({ default: { driverMemory: '4g' }, 'data-infra': { executorMemory: '2g' } }),
    AR_OOM_MEMORY_FACTOR: '1.5',
  });
  history = await startTestHistoryServer(dataPaths(stack.config).eventLogDir, port);
  await stack.startWorker();
  api = await startTestApi(stack);
  jobFile = path.join(stack.config.SPARK_RUNNER_DATA, 'collect_to_driver.py');
  fs.writeFileSync(jobFile, COLLECT_JOB);
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.close();
  await history?.stop();
});

const headers = () => ({ Authorization: `Bearer ${api.tokens.dataInfra}`, 'Content-Type': 'application/json' });

function body(sizing: 'manual' | 'auto', extra: Record<string, unknown> = {}) {
  return {
    name: 'collect-oom',
    engineVersion: '3.5',
    backend: 'local',
    sizing,
    application: { type: 'python', file: jobFile },
    args: ['150'],
    resources: { driver: { memory: '512m' }, executor: { memory: '512m' } },
    retryPolicy: { maxAttempts: 3, backoffSeconds: 1 },
    ...extra,
  };
}

async function post(payload: unknown, query = ''): Promise<Response> {
  return fetch(`${api.url}/api/v1/jobs${query}`, { method: 'POST', headers: headers(), body: JSON.stringify(payload) });
}

async function submit(payload: unknown): Promise<string> {
  const res = await post(payload);
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { execution_id: string }).execution_id;
}

async function events(id: string) {
  return (await stack.store.listEvents(id)).map((e) => ({ type: e.eventType, attempt: e.attempt, payload: e.payload }));
}

type SubmitPayload = {
  resources: { driver: { memoryMb: number } };
  sizing?: { mode: string; applied: boolean; changes: string[]; resources: { driver: { memoryMb: number } } };
};

describe('team resource caps', () => {
  it('rejects a submit over the team cap with a 422 naming the field, and creates nothing', async () => {
    const res = await post({ ...body('manual'), name: 'too-big', resources: { executor: { memory: '3g' } } });
    expect(res.status).toBe(422);
    const problem = (await res.json()) as { detail: string; errors: { path: string }[] };
    expect(problem.errors[0]!.path).toBe('resources.executor.memory');
    expect(problem.detail).toMatch(/3072 exceeds the team's limit of 2048 MiB of executor memory/);
    const driver = await post({ ...body('manual'), name: 'too-big', resources: { driver: { memory: '8g' } } });
    expect(driver.status).toBe(422);
    expect(((await driver.json()) as { errors: { path: string }[] }).errors[0]!.path).toBe('resources.driver.memory');
    const { items } = await stack.store.listExecutions({ jobPath: 'data-infra/too-big', limit: 10 });
    expect(items).toEqual([]);
  });
});

describe('remembered OOM remediation on real local Spark', () => {
  let firstDriverMb = 0;

  it(
    'a job whose driver JVM runs out of heap (classifier row 2, OOM) succeeds after AR raises its memory to 768 MiB',
    async () => {
      const id = await submit(body('auto'));
      const result = await executionHandle(stack.client, id).result();
      expect(result.state, `${result.failureClass}: ${result.failureMessage}`).toBe('SUCCEEDED');
      expect(result.attempts).toBe(2);

      const evs = await events(id);
      const retry = evs.find((e) => e.type === 'RETRY')!;
      expect(retry.payload).toMatchObject({ failureClass: 'OOM', change: 'driver memory 512 MiB → 768 MiB' });
      // The first attempt's real driver log: the JVM's own error, and the classifier row that matched it.
      const log = await (await fetch(`${api.url}/api/v1/jobs/${id}/logs?attempt=1`, { headers: headers() })).text();
      expect(log).toContain('java.lang.OutOfMemoryError: Java heap space');
      // The local backend hands AR the last 50 lines with the JVM's OOM line in front (status.ts); the same text
      // matches row 2 of the classifier's table.
      const oomLine = /^.*java\.lang\.OutOfMemoryError.*$/m.exec(log)![0];
      const tail = `${oomLine}\n${log.trimEnd().split('\n').slice(-50).join('\n')}`;
      expect(matchedRule({ exitCode: 1, logTail: tail })).toEqual({ row: 2, failureClass: 'OOM' });

      const submits = evs.filter((e) => e.type === 'SUBMIT').map((e) => e.payload as SubmitPayload);
      expect(submits.map((s) => s.resources.driver.memoryMb)).toEqual([512, 768]);
      // No history yet: APS applies the request unchanged.
      expect(submits[0]!.sizing).toMatchObject({ mode: 'auto', applied: true, changes: [] });
      firstDriverMb = 768;
    },
    12 * 60_000,
  );

  it(
    'in auto, the next run starts at the raised memory and succeeds on its first attempt',
    async () => {
      expect(firstDriverMb).toBe(768);
      // The recommendation, and the dry-run, say so before the submit.
      const rec = (await (
        await fetch(`${api.url}/api/v1/jobs/data-infra.collect-oom/recommendation`, { headers: headers() })
      ).json()) as {
        driver_memory_mb: { value: number; requested: number; reason: string };
        confidence: number;
        measured: number;
      };
      expect(rec.driver_memory_mb.requested).toBe(512);
      expect(rec.driver_memory_mb.value).toBeGreaterThanOrEqual(768);
      // One measured success (the remediated run's METRICS_SUMMARY): confidence = min(1, 1 / 10).
      expect(rec.measured).toBe(1);
      expect(rec.confidence).toBe(0.1);
      const dry = (await (await post(body('auto'), '?dryRun=true')).json()) as {
        sizing: { applied: boolean; changes: string[] };
        spec: { resources: { driver: { memoryMb: number } } };
      };
      expect(dry.sizing.applied).toBe(true);
      expect(dry.spec.resources.driver.memoryMb).toBe(rec.driver_memory_mb.value);
      expect(dry.sizing.changes[0]).toMatch(/^driver memory 512 MiB → \d+ MiB \(/);

      const id = await submit(body('auto'));
      const result = await executionHandle(stack.client, id).result();
      expect(result.state).toBe('SUCCEEDED');
      expect(result.attempts).toBe(1);
      const submitEvent = (await events(id)).find((e) => e.type === 'SUBMIT')!.payload as SubmitPayload;
      expect(submitEvent.resources.driver.memoryMb).toBe(rec.driver_memory_mb.value);
      expect(submitEvent.sizing).toMatchObject({ mode: 'auto', applied: true });
      expect(submitEvent.sizing!.changes.join('\n')).toContain(rec.driver_memory_mb.reason);
    },
    8 * 60_000,
  );

  it(
    'in manual, the same job starts at its requested 512 MiB and its SUBMIT event carries no sizing',
    async () => {
      const id = await submit(body('manual'));
      const first = await eventually(
        'the first SUBMIT',
        async () => (await events(id)).find((e) => e.type === 'SUBMIT')?.payload as SubmitPayload | undefined,
        120_000,
      );
      expect(first.resources.driver.memoryMb).toBe(512);
      expect(first.sizing).toBeUndefined();
      const cancel = await fetch(`${api.url}/api/v1/jobs/${id}`, { method: 'DELETE', headers: headers() });
      expect([202, 409]).toContain(cancel.status);
      await executionHandle(stack.client, id).result();
    },
    4 * 60_000,
  );
});
