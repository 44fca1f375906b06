/**
 * The local backend against real spark-submit (SPARK_HOME and SPARK_PYTHON come from test/global-setup.ts).
 * Each Spark run costs seconds, so the five real runs below go concurrently, each with its own runsDir.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRequest, Backend, Placement, RunRef, RunStatus, StatusSource } from '../../gateway/backend.js';
import { isFinalPhase } from '../../gateway/backend.js';
import type { LocalBackendOptions } from '../../gateway/backends/local/index.js';
import {
  buildSparkSubmitArgs,
  createLocalBackend,
  createLocalStatusSource,
  stopLocalRuns,
} from '../../gateway/backends/local/index.js';
import { failureMessage, parseDriverStartup } from '../../gateway/backends/local/driver-log.js';
import type { RunRecord } from '../../gateway/backends/local/files.js';
import type { JobSpecInput } from '../../schema/job-spec.js';
import { JobSpec } from '../../schema/job-spec.js';

const PI = resolve(import.meta.dirname, '../../examples/pi.py');
const scratch = mkdtempSync(join(tmpdir(), 'local-backend-'));
const runsDirs: string[] = [];

// Starts a SparkContext, then sleeps argv[1] seconds: a job that is RUNNING for as long as a test needs.
const SLOW_JOB = `import sys, time
from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.range(10).count()
print("slow job started", flush=True)
time.sleep(float(sys.argv[1]))
print("slow job done", flush=True)
spark.stop()
`;
const FAILING_JOB = `from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.range(3).count()
raise ValueError("boom: the input table is empty")
`;

function script(name: string, text: string): string {
  const file = join(scratch, name);
  writeFileSync(file, text);
  return file;
}

function options(overrides: Partial<LocalBackendOptions> = {}): LocalBackendOptions {
  const runsDir = mkdtempSync(join(scratch, 'runs-'));
  runsDirs.push(runsDir);
  return {
    sparkHome: process.env.SPARK_HOME ?? '',
    pythonExecutable: process.env.SPARK_PYTHON,
    runsDir,
    master: 'local[1]',
    watchIntervalMs: 100,
    ...overrides,
  };
}

const LOCAL: Placement = { backend: 'local', cluster: 'local', reason: 'test' };

function request(executionId: string, file: string, args: string[] = []): AttemptRequest {
  const input: JobSpecInput = {
    name: 'local-job',
    engineVersion: '4.0',
    backend: 'local',
    application: { type: 'python', file },
    args,
    resources: { driver: { memory: '512m' } },
  };
  return { executionId, attempt: 1, team: 'team-a', jobPath: 'team-a/local-job', spec: JobSpec.parse(input) };
}

async function waitForStatus(backend: Backend, run: RunRef, until: (s: RunStatus) => boolean): Promise<RunStatus> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const status = await backend.status(run);
    if (until(status)) return status;
    if (Date.now() > deadline) throw new Error(`timed out waiting; last status ${JSON.stringify(status)}`);
    await sleep(100);
  }
}

/** Everything watch() reports for one run, until its final status. */
async function watchRun(source: StatusSource, vendorRunId: string): Promise<RunStatus[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 120_000);
  const seen: RunStatus[] = [];
  try {
    for await (const status of source.watch(controller.signal)) {
      if (status.vendorRunId !== vendorRunId) continue;
      seen.push(status);
      if (isFinalPhase(status.phase)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

function record(runsDir: string, run: RunRef): RunRecord {
  return JSON.parse(readFileSync(join(runsDir, run.executionId, String(run.attempt), 'run.json'), 'utf8')) as RunRecord;
}

function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    expect((err as NodeJS.ErrnoException).code).toBe('ESRCH');
    return false;
  }
}

function processesInGroup(pgid: number): string[] {
  const rows = execFileSync('ps', ['-eo', 'pgid=,pid=,comm=']).toString().split('\n');
  return rows.filter((row) => row.trim().split(/\s+/)[0] === String(pgid));
}

beforeAll(() => {
  if (!process.env.SPARK_HOME) throw new Error('SPARK_HOME is not set: test/global-setup.ts provides Spark');
});

afterAll(async () => {
  // A failed test may leave a run going; stop it so no Spark outlives the suite.
  for (const dir of runsDirs) await stopLocalRuns(dir, 1_000);
  rmSync(scratch, { recursive: true, force: true });
});

describe.concurrent('local backend with real spark-submit', () => {
  it('runs pi to SUCCEEDED once however often it is submitted, reporting RUNNING then SUCCEEDED through watch', async () => {
    const opts = options();
    const backend = createLocalBackend(opts);
    const otherWorker = createLocalBackend(opts);
    const req = request('pi-ok', PI);
    const vendorRunId = 'local-pi-ok-1';
    const watched = watchRun(createLocalStatusSource(opts), vendorRunId);

    const runs = await Promise.all([
      backend.submit(req, LOCAL),
      backend.submit(req, LOCAL),
      otherWorker.submit(req, LOCAL),
    ]);
    expect(runs[0]).toEqual({ executionId: 'pi-ok', attempt: 1, vendorRunId, backend: 'local', cluster: 'local' });
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    expect(await backend.submit(req, LOCAL)).toEqual(runs[0]);

    const seen = await watched;
    const phases = seen.map((s) => s.phase);
    expect(phases).toContain('RUNNING');
    expect(phases.indexOf('RUNNING')).toBeLessThan(phases.indexOf('SUCCEEDED'));
    expect(phases.at(-1)).toBe('SUCCEEDED');
    expect(seen.at(-1)?.sparkUiUrl).toMatch(/^http:\/\/[^/]+:\d+$/);

    const status = await backend.status(runs[0]);
    expect(status).toMatchObject({ phase: 'SUCCEEDED', backendState: 'exited(0)' });
    const log = await backend.logs(runs[0]);
    expect(log).toMatch(/Pi is roughly 3\.\d+/);
    expect(log.match(/Running Spark version/g)).toHaveLength(1); // one spark-submit for four submits

    await backend.cancel({ ...runs[0], placement: LOCAL }); // a finished run keeps its outcome
    expect((await backend.status(runs[0])).phase).toBe('SUCCEEDED');
    expect(await backend.logs(runs[0], { tail: 3 })).toMatch(/^[^\n]*(\n[^\n]*){2}$/);
  });

  it('ends a PySpark job that raises as FAILED, with its exit code and the exception as the message', async () => {
    const backend = createLocalBackend(options());
    const run = await backend.submit(request('py-raises', script('fails.py', FAILING_JOB)), LOCAL);
    const status = await waitForStatus(backend, run, (s) => isFinalPhase(s.phase));
    expect(status.phase).toBe('FAILED');
    expect(status.backendState).toBe('exited(1)');
    expect(status.failure?.exitCode).toBe(1);
    expect(status.failure?.message).toBe('ValueError: boom: the input table is empty');
    expect(status.failure?.logTail).toContain('Traceback (most recent call last):');
    expect(status.failure?.logTail?.split('\n').length).toBeLessThanOrEqual(50);
  });

  it('cancels a running job: CANCELLED, and no process of its group remains', async () => {
    const opts = options({ cancelGraceMs: 5_000 });
    const backend = createLocalBackend(opts);
    const run = await backend.submit(request('cancel-me', script('slow-cancel.py', SLOW_JOB), ['600']), LOCAL);
    await waitForStatus(backend, run, (s) => s.phase === 'RUNNING');
    const { pgid } = record(opts.runsDir, run);
    expect(processesInGroup(pgid).some((row) => row.includes('java'))).toBe(true);

    await backend.cancel({ ...run, placement: LOCAL });
    expect(groupExists(pgid)).toBe(false);
    expect(processesInGroup(pgid)).toEqual([]);
    expect((await backend.status(run)).phase).toBe('CANCELLED');
    await backend.cancel({ ...run, placement: LOCAL }); // idempotent
    expect((await backend.status(run)).phase).toBe('CANCELLED');
  });

  it('lets a freshly started backend adopt a run a previous worker started, and report it to its end', async () => {
    const opts = options();
    const before = createLocalBackend(opts);
    const run = await before.submit(request('adopt-me', script('slow-adopt.py', SLOW_JOB), ['4']), LOCAL);
    await waitForStatus(before, run, (s) => s.phase === 'RUNNING');

    // A restarted worker: a new instance over the same runsDir, with none of the first one's memory.
    const after = createLocalBackend(opts);
    const logs = (async () => {
      let text = '';
      for await (const chunk of after.followLogs(run, new AbortController().signal)) text += chunk;
      return text;
    })();
    const seen = await watchRun(createLocalStatusSource(opts), run.vendorRunId);
    // RUNNING may be reported twice: once started, again when the Spark UI address shows up in the log.
    expect([...new Set(seen.map((s) => s.phase))]).toEqual(['RUNNING', 'SUCCEEDED']);
    expect(seen[0]?.backendState).toMatch(/^running\(pid \d+\)$/);
    expect(seen.at(-1)?.sparkUiUrl).toMatch(/^http:\/\/[^/]+:\d+$/);
    expect(await logs).toContain('slow job done');
  });

  it('reports a run whose process group was killed from outside, leaving no exit code, as FAILED VANISHED', async () => {
    const opts = options();
    const backend = createLocalBackend(opts);
    const run = await backend.submit(request('vanish-me', script('slow-vanish.py', SLOW_JOB), ['600']), LOCAL);
    await waitForStatus(backend, run, (s) => s.phase === 'RUNNING');
    process.kill(-record(opts.runsDir, run).pgid, 'SIGKILL');

    const status = await waitForStatus(backend, run, (s) => isFinalPhase(s.phase));
    expect(status).toMatchObject({ phase: 'FAILED', backendState: 'vanished', failure: { reason: 'VANISHED' } });
    expect(status.failure?.exitCode).toBeUndefined();
  });
});

describe('spark-submit command line', () => {
  const settings = { master: 'local[2]' };
  const base = { executionId: 'e1', attempt: 2, team: 't', jobPath: 't/etl' };

  it('puts resources and sparkConf before a python application, its py-files and its args', () => {
    const spec = JobSpec.parse({
      name: 'etl',
      engineVersion: '4.0',
      application: { type: 'python', file: '/jobs/main.py', pyFiles: ['/jobs/a.zip', '/jobs/b.py'] },
      args: ['--day', '2024-01-01'],
      sparkConf: { 'spark.sql.shuffle.partitions': '8', 'spark.ui.port': '4050' },
      resources: { driver: { memory: '2g', cores: 2 }, executor: { memory: '1536m', cores: 3, instances: 4 } },
    });
    // prettier-ignore
    const expected = [
      '--master', 'local[2]', '--name', 't/etl#2',
      '--driver-memory', '2g', '--driver-cores', '2', '--executor-memory', '1536m',
      '--conf', 'spark.ui.port=4050', // the job's own value wins over the platform default
      '--conf', 'spark.executor.cores=3',
      '--conf', 'spark.executor.instances=4',
      '--conf', 'spark.sql.shuffle.partitions=8',
      '--py-files', '/jobs/a.zip,/jobs/b.py', '/jobs/main.py', '--day', '2024-01-01',
    ];
    expect(buildSparkSubmitArgs({ ...base, spec }, settings)).toEqual(expected);
  });

  it('passes a coreEtl job spec as one JSON argument after the jar, and a jvm main class before its jar', () => {
    const coreEtl = JobSpec.parse({
      name: 'core',
      engineVersion: '4.0',
      application: {
        type: 'coreEtl',
        jarPath: '/jars/core.jar',
        mainClass: 'com.x.Main',
        jobSpec: { sources: [{ type: 'csv', path: '/in/a b.csv' }], sinks: [{ type: 'console' }] },
      },
      args: ['x'],
    });
    const json =
      '{"sources":[{"type":"csv","path":"/in/a b.csv","options":{}}],"transformations":[],"sinks":[{"type":"console","rows":20}]}';
    const coreEtlTail = ['--class', 'com.x.Main', '/jars/core.jar', '--job-spec', json, 'x'];
    expect(buildSparkSubmitArgs({ ...base, spec: coreEtl }, settings).slice(-6)).toEqual(coreEtlTail);
    const jvm = JobSpec.parse({
      name: 'jvm',
      engineVersion: '4.0',
      application: { type: 'jvm', jar: '/jars/app.jar', mainClass: 'com.x.App' },
    });
    expect(buildSparkSubmitArgs({ ...base, spec: jvm }, settings).slice(-3)).toEqual([
      '--class',
      'com.x.App',
      '/jars/app.jar',
    ]);
  });

  it('describes the submission with the executable and the environment it sets', () => {
    const backend = createLocalBackend({
      sparkHome: '/opt/spark',
      pythonExecutable: '/usr/bin/python3',
      javaHome: '/opt/java',
      runsDir: '/nonexistent',
      master: 'local[1]',
      watchIntervalMs: 1000,
    });
    const spec = JobSpec.parse({ name: 'pi', engineVersion: '4.0', application: { type: 'python', file: '/pi.py' } });
    expect(backend.describeSubmission({ ...base, spec }, LOCAL)).toMatchObject({
      command: '/opt/spark/bin/spark-submit',
      env: {
        SPARK_HOME: '/opt/spark',
        PYSPARK_PYTHON: '/usr/bin/python3',
        PYSPARK_DRIVER_PYTHON: '/usr/bin/python3',
        JAVA_HOME: '/opt/java',
      },
    });
  });
});

describe('driver log reading', () => {
  it('reads the Spark UI address from Spark 4 start-up lines and from Spark 3 ones', () => {
    const spark4 = [
      '26/11/24 04:46:58 INFO SparkContext: Running Spark version 4.0.1',
      "26/11/24 04:46:59 INFO Utils: Successfully started service 'SparkUI' on port 40517.",
      '26/11/24 04:46:59 INFO Executor: Starting executor ID driver on host 192.0.2.2',
    ].join('\n');
    expect(parseDriverStartup(spark4)).toEqual({ started: true, sparkUiUrl: 'http://192.0.2.2:40517' });
    const spark3 = '24/01/01 INFO SparkUI: Bound SparkUI to 0.0.0.0, and started at http://host-1:4041';
    expect(parseDriverStartup(spark3)).toEqual({ started: true, sparkUiUrl: 'http://host-1:4041' });
    expect(parseDriverStartup('WARNING: Using incubator modules')).toEqual({ started: false });
  });

  it('picks the JVM exception line of a failed jvm job, ignoring INFO lines and stack frames', () => {
    const tail = [
      '24/01/01 12:00:00 INFO SparkContext: Error handler registered',
      'Exception in thread "main" java.lang.ClassNotFoundException: com.x.Missing',
      '\tat java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)',
      '24/01/01 12:00:01 INFO ShutdownHookManager: Shutdown hook called',
    ].join('\n');
    expect(failureMessage(tail)).toBe('Exception in thread "main" java.lang.ClassNotFoundException: com.x.Missing');
  });
});
