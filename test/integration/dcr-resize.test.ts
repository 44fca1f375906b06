/**
 * DCR by controlled restart, through the real API on real local Spark: a streaming job (a Structured Streaming
 * `rate` source to a JSON file sink, examples/streaming/rate_to_files.py) resized with
 * PATCH /api/v1/jobs/continuous-<team>.<name>/resources restarts once, from its checkpoint, with the new resources.
 * The sink proves nothing was lost or processed twice: the rate source numbers its rows 0, 1, 2, …, and the rows
 * the sink committed (the files its `_spark_metadata` log lists) are each of 0..max exactly once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import { stopLocalRuns } from '../../gateway/backends/local/index.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;
let work: string;

beforeAll(async () => {
  stack = await openTestStack({
    TEAM_RESOURCE_LIMITS: JSON.stringify({ 'data-infra': { driverMemory: '4g' } }),
  });
  await stack.startWorker();
  api = await startTestApi(stack);
  work = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'dcr-'));
}, 120_000);
afterAll(async () => {
  await api?.close();
  await stack?.close();
  if (stack) await stopLocalRuns(dataPaths(stack.config).runsDir, 1_000);
});

const ID = 'continuous-data-infra.dcr-stream';
const manifest = () => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: dcr-stream
  team: data-infra
spec:
  engineVersion: '3.5'
  jobType: streaming
  backend: local
  application: { type: python, file: ${path.resolve('examples/streaming/rate_to_files.py')} }
  args: ['${path.join(work, 'out')}', '${path.join(work, 'checkpoint')}', '20']
  resources:
    driver: { memory: 1g }
`;

async function call(method: string, route: string, body?: unknown, type = 'application/json') {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      Authorization: `Bearer ${api.tokens.dataInfra}`,
      ...(body !== undefined ? { 'Content-Type': type } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function committedBatches(): number[] {
  const dir = path.join(work, 'checkpoint', 'commits');
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => /^\d+$/.test(f))
        .map(Number)
    : [];
}

/** The `value` of every row in the files the file sink committed (its metadata log), in no particular order. */
function sinkValues(): number[] {
  const out = path.join(work, 'out');
  const meta = path.join(out, '_spark_metadata');
  const files = new Set<string>();
  for (const entry of fs.readdirSync(meta).filter((f) => /^\d+(\.compact)?$/.test(f))) {
    for (const line of fs.readFileSync(path.join(meta, entry), 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as { path: string; action: string };
      if (rec.action === 'add') files.add(rec.path.replace(/^file:/, ''));
    }
  }
  return [...files].flatMap((f) =>
    fs
      .readFileSync(f, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { value: number }).value),
  );
}

it('a streaming job resized by REST restarts once from its checkpoint with the new resources, losing and repeating no row', async () => {
  expect((await call('POST', '/api/v1/manifests', manifest(), 'application/yaml')).status).toBe(200);
  const first = await eventually(
    'the first run to commit two batches',
    async () => {
      const s = await call('GET', `/api/v1/jobs/${ID}`);
      return s.json.status === 'RUNNING' && committedBatches().length >= 2 ? s.json : undefined;
    },
    240_000,
  );
  const firstRun = first.current_execution_id as string;
  expect((await stack.store.getExecution(firstRun))!.resources.driver.memoryMb).toBe(1024);

  // Bad input changes nothing: over the team's cap, or a malformed size.
  const over = await call('PATCH', `/api/v1/jobs/${ID}/resources`, { driver: { memory: '8g' } });
  expect(over.status).toBe(422);
  expect(over.json.errors).toEqual([expect.objectContaining({ path: 'resources.driver.memory' })]);
  const bad = await call('PATCH', `/api/v1/jobs/${ID}/resources`, { driver: { memory: 'lots' } });
  expect(bad.status).toBe(422);
  expect((await call('GET', `/api/v1/jobs/${ID}`)).json).toMatchObject({
    spec_version: 1,
    current_execution_id: firstRun,
  });

  const resized = await call('PATCH', `/api/v1/jobs/${ID}/resources`, {
    driver: { memory: '1536m' },
    executor: { instances: 2 },
  });
  expect(resized.status, JSON.stringify(resized.json)).toBe(200);
  expect(resized.json).toMatchObject({ spec_version: 2 });
  const before = Math.max(...committedBatches());
  const second = await eventually(
    'the resized run to commit past the old batches',
    async () => {
      const s = await call('GET', `/api/v1/jobs/${ID}`);
      return s.json.running_spec_version === 2 && Math.max(...committedBatches()) >= before + 2 ? s.json : undefined;
    },
    240_000,
  );
  const secondRun = second.current_execution_id as string;
  expect(secondRun).not.toBe(firstRun);
  expect((await stack.store.getExecution(firstRun))!.state).toBe('CANCELLED');
  const row = (await stack.store.getExecution(secondRun))!;
  expect(row.resources.driver.memoryMb).toBe(1536);
  expect(row.resources.executor.instances).toBe(2);
  // Restarted exactly once: two runs in all, and no restart counted as a failure.
  expect(second).toMatchObject({ restart_count: 0 });
  expect((await stack.store.listExecutions({ jobPath: 'data-infra/dcr-stream', limit: 10 })).items).toHaveLength(2);
  // The job's recorded spec has the new resources (what GET /api/v1/jobs/{id} and a manifest diff compare with).
  expect((await stack.store.getJob('data-infra/dcr-stream'))!.spec.resources.driver.memoryMb).toBe(1536);

  // Stop, so the sink is final, then count its rows: each of 0..max exactly once.
  expect((await call('POST', `/api/v1/jobs/${ID}/stop`)).status).toBe(200);
  const values = sinkValues().sort((a, b) => a - b);
  expect(values.length).toBeGreaterThan(0);
  expect(new Set(values).size).toBe(values.length);
  expect(values[0]).toBe(0);
  expect(values.at(-1)).toBe(values.length - 1);
}, 600_000);
