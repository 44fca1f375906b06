/**
 * The execution lifecycle against the real Temporal server, real Postgres and real local Spark (issue 3).
 * The `sim` backend stands in only where a scripted failure (an OOM, a lost signal) cannot be produced on
 * demand by real Spark.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { submitExecution } from '../../service/submit.js';
import { executionHandle } from '../../service/handles.js';
import { SA_BACKEND, SA_STATE } from '../../schema/vocabulary.js';
import { cancelUpdate, checkQuery, type ExecutionResult } from '../../workflows/definitions.js';
import type { RunningWorker } from '../../worker/index.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const PI = path.resolve('examples/pi.py');
const sim = createSimBackend();
let stack: TestStack;
let worker: RunningWorker;

beforeAll(async () => {
  stack = await openTestStack();
  worker = await stack.startWorker({ sim });
});
afterAll(async () => stack?.close());

function spec(overrides: Partial<JobSpecInput> & { name: string }) {
  return JobSpec.parse({
    engineVersion: '4.0',
    application: { type: 'python', file: PI },
    backend: 'local',
    ...overrides,
  });
}

async function submit(overrides: Partial<JobSpecInput> & { name: string }, idempotencyKey?: string) {
  const { execution } = await submitExecution(stack, {
    team: 'lifecycle',
    trigger: 'api',
    spec: spec(overrides),
    idempotencyKey,
  });
  return { id: execution.executionId, handle: executionHandle(stack.client, execution.executionId) };
}

/** Writes a small PySpark job under the run's scratch directory (removed by the global teardown). */
function pythonJob(name: string, lines: string[]): string {
  const file = path.join(fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, `${name}-`)), `${name}.py`);
  fs.writeFileSync(file, lines.join('\n'));
  return file;
}

async function eventTypes(id: string) {
  return (await stack.store.listEvents(id)).map((e) => `${e.attempt}:${e.eventType}`);
}

