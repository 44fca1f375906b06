/**
 * After the run (issue 15), against real local Spark, a real Spark History Server (from the pip pyspark, started
 * by provision/history-server.ts on the file's event-log directory), real Temporal and Postgres, through the API
 * and the CLI: the History Server page that replaces the live UI, the real metrics in METRICS_SUMMARY, spill, and a
 * 200,000-line log that outlives its driver and its run directory. Four Spark runs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import type { ShsStage } from '../../observability/history-server.js';
import { freePort } from '../../provision/process.js';
import type { RunningHistoryServer } from '../../provision/history-server.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import type { MetricsSummaryV1 } from '../../schema/metrics-summary.js';
import { retentionScheduleId } from '../../schema/vocabulary.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startTestHistoryServer } from '../helpers/history-server.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PI = path.join(ROOT, 'examples/pi.py');
const BIN = path.join(ROOT, 'bin/spark-runner.js');
const LINES = 200_000;

let stack: TestStack;
let api: TestApi;
let history: RunningHistoryServer;
let scratch: string;

beforeAll(async () => {
  const port = await freePort();
  // The sweep may take a finished run's directory at once: its log is archived when the attempt ends.
  stack = await openTestStack({ HISTORY_SERVER_URL: `http://localhost:${port}`, LOCAL_RUN_RETENTION_HOURS: '0' });
  history = await startTestHistoryServer(dataPaths(stack.config).eventLogDir, port);
  await stack.startWorker();
  api = await startTestApi(stack);
  scratch = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'after-the-run-'));
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
  await history?.stop();
});

function script(name: string, text: string): string {
  const file = path.join(scratch, name);
  fs.writeFileSync(file, text);
  return file;
}

async function run(input: Partial<JobSpecInput> & { name: string }) {
  const spec = JobSpec.parse({
    engineVersion: '4.0',
    application: { type: 'python', file: PI },
    backend: 'local',
    resources: { driver: { memory: '512m' } },
    ...input,
  });
  const { execution } = await submitExecution(stack, { team: 'data-infra', trigger: 'api', spec });
  return { id: execution.executionId, handle: executionHandle(stack.client, execution.executionId) };
}

type Json = Record<string, unknown>;

async function get(url: string, token: string | undefined = api.tokens.dataInfra): Promise<Response> {
  return fetch(url, token ? { headers: { Authorization: `Bearer ${token}` } } : {});
}

async function execution(id: string): Promise<Json> {
  return (await (await get(`${api.url}/api/v1/jobs/${id}`)).json()) as Json;
}

async function metricsSummary(id: string): Promise<MetricsSummaryV1> {
  const events = (await stack.store.listEvents(id)).filter((e) => e.eventType === 'METRICS_SUMMARY');
  expect(events).toHaveLength(1);
  return events[0]!.payload as unknown as MetricsSummaryV1;
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(scratch, 'no-config'),
    SPARK_RUNNER_URL: api.url,
    SPARK_RUNNER_TOKEN: api.tokens.dataInfra,
  };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr });
    });
  });
}

function driverExited(id: string): boolean {
  return fs.existsSync(path.join(dataPaths(stack.config).runsDir, id, '1', 'exit-code'));
}

describe('SparkPi after its driver has exited', () => {
  let pi: { id: string; appId: string; uiUrl: string };

  beforeAll(async () => {
    const { id, handle } = await run({ name: 'pi-history', args: ['4'] });
    expect((await handle.result()).state).toBe('SUCCEEDED');
    const view = await execution(id);
    pi = { id, appId: view.spark_app_id as string, uiUrl: view.spark_ui_url as string };
  });

  it('links the History Server page of its application as spark_ui_url, which answers 200 with no token', async () => {
    expect(pi.appId).toMatch(/^local-\d+$/);
    expect(pi.uiUrl).toBe(`${history.url}/history/${pi.appId}/`);
    expect(driverExited(pi.id)).toBe(true);
    // A few seconds after SUCCEEDED, as a person clicking the link would.
    await sleep(3000);
    const page = await get(pi.uiUrl, undefined);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(pi.appId);
    const view = await execution(pi.id);
    expect(view.vendor_webui).toBe(pi.uiUrl);
    expect(view.logs_url).toBe(`http://localhost:${stack.config.API_PORT}/api/v1/jobs/${pi.id}/logs`);
    expect(view.vendor_logs_link).toBe(`${view.logs_url as string}?attempt=1`);
  });

  it("carries in METRICS_SUMMARY non-zero task counts and durations that match the History Server's REST API", async () => {
    const summary = await metricsSummary(pi.id);
    const shs = `${history.url}/api/v1/applications/${pi.appId}`;
    const app = (await (await get(shs, undefined)).json()) as { attempts: { duration: number }[] };
    const stages = (await (await get(`${shs}/stages`, undefined)).json()) as ShsStage[];
    const tasks = stages.reduce((n, s) => n + s.numCompleteTasks + s.numFailedTasks + s.numKilledTasks, 0);
    expect(summary).toMatchObject({ schema_version: 1, attempts: 1, backend: 'local', spark_unavailable: null });
    expect(summary.spark).toMatchObject({
      app_id: pi.appId,
      attempt: 1,
      duration_ms: app.attempts[0]!.duration,
      task_count: tasks,
      failed_task_count: 0,
      stage_count: stages.length,
      executor_count: 1,
      executor_run_time_ms: stages.reduce((n, s) => n + s.executorRunTime, 0),
    });
    expect(summary.spark!.task_count).toBe(4);
    expect(summary.spark!.duration_ms).toBeGreaterThan(0);
    expect(summary.spark!.total_executor_memory_bytes).toBeGreaterThan(0);
    expect(summary.spark_attempts).toEqual([summary.spark]);

    expect((await execution(pi.id)).metrics).toEqual(summary.spark);
    const status = await cli(['status', pi.id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/tasks\s+4 in \d+ stages \(0 failed, 0 killed\)/);
    expect(status.stdout).toMatch(new RegExp(`spark ui\\s+${pi.uiUrl}\n`));
  });
});

describe('a large sort in a small memory', () => {
  it('shows spill bytes above zero in METRICS_SUMMARY', async () => {
    const sort = script(
      'sort.py',
      `import sys
from pyspark.sql import SparkSession, functions as F
spark = SparkSession.builder.getOrCreate()
df = spark.range(0, 1_000_000, numPartitions=2).select(
    (F.rand(7) * 1e9).cast("long").alias("k"), F.sha2(F.col("id").cast("string"), 256).alias("v"))
df.orderBy("k", "v").write.mode("overwrite").parquet(sys.argv[1])
spark.stop()
`,
    );
    const { id, handle } = await run({
      name: 'big-sort',
      application: { type: 'python', file: sort },
      args: [path.join(scratch, 'sorted')],
      // 10% of a 512 MiB driver's memory for execution and storage: the sort cannot stay in memory.
      sparkConf: {
        'spark.memory.fraction': '0.1',
        'spark.sql.shuffle.partitions': '1',
        'spark.sql.adaptive.enabled': 'false',
      },
    });
    expect((await handle.result()).state).toBe('SUCCEEDED');
    const { spark } = await metricsSummary(id);
    expect(spark!.memory_spill_bytes).toBeGreaterThan(0);
    expect(spark!.disk_spill_bytes).toBeGreaterThan(0);
    expect(spark!.shuffle_write_bytes).toBeGreaterThan(0);
    expect(spark!.output_records).toBe(1_000_000);
  });
});

describe('a job that prints 200,000 lines', () => {
  const expected = Array.from({ length: LINES }, (_, i) => `line ${String(i).padStart(6, '0')}`);
  const count = (text: string) => {
    const seen = new Map<string, number>();
    for (const line of text.split('\n')) if (/^line \d{6}$/.test(line)) seen.set(line, (seen.get(line) ?? 0) + 1);
    return seen;
  };
  const everyLineOnce = (text: string) => {
    const seen = count(text);
    expect(seen.size).toBe(LINES);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect([...seen.keys()]).toEqual(expected);
  };
  let id: string;

  it('shows every line exactly once to logs -f started mid-run', async () => {
    const printer = script(
      'printer.py',
      `import sys, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
# Spark's own INFO lines (its shutdown among them) stay out, so the log ends with the job's last line.
spark.sparkContext.setLogLevel("ERROR")
for batch in range(20):
    sys.stdout.write("".join("line %06d\\n" % i for i in range(batch * 10000, (batch + 1) * 10000)))
    sys.stdout.flush()
    time.sleep(0.4)
spark.stop()
`,
    );
    const started = await run({ name: 'printer', application: { type: 'python', file: printer } });
    id = started.id;
    // Mid-run: some lines are out, the job is still going.
    await eventually(
      'the first lines',
      async () => {
        const text = await (await get(`${api.url}/api/v1/jobs/${id}/logs?tail=1`)).text();
        return /^line \d{6}$/m.test(text) ? true : undefined;
      },
      120_000,
    );
    expect(driverExited(id)).toBe(false);
    const follow = await cli(['logs', '-f', id]);
    expect(follow.code, follow.stderr).toBe(0);
    expect(follow.stderr).toContain(`${id} is SUCCEEDED`);
    everyLineOnce(follow.stdout);
  });

  it('keeps them all after the driver is gone and the sweep removed its run directory; logs --tail 5 shows the last five', async () => {
    expect((await executionHandle(stack.client, id).result()).state).toBe('SUCCEEDED');
    const runDir = path.join(dataPaths(stack.config).runsDir, id);
    expect(fs.existsSync(runDir)).toBe(true);
    await stack.client.schedule.getHandle(retentionScheduleId(stack.config.TEMPORAL_TASK_QUEUE)).trigger();
    await eventually('the sweep to remove the run directory', () =>
      Promise.resolve(fs.existsSync(runDir) ? undefined : true),
    );

    const all = await cli(['logs', id]);
    expect(all.code, all.stderr).toBe(0);
    everyLineOnce(all.stdout);
    const tail = await cli(['logs', '--tail', '5', id]);
    expect(tail.code).toBe(0);
    expect(tail.stdout.trimEnd().split('\n')).toEqual(all.stdout.trimEnd().split('\n').slice(-5));
    expect(tail.stdout.trimEnd().split('\n')).toEqual(expected.slice(-5));
    const archived = await stack.store.logs.info({ executionId: id, attempt: 1 });
    expect(archived).toMatchObject({ truncated: false, team: 'data-infra' });
    expect(archived!.lines).toBeGreaterThanOrEqual(LINES);
  });
});
