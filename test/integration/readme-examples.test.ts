/**
 * The README's CoreETL and manifest examples, run as written: `spark-runner` as a child process and the README's
 * REST example with bash and curl, against a real API, worker, Postgres and local Spark (3.5 and 4.0) with the
 * real Iceberg runtime. The reference's example manifest is applied from examples/manifests/ unchanged.
 *
 * This file has a Temporal dev server of its own: the manifests name fixed schedules and loops
 * (`sched-data-infra.example-data-transform`, `continuous-data-infra.order-events-stream`) that other test
 * files, sharing the run's server, apply too.
 */
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXAMPLE_EVENTS_SQL } from '../../cli/commands/catalog.js';
import { dataPaths } from '../../config/index.js';
import { stopLocalRuns } from '../../gateway/backends/local/index.js';
import { freePort, type ManagedProcess } from '../../provision/process.js';
import { startTemporalDevServer } from '../../provision/temporal.js';
import type { ExecutionRow } from '../../store/executions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { icebergTable } from '../helpers/iceberg.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const TOKEN = 'dev-admin-token';
const REFERENCE_MANIFEST = 'examples/manifests/example-data-transform.yaml';
const HOURLY_AND_STREAMING = 'examples/manifests/hourly-and-streaming.yaml';

let temporal: ManagedProcess;
let stack: TestStack;
let api: TestApi;
let warehouse: string;

beforeAll(async () => {
  const port = await freePort();
  temporal = await startTemporalDevServer({ cli: process.env.TEMPORAL_CLI!, port, namespace: 'default', onLine: null });
  stack = await openTestStack({ TEMPORAL_ADDRESS: `127.0.0.1:${port}` });
  warehouse = dataPaths(stack.config).icebergWarehouse;
  await stack.startWorker();
  api = await startTestApi(stack, { adminTokens: [TOKEN] });
});
afterAll(async () => {
  for (const file of [REFERENCE_MANIFEST, HOURLY_AND_STREAMING]) if (api) await cli(['delete', '-f', file]);
  await api?.close();
  await stack?.close();
  // The streaming run is stopped by the delete above; this makes sure no Spark of this file outlives it.
  if (stack) await stopLocalRuns(dataPaths(stack.config).runsDir);
  await temporal?.stop();
});

/** `node bin/spark-runner.js …` from the repository root, as the README's commands are run. */
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, SPARK_RUNNER_URL: api.url, SPARK_RUNNER_TOKEN: TOKEN };
  env.XDG_CONFIG_HOME = path.join(stack.config.SPARK_RUNNER_DATA, 'no-config');
  delete env.SPARK_RUNNER_CONFIG;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin/spark-runner.js'), ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

async function finished(id: string): Promise<ExecutionRow> {
  return eventually(
    `execution ${id} to finish`,
    async () => {
      const row = await stack.store.getExecution(id);
      return row && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(row.state) ? row : undefined;
    },
    240_000,
  );
}

/** The newest execution of a job started after `since`. */
async function nextExecutionOf(jobPath: string, since: Date): Promise<ExecutionRow> {
  return eventually(`an execution of ${jobPath}`, async () => {
    const { items } = await stack.store.listExecutions({ jobPath, since, limit: 1 });
    return items[0];
  });
}

async function coreEtlResult(id: string) {
  const summary = (await stack.store.listEvents(id)).find((e) => e.eventType === 'METRICS_SUMMARY');
  return summary?.payload.core_etl as {
    sparkVersion: string;
    sources: { name: string; rowsRead: number }[];
    sinks: { name: string; rowsWritten: number; created: boolean }[];
  };
}

async function driverLog(id: string): Promise<string> {
  const res = await fetch(`${api.url}/api/v1/jobs/${id}/logs`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  return res.text();
}

it('seeds raw.events with `catalog seed --example`: 100 rows, 40 of them order; seeding again changes nothing', async () => {
  const first = await cli(['catalog', 'seed', '--example']);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stdout).toContain('pedregal.raw.events: 100 row(s) written (table created)');
  expect(icebergTable(warehouse, 'raw', 'events')).toMatchObject({ rows: 100, snapshots: 1 });
  expect(EXAMPLE_EVENTS_SQL).toMatch(/WHEN 0 THEN 'order' WHEN 1 THEN 'order'/); // ids ≡ 0, 1 (mod 5) of 1..100

  const again = await cli(['catalog', 'seed', '--example']);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stdout).toContain('pedregal.raw.events already holds the sample rows: nothing changed');
  expect(icebergTable(warehouse, 'raw', 'events')).toMatchObject({ rows: 100, snapshots: 1 });
});