describe('execution lifecycle', () => {
  it('runs SparkPi on local Spark through SUBMITTED, RUNNING and SUCCEEDED, with ordered events and the result in its logs', async () => {
    const { id, handle } = await submit({ name: 'spark-pi', args: ['2'] });
    const states = new Set<string>();
    const watcher = (async () => {
      for (;;) {
        const row = await stack.store.getExecution(id);
        if (row) states.add(row.state);
        if (row?.state === 'SUCCEEDED' || row?.state === 'FAILED') return;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const result: ExecutionResult = await handle.result();
    await watcher;
    expect(result.state).toBe('SUCCEEDED');
    expect(result.attempts).toBe(1);
    expect([...states]).toEqual(expect.arrayContaining(['SUBMITTED', 'RUNNING', 'SUCCEEDED']));
    expect(await eventTypes(id)).toEqual(['1:SUBMIT', '1:RUNNING', '1:TERMINAL', '1:METRICS_SUMMARY']);
    const row = (await stack.store.getExecution(id))!;
    expect(row.backend).toBe('local');
    expect(row.vendorWebui).toMatch(/^http:\/\/.+:\d+/);
    expect(row.startTime).toBeInstanceOf(Date);
    expect(row.endTime!.getTime()).toBeGreaterThanOrEqual(row.startTime!.getTime());
    const logs = await worker.gateway
      .backend('local')
      .logs({ executionId: id, attempt: 1, vendorRunId: row.vendorRunId! });
    expect(logs).toMatch(/Pi is roughly 3\.1\d*/);
    const described = await handle.describe();
    expect(described.typedSearchAttributes.get(SA_STATE)).toBe('SUCCEEDED');
    expect(described.typedSearchAttributes.get(SA_BACKEND)).toBe('local');
    expect(String(described.memo?.summary)).toContain('lifecycle/spark-pi: SUCCEEDED');
  });

  it('ends a PySpark job that raises as FAILED with a user error, after exactly one attempt', async () => {
    const file = pythonJob('bad', [
      'from pyspark.sql import SparkSession',
      'spark = SparkSession.builder.appName("bad").getOrCreate()',
      'spark.range(3).count()',
      'raise ValueError("the input table is empty")',
    ]);
    const { id, handle } = await submit({ name: 'bad-job', application: { type: 'python', file } });
    const result: ExecutionResult = await handle.result();
    expect(result).toMatchObject({ state: 'FAILED', attempts: 1, failureClass: 'USER_ERROR' });
    expect(result.failureMessage).toContain('the input table is empty');
    const row = (await stack.store.getExecution(id))!;
    expect(row).toMatchObject({ state: 'FAILED', attempt: 1, failureClass: 'USER_ERROR' });
    expect((await eventTypes(id)).filter((e) => e.endsWith('RETRY'))).toEqual([]);
  });

  it('retries a simulated OOM-killed attempt once, with 50% more executor memory, and succeeds', async () => {
    const { id, handle } = await submit({
      name: 'oom-once',
      backend: 'sim',
      resources: { executor: { memory: '2g', instances: 2 } },
      retryPolicy: { maxAttempts: 3, backoffSeconds: 0.1 },
      sim: {
        attempts: [
          {
            outcome: 'FAILED',
            // What a driver reports when an executor's container is OOM-killed: the job aborts with exit code 1.
            failure: {
              exitCode: 1,
              reason: 'Error',
              message:
                'Job aborted due to stage failure: Task 3 in stage 1.0 failed 4 times, most recent failure: Lost task 3.3 in stage 1.0: ExecutorLostFailure (executor 1 exited caused by one of the running tasks) Reason: Container killed: OOMKilled',
            },
          },
          { outcome: 'SUCCEEDED' },
        ],
      },
    });
    const result: ExecutionResult = await handle.result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 2 });
    const events = await stack.store.listEvents(id);
    expect(events.map((e) => `${e.attempt}:${e.eventType}`)).toEqual([
      '1:SUBMIT',
      '1:RUNNING',
      '1:RETRY',
      '2:SUBMIT',
      '2:RUNNING',
      '2:TERMINAL',
      '2:METRICS_SUMMARY',
    ]);
    const retry = events.find((e) => e.eventType === 'RETRY')!;
    expect(retry.payload).toMatchObject({ failureClass: 'OOM', nextAttempt: 2 });
    const secondSubmit = events.filter((e) => e.eventType === 'SUBMIT')[1]!;
    expect(secondSubmit.payload).toMatchObject({ resources: { executor: { memoryMb: 3072, instances: 2 } } });
    expect((await stack.store.getExecution(id))!.resources.executor.memoryMb).toBe(3072);
  });

  it('gives one execution and one backend submission for the same idempotency key submitted twice', async () => {
    const job = { name: 'idempotent', backend: 'sim' as const };
    const first = await submit(job, 'ci-build-4711');
    const second = await submit(job, 'ci-build-4711');
    expect(second.id).toBe(first.id);
    await first.handle.result();
    const third = await submit(job, 'ci-build-4711');
    expect(third.id).toBe(first.id);
    expect(sim.submissions(first.id)).toBe(1);
    const rows = await stack.store.listExecutions({ team: 'lifecycle', jobPath: 'lifecycle/idempotent', limit: 10 });
    expect(rows.items).toHaveLength(1);
  });

  it('refuses the same idempotency key with a different spec', async () => {
    await submit({ name: 'keyed', backend: 'sim' }, 'key-7');
    await expect(submit({ name: 'keyed', backend: 'sim', args: ['other'] }, 'key-7')).rejects.toThrow(
      /already used for a different request/,
    );
  });

  it('finishes the execution through the polling fallback when every status signal is dropped', async () => {
    const polling = await openTestStack({ STATUS_POLL_INTERVAL_MS: '300' });
    try {
      const dropSim = createSimBackend();
      await polling.startWorker({ sim: dropSim });
      const s = JobSpec.parse({
        name: 'no-signals',
        engineVersion: '4.0',
        backend: 'sim',
        application: { type: 'python', file: 'x.py' },
        sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 400, dropSignals: true }] },
      });
      const { execution } = await submitExecution(polling, { team: 'lifecycle', trigger: 'api', spec: s });
      const result: ExecutionResult = await executionHandle(polling.client, execution.executionId).result();
      expect(result.state).toBe('SUCCEEDED');
      expect((await polling.store.getExecution(execution.executionId))!.state).toBe('SUCCEEDED');
    } finally {
      await polling.close();
    }
  });

  it('fails an execution that outlives its timeout with reason TIMEOUT, and cancels the backend run', async () => {
    const { id, handle } = await submit({
      name: 'too-slow',
      backend: 'sim',
      timeoutSeconds: 1,
      sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 600_000 }] },
    });
    const result: ExecutionResult = await handle.result();
    expect(result).toMatchObject({ state: 'FAILED', failureClass: 'TIMEOUT' });
    const run = (await stack.store.getExecution(id))!;
    const status = await sim.status({ executionId: id, attempt: 1, vendorRunId: run.vendorRunId! });
    expect(status.phase).toBe('CANCELLED');
    expect(await eventTypes(id)).toContain('1:CANCEL_REQUESTED');
  });

  it('cancels a running local Spark job: the execution ends CANCELLED and its spark-submit process is gone', async () => {
    const file = pythonJob('slow', [
      'import time',
      'from pyspark.sql import SparkSession',
      'SparkSession.builder.getOrCreate()',
      'time.sleep(600)',
    ]);
    const { id, handle } = await submit({ name: 'slow-job', application: { type: 'python', file } });
    await eventually(
      'RUNNING',
      async () => ((await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined),
      120_000,
    );
    const run = JSON.parse(
      fs.readFileSync(path.join(stack.config.SPARK_RUNNER_DATA, 'runs', id, '1', 'run.json'), 'utf8'),
    ) as { pgid?: number; pid: number };
    const pgid = run.pgid ?? run.pid;
    expect(() => process.kill(-pgid, 0)).not.toThrow();
    const final = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'test cancels', requestedBy: 'me' }] });
    expect(final).toBe('CANCELLED');
    expect((await stack.store.getExecution(id))!.state).toBe('CANCELLED');
    expect(() => process.kill(-pgid, 0)).toThrow();
    expect(await eventTypes(id)).toEqual([
      '1:SUBMIT',
      '1:RUNNING',
      '1:CANCEL_REQUESTED',
      '1:TERMINAL',
      '1:METRICS_SUMMARY',
    ]);
    // A second cancel of the finished execution is refused, and says why.
    await expect(handle.executeUpdate(cancelUpdate, { args: [{}] })).rejects.toThrow(
      /already completed|already finished/,
    );
    expect((await handle.query(checkQuery)).state).toBe('CANCELLED');
  });
});
