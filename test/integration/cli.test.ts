/**
 * The `spark-runner` CLI as a user runs it: `node bin/spark-runner.js ...` as a child process, talking to an
 * in-process API over HTTP, with a real worker, Temporal, Postgres and local Spark behind it. Three real Spark
 * runs: SparkPi with --wait, SparkPi followed with `logs -f`, and a Python job that raises; a cancelled job runs
 * on the sim backend. Manifest jobs (`jobs list|get`) and a streaming job stopped and resumed run on the sim backend,
 * as does a streaming job sized with `jobs recommend` and resized by `resize`, by manifest re-apply and by DCR.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContinuousActivities } from '../../activities/continuous.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import type { NormalizedJobSpec } from '../../schema/job-spec.js';
import { isTerminal } from '../../schema/states.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/spark-runner.js');
const scratch = mkdtempSync(join(tmpdir(), 'cli-test-'));

let stack: TestStack;
let api: TestApi;

beforeAll(async () => {
  // Streaming loops sample every 2 s, so DCR's lag rule decides within the test (the resize describe below).
  stack = await openTestStack({ STREAMING_SAMPLE_INTERVAL_S: '2' });
  const sim = createSimBackend();
  await stack.startWorker({ sim });
  api = await startTestApi(stack, { backends: { sim } });
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
  rmSync(scratch, { recursive: true, force: true });
});

interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI to completion. The URL and token go in through SPARK_RUNNER_URL/SPARK_RUNNER_TOKEN unless
 * `env` says otherwise; XDG_CONFIG_HOME points at an empty directory so no real config file is read.
 */
function cli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string } = {},
): Promise<CliRun> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    XDG_CONFIG_HOME: join(scratch, 'no-config'),
    SPARK_RUNNER_CONFIG: undefined,
    SPARK_RUNNER_URL: api.url,
    SPARK_RUNNER_TOKEN: api.tokens.dataInfra,
    ...options.env,
  };
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: options.cwd ?? ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A backstop only: every command here is expected to exit by itself well before this.
    const killer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      done({ code, signal, stdout, stderr });
    });
  });
}

function executionIdIn(text: string): string {
  const id = /([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})/.exec(text)?.[1];
  if (!id) throw new Error(`no execution id in: ${text}`);
  return id;
}

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

const PI = ['--python', 'examples/pi.py', '--arg', '2', '--driver-memory', '512m'];