it("applies the reference's example manifest as written; a run from its schedule writes the 40 order rows on Spark 3.5", async () => {
  const applied = await cli(['apply', '-f', REFERENCE_MANIFEST]);
  expect(applied.code, applied.stderr).toBe(0);
  const since = new Date();
  const triggered = await cli(['schedules', 'trigger', 'sched-data-infra.example-data-transform']);
  expect(triggered.code, triggered.stderr).toBe(0);
  const run = await finished((await nextExecutionOf('data-infra/example-data-transform', since)).executionId);
  const log = await driverLog(run.executionId);
  expect(run, log.slice(-3000)).toMatchObject({ state: 'SUCCEEDED', trigger: 'schedule', attempt: 1 });

  // Spark 3.5, as the manifest asks: on the execution, in the SUBMIT event and in the driver log.
  expect(run.sparkVersion).toMatch(/^3\.5\.\d+$/);
  const submit = (await stack.store.listEvents(run.executionId)).find((e) => e.eventType === 'SUBMIT')!;
  expect(submit.payload).toMatchObject({ sparkVersion: run.sparkVersion, coreEtl: { runtime: 'builtin' } });
  expect(log).toContain(`Running Spark version ${run.sparkVersion}`);

  expect(await coreEtlResult(run.executionId)).toMatchObject({
    sparkVersion: run.sparkVersion,
    sources: [{ name: 'pedregal.raw.events', rowsRead: 100 }],
    sinks: [{ name: 'pedregal.derived.processed_events', rowsWritten: 40, created: true }],
  });
  expect(icebergTable(warehouse, 'derived', 'processed_events')).toMatchObject({ rows: 40 });
});

/** The README's REST example: the curl in "The REST API" that submits the reference body. */
function readmeRestExample(): string {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The REST API'), readme.indexOf('## Manifests and schedules'));
  const block = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!).find((b) => b.includes('core_etl'));
  if (!block) throw new Error('no REST example with core_etl in the README');
  return block;
}

it("runs the README's REST example, the reference body with the manifest's job spec, then the table holds only orders", async () => {
  const before = icebergTable(warehouse, 'derived', 'processed_events')?.rows ?? 0;
  const script = `export TOKEN=${TOKEN}\n${readmeRestExample().replaceAll('localhost:8080', api.url.replace('http://', ''))}`;
  const { stdout } = await promisify(execFile)('bash', ['-c', script], { encoding: 'utf8' });
  const accepted = JSON.parse(stdout) as { execution_id: string; job_path: string; status: string };
  expect(accepted).toMatchObject({ job_path: 'data-infra/my-etl-job', status: 'PENDING' });
  const run = await finished(accepted.execution_id);
  expect(run.state, (await driverLog(run.executionId)).slice(-3000)).toBe('SUCCEEDED');
  expect(run.sparkVersion).toMatch(/^3\.5\./);
  expect((await coreEtlResult(run.executionId)).sinks[0]).toMatchObject({ rowsWritten: 40, created: before === 0 });
  expect(icebergTable(warehouse, 'derived', 'processed_events')).toMatchObject({ rows: before + 40 });

  // What the table holds, read back by Spark: nothing but orders.
  const res = await fetch(`${api.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      team: 'data-infra',
      name: `check-processed-${crypto.randomUUID().slice(0, 6)}`,
      engineVersion: '4.0',
      backend: 'local',
      application: {
        type: 'coreEtl',
        jarPath: 'unused.jar',
        mainClass: 'Unused',
        jobSpec: {
          sources: [{ type: 'iceberg', catalog: 'pedregal', database: 'derived', table: 'processed_events' }],
          transformations: [
            { type: 'sql', query: "SELECT count(*) AS total, count_if(event_type = 'order') AS orders FROM source" },
          ],
          sinks: [{ type: 'console' }],
        },
      },
    }),
  });
  const check = await finished(((await res.json()) as { execution_id: string }).execution_id);
  expect(check.state).toBe('SUCCEEDED');
  expect(await driverLog(check.executionId)).toMatch(new RegExp(`\\|${before + 40}\\s*\\|${before + 40}\\s*\\|`));
});

it('runs both jobs of hourly-and-streaming.yaml: SparkPi on Spark 3.5 from its schedule, and a streaming job that stays up', async () => {
  const applied = await cli(['apply', '-f', HOURLY_AND_STREAMING]);
  expect(applied.code, applied.stderr).toBe(0);
  const since = new Date();
  expect((await cli(['schedules', 'trigger', 'sched-data-infra.hourly-pi'])).code).toBe(0);
  const pi = await finished((await nextExecutionOf('data-infra/hourly-pi', since)).executionId);
  const piLog = await driverLog(pi.executionId);
  expect(pi, piLog.slice(-3000)).toMatchObject({ state: 'SUCCEEDED', trigger: 'schedule' });
  expect(pi.sparkVersion).toMatch(/^3\.5\./);
  expect(piLog).toMatch(/Pi is roughly 3\.1/);

  const stream = await eventually(
    'the streaming job to run its query',
    async () => {
      const res = await fetch(`${api.url}/api/v1/jobs/continuous-data-infra.order-events-stream`, {
        headers: { Authorization: `Bearer ${TOKEN}` },
      });
      const loop = (await res.json()) as { status: string; current_execution_id: string | null; restart_count: number };
      if (loop.status !== 'RUNNING' || !loop.current_execution_id) return undefined;
      const log = await driverLog(loop.current_execution_id);
      return /streaming query \S+ started/.test(log) ? loop : undefined;
    },
    180_000,
  );
  expect(stream.restart_count).toBe(0);
  expect((await stack.store.getExecution(stream.current_execution_id!))?.state).toBe('RUNNING');
});
