/**
 * Streaming jobs from a manifest, through the real API: apply starts the continuous-job loop on real local Spark
 * (a Structured Streaming `rate` source to files, with a checkpoint), GET /api/v1/jobs/continuous-<team>.<name>
 * shows its state, a changed spec redeploys onto the same checkpoint, and delete stops it with no process left.
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
  stack = await openTestStack();
  await stack.startWorker();
  api = await startTestApi(stack);
  work = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'streaming-api-'));
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
  // A failed test can leave the streaming run going (it never ends by itself): stop every local run it started.
  if (stack) await stopLocalRuns(dataPaths(stack.config).runsDir, 1_000);
});

const manifest = (rowsPerSecond: number) => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: clicks-stream
  team: data-infra
spec:
  engineVersion: '4.0'
  jobType: streaming
  backend: local
  application: { type: python, file: ${path.resolve('examples/streaming/rate_to_files.py')} }
  args: ['${path.join(work, 'out')}', '${path.join(work, 'checkpoint')}', '${rowsPerSecond}']
`;

async function call(method: string, route: string, body?: string) {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      Authorization: `Bearer ${api.tokens.dataInfra}`,
      ...(body ? { 'Content-Type': 'application/yaml' } : {}),
    },
    body,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const committed = () => {
  const dir = path.join(work, 'checkpoint', 'commits');
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => /^\d+$/.test(f))
        .map(Number)
    : [];
};

function runPgid(executionId: string): number {
  const run = JSON.parse(
    fs.readFileSync(path.join(stack.config.SPARK_RUNNER_DATA, 'runs', executionId, '1', 'run.json'), 'utf8'),
  ) as { pgid?: number; pid: number };
  return run.pgid ?? run.pid;
}

it('applies a streaming manifest as a continuous loop, shows it on /jobs, redeploys a changed spec, and stops it on delete', async () => {
  const applied = await call('POST', '/api/v1/manifests', manifest(5));
  expect(applied.status).toBe(200);
  const id = 'continuous-data-infra.clicks-stream';

  const running = await eventually(
    'the streaming run to commit a batch',
    async () => {
      const s = await call('GET', `/api/v1/jobs/${id}`);
      return s.json.status === 'RUNNING' && committed().length > 0 ? s.json : undefined;
    },
    120_000,
  );
  expect(running).toMatchObject({
    job_type: 'streaming',
    job_path: 'data-infra/clicks-stream',
    spec_version: 1,
    degraded: false,
  });
  const first = running.current_execution_id as string;
  expect((await stack.store.getExecution(first))!.trigger).toBe('continuous');

  // Re-applying the same manifest changes nothing; a changed spec is a controlled redeploy on the same checkpoint.
  expect((await call('POST', '/api/v1/manifests', manifest(5))).json).toMatchObject({ changed: false });
  const before = Math.max(...committed());
  await call('POST', '/api/v1/manifests', manifest(10));
  const redeployed = await eventually(
    'the new spec to run and commit past the old batches',
    async () => {
      const s = await call('GET', `/api/v1/jobs/${id}`);
      return s.json.spec_version === 2 && s.json.current_execution_id !== first && Math.max(...committed()) > before + 1
        ? s.json
        : undefined;
    },
    120_000,
  );
  expect((await stack.store.getExecution(first))!.state).toBe('CANCELLED');
  expect(() => process.kill(-runPgid(first), 0)).toThrow();

  const second = redeployed.current_execution_id as string;
  // Delete has no dry run: asking for one is refused, and the job keeps running.
  const dryDelete = await fetch(`${api.url}/api/v1/manifests?dryRun=true`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${api.tokens.dataInfra}`, 'Content-Type': 'application/yaml' },
    body: manifest(10),
  });
  expect(dryDelete.status).toBe(400);
  expect(await dryDelete.json()).toMatchObject({
    errors: [{ path: 'query.dryRun', message: 'unknown field "dryRun"' }],
  });
  expect((await call('GET', `/api/v1/jobs/${id}`)).json).toMatchObject({ status: 'RUNNING', spec_version: 2 });
  expect((await stack.store.getExecution(second))!.state).toBe('RUNNING');
  const removed = await fetch(`${api.url}/api/v1/manifests`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${api.tokens.dataInfra}`, 'Content-Type': 'application/yaml' },
    body: manifest(10),
  });
  expect(removed.status).toBe(200);
  expect(await removed.json()).toMatchObject({
    jobs: [{ jobPath: 'data-infra/clicks-stream', continuousStopped: true }],
  });
  expect((await stack.store.getExecution(second))!.state).toBe('CANCELLED');
  expect(() => process.kill(-runPgid(second), 0)).toThrow();
  // The loop has ended: stop and resume say so instead of failing.
  for (const action of ['stop', 'resume']) {
    const r = await call('POST', `/api/v1/jobs/${id}/${action}`);
    expect(r.status, JSON.stringify(r.json)).toBe(409);
  }
  // Another team's token cannot see the job at all.
  const foreign = await fetch(`${api.url}/api/v1/jobs/${id}`, {
    headers: { Authorization: `Bearer ${api.tokens.other}` },
  });
  expect(foreign.status).toBe(404);
}, 600_000);