describe('the spark-runner CLI', () => {
  let piId: string;

  it('submit --wait runs SparkPi to SUCCEEDED, prints the "Pi is roughly" line and exits 0', async () => {
    const run = await cli(['submit', '--name', 'cli-pi', ...PI, '--wait']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^submitted data-infra\/cli-pi as /);
    expect(run.stdout).toContain('SUCCEEDED after');
    expect(run.stdout).toMatch(/Pi is roughly 3\.\d+/);
    piId = executionIdIn(run.stdout);
  });

  it('logs -f streams a running job to its end and exits 0 by itself', async () => {
    const submitted = await cli(['submit', '--name', 'cli-follow', ...PI, '--output', 'json']);
    expect(submitted.code).toBe(0);
    const id = (JSON.parse(submitted.stdout) as { execution_id: string }).execution_id;
    expect(isTerminal((await stack.store.getExecution(id))!.state)).toBe(false);

    const follow = await cli(['logs', '-f', id]);
    expect(follow.signal).toBeNull();
    expect(follow.code).toBe(0);
    expect(follow.stdout).toMatch(/Pi is roughly 3\.\d+/);
    expect(follow.stderr).toContain(`${id} is SUCCEEDED`);
    expect((await stack.store.getExecution(id))!.state).toBe('SUCCEEDED');
  });

  it('shows the execution through status, list --output json and events, and refuses to cancel it once finished', async () => {
    const status = await cli(['status', piId]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`execution\\s+${piId}`));
    expect(status.stdout).toMatch(/state\s+SUCCEEDED/);
    expect(status.stdout).toMatch(/job\s+data-infra\/cli-pi/);

    const list = await cli(['list', '--job', 'data-infra/cli-pi', '--output', 'json']);
    expect(list.code).toBe(0);
    const page = JSON.parse(list.stdout) as { items: { execution_id: string; status: string }[] };
    expect(page.items).toEqual([expect.objectContaining({ execution_id: piId, status: 'SUCCEEDED' })]);
    // The CLI submitted it to local Spark: --trigger and --backend filter on exactly that.
    const filtered = async (...flags: string[]) =>
      (
        JSON.parse(
          (await cli(['list', '--job', 'data-infra/cli-pi', ...flags, '--output', 'json'])).stdout,
        ) as typeof page
      ).items.length;
    expect(await filtered('--trigger', 'cli', '--backend', 'local')).toBe(1);
    expect(await filtered('--trigger', 'schedule')).toBe(0);
    expect(await filtered('--backend', 'emr')).toBe(0);

    const events = await cli(['events', piId]);
    expect(events.code).toBe(0);
    expect(events.stdout).toMatch(/^TIME\s+ATTEMPT\s+EVENT\s+DETAILS/);
    for (const type of ['SUBMIT', 'RUNNING', 'TERMINAL']) expect(events.stdout).toContain(type);

    const cancel = await cli(['cancel', piId]);
    expect(cancel.code).toBe(3);
    expect(cancel.stderr).toContain(`error: execution ${piId} already finished: SUCCEEDED`);
    expect(cancel.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  it('submit --wait exits 2 when the job is cancelled while it runs', async () => {
    const file = join(scratch, 'long.json');
    const long = { runningAfterMs: 100, endAfterMs: 600_000 };
    writeFileSync(
      file,
      JSON.stringify({
        name: 'cli-cancel',
        backend: 'sim',
        application: { type: 'python', file: 'never-run.py' },
        sim: { attempts: [long] },
      }),
    );
    const waiting = cli(['submit', '-f', file, '--wait']);
    const { items } = await eventually('the execution to be RUNNING', async () => {
      const page = await stack.store.listExecutions({ jobPath: 'data-infra/cli-cancel', state: 'RUNNING', limit: 1 });
      return page.items.length > 0 ? page : undefined;
    });
    const id = items[0]!.executionId;

    const cancel = await cli(['cancel', id]);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`cancel requested for ${id}`);
    const run = await waiting;
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('CANCELLED after');
  });

  it('reads the URL and token from the config file when neither flags nor environment set them', async () => {
    const config = join(scratch, 'config.json');
    writeFileSync(config, JSON.stringify({ url: api.url, token: api.tokens.dataInfra }));
    const run = await cli(['list', '--state', 'succeeded'], {
      env: { SPARK_RUNNER_URL: undefined, SPARK_RUNNER_TOKEN: undefined, SPARK_RUNNER_CONFIG: config },
    });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^EXECUTION\s+JOB\s+STATE\s+ATTEMPT\s+BACKEND\s+SUBMITTED\s+DURATION/);
    expect(run.stdout).toContain(piId);
  });

  it('submit --dry-run sends a relative application path as an absolute one and creates nothing', async () => {
    const run = await cli(['submit', '--name', 'cli-dry', '--python', 'jobs/etl.py', '--dry-run', '--output', 'json'], {
      cwd: scratch,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(JSON.stringify(join(scratch, 'jobs/etl.py')));
    const { items } = await stack.store.listExecutions({ jobPath: 'data-infra/cli-dry', limit: 10 });
    expect(items).toEqual([]);
  });

  it('submit --dry-run shows where the job would run, and why', async () => {
    const run = await cli(['submit', '--name', 'cli-dry-text', '--python', 'jobs/etl.py', '--dry-run'], {
      cwd: scratch,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^dry run: valid; nothing was submitted\n/);
    expect(run.stdout).toMatch(/^backend +local$/m);
    expect(run.stdout).toMatch(/^why +local Spark: no cluster or EMR is configured$/m);
    expect(run.stdout).toMatch(/^payload:\n\{/m);
  });
});

describe('CLI errors, written for people', () => {
  it('says the API cannot be reached, and how to point at it, with exit code 3', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await cli(['list'], { env: { SPARK_RUNNER_URL: url } });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain(
      `error: cannot reach the Spark Runner API at ${url}: is \`npm run dev\` running? (set --url or SPARK_RUNNER_URL)`,
    );
  });

  it('names SPARK_RUNNER_TOKEN when the token is not accepted', async () => {
    const run = await cli(['list'], { env: { SPARK_RUNNER_TOKEN: 'not-a-token' } });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('SPARK_RUNNER_TOKEN');
    expect(run.stderr).toContain('the bearer token is not recognised');
  });

  it('says an execution of another team is not visible', async () => {
    const run = await cli(['status', '00000000-0000-4000-8000-000000000000'], {
      env: { SPARK_RUNNER_TOKEN: api.tokens.other },
    });
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('hint: check the id; executions of other teams are not visible');
  });

  it('prints the field path of a forbidden sparkConf key in a job file and creates nothing', async () => {
    const file = join(scratch, 'forbidden.yaml');
    writeFileSync(
      file,
      [
        'name: cli-forbidden',
        'engineVersion: 4.0 # unquoted: still the text "4.0"',
        'application: { type: python, file: examples/pi.py }',
        'sparkConf:',
        '  spark.master: yarn',
        '  spark.sql.shuffle.partitions: 8',
        '',
      ].join('\n'),
    );
    const run = await cli(['submit', '-f', file]);
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('  - sparkConf.spark.master: sparkConf key "spark.master" is not allowed');
    expect(run.stderr).not.toContain('engineVersion');
    expect(run.stderr).not.toContain('shuffle');
    const { items } = await stack.store.listExecutions({ jobPath: 'data-infra/cli-forbidden', limit: 10 });
    expect(items).toEqual([]);
  });

  it('submit --wait of a Python job that raises exits 1 and prints the error class', async () => {
    writeFileSync(join(scratch, 'fail.py'), FAILING_JOB);
    // Run from the scratch folder with a relative path: the CLI, not the server's cwd, decides what it means.
    const run = await cli(
      ['submit', '--name', 'cli-fail', '--python', 'fail.py', '--driver-memory', '512m', '--wait'],
      {
        cwd: scratch,
      },
    );
    expect(run.code).toBe(1);
    expect(run.stdout).toContain('FAILED after');
    const id = executionIdIn(run.stdout);
    const row = (await stack.store.getExecution(id))!;
    expect(row.failureClass).toBe('USER_ERROR');
    expect(run.stderr).toContain(`error: USER_ERROR: `);
    expect(run.stderr).toContain(`spark-runner logs ${id}`);
    expect(row.spec.application).toMatchObject({ type: 'python', file: join(scratch, 'fail.py') });
  });
});

describe('jobs from a manifest, and stop/resume of a streaming job', () => {
  const suffix = crypto.randomUUID().slice(0, 6);
  const batch = `data-infra/cli-hourly-${suffix}`;
  const streaming = `data-infra/cli-stream-${suffix}`;
  const id = `continuous-data-infra.cli-stream-${suffix}`;
  const manifest = join(scratch, 'jobs.yaml');
  let deleted = false;

  beforeAll(() => {
    // A scheduled batch job, and a streaming job whose runs are sim runs that keep going until stopped.
    writeFileSync(
      manifest,
      `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: cli-hourly-${suffix}
  team: data-infra
spec:
  engineVersion: '3.5'
  application: { type: python, file: examples/pi.py }
  args: ['10']
  orchestration:
    schedule: '@hourly'
    timezone: America/Los_Angeles
---
apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: cli-stream-${suffix}
  team: data-infra
spec:
  engineVersion: '4.0'
  jobType: streaming
  backend: sim
  application: { type: python, file: never-run.py }
  sim: { attempts: [{ runningAfterMs: 100, endAfterMs: 600000 }] }
`,
    );
  });
  afterAll(async () => {
    // Leave no schedule or loop behind when a test failed before the delete below.
    if (!deleted && api) await cli(['delete', '-f', manifest]);
  });

  const streamingStatus = async () => {
    const run = await cli(['status', id, '--output', 'json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { status: string; current_execution_id: string | null };
  };

  it('apply -f, then jobs list and jobs get show the scheduled job with its schedule and next run', async () => {
    const applied = await cli(['apply', '-f', manifest]);
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`created ${batch} (batch, schedule sched-data-infra.cli-hourly-${suffix})`);
    expect(applied.stdout).toContain(`created ${streaming} (streaming)`);

    const list = await cli(['jobs', 'list']);
    expect(list.stderr).toBe('');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(/^JOB\s+TYPE\s+SCHEDULE\s+LAST EXECUTION\s+NEXT RUN\n/);
    const time = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ`;
    expect(list.stdout).toMatch(new RegExp(`^${batch}\\s+batch\\s+0 \\* \\* \\* \\*\\s+-\\s+${time}$`, 'm'));
    expect(list.stdout).toMatch(new RegExp(`^${streaming}\\s+streaming\\s+-\\s+`, 'm'));

    const listJson = await cli(['jobs', 'list', '--output', 'json']);
    expect(listJson.code).toBe(0);
    const { items } = JSON.parse(listJson.stdout) as { items: { jobPath: string }[] };
    expect(items).toContainEqual(
      expect.objectContaining({
        jobPath: batch,
        jobType: 'batch',
        schedule: expect.objectContaining({
          scheduleId: `sched-data-infra.cli-hourly-${suffix}`,
          paused: false,
          config: expect.objectContaining({ cron: '0 * * * *', timezone: 'America/Los_Angeles' }) as unknown,
        }) as unknown,
      }),
    );
    // A member sees only its own team's jobs.
    expect(items.every((j) => j.jobPath.startsWith('data-infra/'))).toBe(true);

    const get = await cli(['jobs', 'get', batch]);
    expect(get.stderr).toBe('');
    expect(get.code).toBe(0);
    expect(get.stdout).toMatch(new RegExp(`^Job\\s+${batch}$`, 'm'));
    expect(get.stdout).toMatch(/^Type\s+batch$/m);
    expect(get.stdout).toMatch(/^Application\s+python examples\/pi\.py$/m);
    expect(get.stdout).toContain(
      `0 * * * * (America/Los_Angeles, overlap SKIP), sched-data-infra.cli-hourly-${suffix}`,
    );
    expect(get.stdout).toMatch(new RegExp(`^Next run\\s+${time}$`, 'm'));
    expect(get.stdout).toMatch(/^Last execution\s+none$/m);

    const getJson = await cli(['jobs', 'get', batch, '-o', 'json']);
    expect(getJson.code).toBe(0);
    expect(JSON.parse(getJson.stdout)).toMatchObject({ jobPath: batch, team: 'data-infra', spec: { args: ['10'] } });

    const getStreaming = await cli(['jobs', 'get', streaming]);
    expect(getStreaming.code).toBe(0);
    expect(getStreaming.stdout).toMatch(/^Schedule\s+none$/m);
    expect(getStreaming.stdout).toContain(`Streaming id    ${id} (spark-runner status ${id})`);
  });

  it('jobs get of an unknown job exits 3 with one line saying so', async () => {
    const run = await cli(['jobs', 'get', 'data-infra/no-such-job']);
    expect(run.code).toBe(3);
    expect(run.stdout).toBe('');
    expect(run.stderr.split('\n')[0]).toBe('error: no job "data-infra/no-such-job"');
    expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/);

    const usage = await cli(['jobs', 'get', 'no-slash']);
    expect(usage.code).toBe(3);
    expect(usage.stderr).toContain('expected a job path like data-infra/etl');
  });

  it('stop and resume a streaming job on the sim backend, and refuse what cannot be done', async () => {
    const first = await eventually('the streaming job to run', async () => {
      const s = await streamingStatus();
      return s.status === 'RUNNING' && s.current_execution_id ? s.current_execution_id : undefined;
    });

    const resumeRunning = await cli(['resume', id]);
    expect(resumeRunning.code).toBe(3);
    expect(resumeRunning.stderr).toContain(`error: job ${streaming} is not stopped or degraded`);

    const stop = await cli(['stop', id]);
    expect(stop.stderr).toBe('');
    expect(stop.code).toBe(0);
    expect(stop.stdout).toMatch(new RegExp(`^${id}: STOPPED \\(spec v1, run none, 0 restart\\(s\\)\\)\\n$`));
    expect((await stack.store.getExecution(first))!.state).toBe('CANCELLED');
    expect((await streamingStatus()).status).toBe('STOPPED');

    const resume = await cli(['resume', id, '--output', 'json']);
    expect(resume.code).toBe(0);
    expect(JSON.parse(resume.stdout)).toMatchObject({ job_id: id, job_type: 'streaming', spec_version: 1 });
    const second = await eventually('the resumed job to run again', async () => {
      const s = await streamingStatus();
      return s.status === 'RUNNING' && s.current_execution_id && s.current_execution_id !== first
        ? s.current_execution_id
        : undefined;
    });
    expect((await stack.store.getExecution(second))!.state).toBe('RUNNING');

    const unknown = await cli(['stop', 'continuous-data-infra.no-such-stream']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr.split('\n')[0]).toBe('error: no streaming job "continuous-data-infra.no-such-stream"');
    const foreign = await cli(['stop', id], { env: { SPARK_RUNNER_TOKEN: api.tokens.other } });
    expect(foreign.code).toBe(3);
    expect(foreign.stderr).toContain('streaming jobs of other teams are not visible');
    const notStreaming = await cli(['stop', first]);
    expect(notStreaming.code).toBe(3);
    expect(notStreaming.stderr).toContain(`error: "${first}" is not a streaming job id`);

    const removed = await cli(['delete', '-f', manifest]);
    expect(removed.code).toBe(0);
    deleted = true;
    expect((await stack.store.getExecution(second))!.state).toBe('CANCELLED');
    for (const action of ['stop', 'resume']) {
      const ended = await cli([action, id]);
      expect(ended.code).toBe(3);
      expect(ended.stderr.split('\n')[0]).toBe(`error: streaming job "${id}" has ended; apply it again`);
    }
    // The jobs stay listed after delete, without a schedule.
    const list = await cli(['jobs', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${batch}\\s+batch\\s+-\\s+-\\s+-$`, 'm'));
  });
});

describe('jobs recommend, resize, and resizes by manifest re-apply and by DCR', () => {
  const suffix = crypto.randomUUID().slice(0, 6);
  const job = `data-infra/cli-resize-${suffix}`;
  const id = `continuous-data-infra.cli-resize-${suffix}`;
  const manifest = join(scratch, `resize-${suffix}.yaml`);
  /** The streaming job on the sim backend (runs that keep going until stopped), with `extra` under its spec. */
  const writeManifest = (extra = '') =>
    writeFileSync(
      manifest,
      `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: cli-resize-${suffix}
  team: data-infra
spec:
  engineVersion: '4.0'
  jobType: streaming
  backend: sim
  application: { type: python, file: never-run.py }
  sim: { attempts: [{ runningAfterMs: 100, endAfterMs: 600000 }] }
${extra}`,
    );

  interface JobEvent {
    event_type: string;
    spec_version: number | null;
    payload: Record<string, unknown>;
  }
  const events = async (): Promise<JobEvent[]> => {
    const res = await fetch(`${api.url}/api/v1/jobs/${id}/events?limit=1000`, {
      headers: { Authorization: `Bearer ${api.tokens.dataInfra}` },
    });
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: JobEvent[] }).items;
  };
  const status = async () => {
    const run = await cli(['status', id, '--output', 'json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { status: string; spec_version: number; current_execution_id: string | null };
  };
  /** The loop running `version` with a run up: its execution id (each probe is a CLI process, so a long wait). */
  const runningAt = (version: number) =>
    eventually(
      `spec v${version} to run`,
      async () => {
        const s = await status();
        return s.status === 'RUNNING' && s.spec_version === version && s.current_execution_id
          ? s.current_execution_id
          : undefined;
      },
      150_000,
    );
  const jobGet = async () => {
    const run = await cli(['jobs', 'get', job, '-o', 'json']);
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout) as { spec: { resources: NormalizedJobSpec['resources']; args: string[] } };
  };

  beforeAll(async () => {
    writeManifest();
    const applied = await cli(['apply', '-f', manifest]);
    expect(applied.code, applied.stderr).toBe(0);
  });
  afterAll(async () => {
    if (api) await cli(['delete', '-f', manifest]);
  });

  it('jobs recommend prints each field with its requested and recommended size, and names an unknown job', async () => {
    const run = await cli(['jobs', 'recommend', job]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(`^${job}: sizing manual, confidence [0-9.]+ \\(0 measured of 0 executions\\)\n`),
    );
    expect(run.stdout).toMatch(/^FIELD\s+REQUESTED\s+RECOMMENDED\s+REASON$/m);
    for (const field of ['driver memory', 'driver cores', 'executor memory', 'executor cores', 'executors']) {
      expect(run.stdout).toMatch(new RegExp(`^${field}\\s+\\S+\\s+\\S+\\s+\\S`, 'm'));
    }

    const json = await cli(['jobs', 'recommend', job, '-o', 'json']);
    expect(json.code).toBe(0);
    const rec = JSON.parse(json.stdout) as { job_path: string; sizing: string; samples: number; confidence: number };
    expect(rec).toMatchObject({ job_path: job, sizing: 'manual', samples: 0 });
    expect(rec.confidence).toBeGreaterThanOrEqual(0);
    expect(rec.confidence).toBeLessThanOrEqual(1);

    const unknown = await cli(['jobs', 'recommend', 'data-infra/no-such-job']);
    expect(unknown.code).toBe(3);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr.split('\n')[0]).toBe('error: no job "data-infra.no-such-job"');
    const usage = await cli(['jobs', 'recommend', 'no-slash']);
    expect(usage.code).toBe(3);
    expect(usage.stderr).toContain('expected a job path like data-infra/etl');
  });

  it('resize restarts the job once with the new resources, and refuses bad input, changing nothing', async () => {
    const first = await runningAt(1);

    const resized = await cli(['resize', id, '--executors', '3', '--executor-memory', '2g']);
    expect(resized.stderr).toBe('');
    expect(resized.code).toBe(0);
    expect(resized.stdout).toMatch(new RegExp(`^${id}: \\w+ \\(spec v2, `));
    const second = await runningAt(2);
    expect(second).not.toBe(first);
    expect((await stack.store.getExecution(first))!.state).toBe('CANCELLED');
    const row = await eventually('the resized run to be recorded', () => stack.store.getExecution(second));
    expect(row.resources.executor).toMatchObject({ instances: 3, memoryMb: 2048 });
    expect((await jobGet()).spec.resources.executor).toMatchObject({ instances: 3, memoryMb: 2048 });

    const refused = [
      { args: ['resize', id, '--executor-memory', 'lots'], says: 'resources.executor.memory' },
      { args: ['resize', 'continuous-data-infra.no-such-stream', '--executors', '2'], says: 'no streaming job' },
      { args: ['resize', id], says: 'nothing to resize' },
      { args: ['resize', job, '--executors', '2'], says: `"${job}" is not a streaming job id` },
    ];
    for (const { args, says } of refused) {
      const run = await cli(args);
      expect(run.code, args.join(' ')).toBe(3);
      expect(run.stdout).toBe('');
      expect(run.stderr.split('\n')[0]).toMatch(/^error: /);
      expect(run.stderr).toContain(says);
      expect(run.stderr).not.toMatch(/\bat .*\.ts:\d+/);
    }
    // Nothing changed: the same run of the same version, and the same recorded resources.
    expect(await status()).toMatchObject({ status: 'RUNNING', spec_version: 2, current_execution_id: second });
    expect((await jobGet()).spec.resources.executor).toMatchObject({ instances: 3, memoryMb: 2048 });
    expect((await events()).filter((e) => e.event_type === 'RESIZED')).toHaveLength(1);
  }, 300_000);

  it('a manifest re-apply that changes only the resources is recorded RESIZED, and any other change REDEPLOYED', async () => {
    // The manifest declares 2 executors: the API's resize (3 executors of 2g) is undone by the user's intent.
    writeManifest('  resources:\n    executor: { instances: 2 }\n');
    const applied = await cli(['apply', '-f', manifest]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toContain(`updated ${job}`);
    await runningAt(3);
    const resize = await eventually('the RESIZED event', async () =>
      (await events()).find((e) => e.event_type === 'RESIZED' && e.spec_version === 3),
    );
    expect(resize.payload).toMatchObject({
      source: 'request',
      from: { executor: { instances: 3, memoryMb: 2048 } },
      to: { executor: { instances: 2 } },
      detail: expect.stringContaining(`manifest re-apply of SparkJob ${job} (resources.executor.`) as string,
    });
    expect((await jobGet()).spec.resources.executor.instances).toBe(2);

    // Args and resources together: a redeploy, not a resize.
    writeManifest("  args: ['v4']\n  resources:\n    executor: { instances: 1 }\n");
    expect((await cli(['apply', '-f', manifest])).code).toBe(0);
    await runningAt(4);
    const redeploy = await eventually('the REDEPLOYED event', async () =>
      (await events()).find((e) => e.event_type === 'REDEPLOYED' && e.spec_version === 4),
    );
    expect(redeploy.payload).toMatchObject({
      from: { executor: { instances: 2 } },
      to: { executor: { instances: 1 } },
    });
    expect((await events()).filter((e) => e.event_type === 'RESIZED')).toHaveLength(2);
  });

  it("follows DCR's own resize in the jobs row, and an unchanged manifest re-apply keeps it", async () => {
    // Stands in for the run's driver metrics servlet, which a sim run does not have: it reports a query processing
    // 40 of 100 input rows/s (dcr-events.test.ts trips the same rule with a really lagging Spark job). The loop,
    // its sampling and DCR policy, the activities, Postgres, the API and the CLI are the real ones.
    const driver = http.createServer((_req, res) => {
      res.setHeader('Content-Type', 'application/json');
      const gauge = (name: string, value: number) => [`app.driver.spark.streaming.q.${name}`, { value }] as const;
      const gauges = [gauge('inputRate-total', 100), gauge('processingRate-total', 40), gauge('latency', 900)];
      res.end(JSON.stringify({ gauges: Object.fromEntries(gauges) }));
    });
    await new Promise<void>((r) => driver.listen(0, '127.0.0.1', r));
    try {
      const before = (await jobGet()).spec.resources;
      const run = await runningAt(4);
      await stack.store.patchExecution(run, {
        sparkUiUrl: `http://127.0.0.1:${(driver.address() as net.AddressInfo).port}`,
      });

      // DCR_LAG_SAMPLES lagging samples: the loop adds executors by a controlled restart, spec v5.
      const v5 = await runningAt(5);
      const resize = await eventually('the DCR RESIZED event', async () =>
        (await events()).find((e) => e.event_type === 'RESIZED' && e.spec_version === 5),
      );
      expect(resize.payload).toMatchObject({ source: 'dcr:lag', from: before });
      const after = resize.payload.to as NormalizedJobSpec['resources'];
      expect(after.executor.instances).toBeGreaterThan(before.executor.instances);
      // The jobs row follows: jobs get and jobs list show what the job now runs with, as does the new run.
      expect((await jobGet()).spec.resources).toEqual(after);
      const list = await cli(['jobs', 'list', '--output', 'json']);
      const listed = (JSON.parse(list.stdout) as { items: { jobPath: string; spec: { resources: unknown } }[] }).items;
      expect(listed.find((j) => j.jobPath === job)?.spec.resources).toEqual(after);
      const v5row = await eventually('the v5 run to be recorded', () => stack.store.getExecution(v5));
      expect(v5row.resources.executor.instances).toBe(after.executor.instances);

      // The write is idempotent (a retried activity finds it done) and never overwrites a spec written since.
      const activities = createContinuousActivities({ client: stack.client, store: stack.store, config: stack.config });
      expect(await activities.followResize({ jobPath: job, from: before, to: after })).toBe('followed');
      expect(await activities.followResize({ jobPath: job, from: before, to: before })).toBe('diverged');
      expect((await jobGet()).spec.resources).toEqual(after);

      // The manifest still declares what DCR started from: DCR's resources stand, and nothing is redeployed.
      const again = await cli(['apply', '-f', manifest]);
      expect(again.code, again.stderr).toBe(0);
      expect(again.stdout).toBe('no changes\n');
      expect((await jobGet()).spec.resources).toEqual(after);
      expect((await status()).spec_version).toBe(5);

      // A change elsewhere redeploys with DCR's resources; a manifest declaring new resources wins over DCR.
      writeManifest("  args: ['v6']\n  resources:\n    executor: { instances: 1 }\n");
      expect((await cli(['apply', '-f', manifest])).code).toBe(0);
      expect((await jobGet()).spec).toMatchObject({ args: ['v6'], resources: after });
      const v6 = await runningAt(6);
      const v6row = await eventually('the v6 run to be recorded', () => stack.store.getExecution(v6));
      expect(v6row.resources.executor.instances).toBe(after.executor.instances);

      const declared = after.executor.instances === 2 ? 4 : 2;
      writeManifest(`  args: ['v6']\n  resources:\n    executor: { instances: ${declared} }\n`);
      expect((await cli(['apply', '-f', manifest])).code).toBe(0);
      expect((await jobGet()).spec.resources.executor.instances).toBe(declared);
      await runningAt(7);
      const byManifest = await eventually('the manifest RESIZED event', async () =>
        (await events()).find((e) => e.event_type === 'RESIZED' && e.spec_version === 7),
      );
      expect(byManifest.payload).toMatchObject({ source: 'request', to: { executor: { instances: declared } } });
    } finally {
      await new Promise((r) => driver.close(r));
    }
  }, 400_000);
});

const FAILING_JOB = `from pyspark.sql import SparkSession
spark = SparkSession.builder.getOrCreate()
spark.range(3).count()
raise ValueError("boom: the input table is empty")
`;
