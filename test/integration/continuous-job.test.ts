/**
 * Streaming jobs (issue 7): the continuous-job workflow on the real stack, with a real Structured Streaming job
 * (examples/streaming/rate_to_files.py: a `rate` source to a JSON file sink, one micro-batch per second) on real
 * local Spark. Checkpoint progress is read from the checkpoint directory itself: `commits/<batch id>`.
 *
 * The two tests run concurrently to keep the wall time down; each uses its own workflow, output and checkpoint.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGroupAlive } from '../../gateway/backends/local/process.js';
import { stopLocalRuns } from '../../gateway/backends/local/index.js';
import { JobSpec } from '../../schema/job-spec.js';
import {
  CONTINUOUS_JOB_WORKFLOW,
  continuousStateQuery,
  resizeSignal,
  resumeUpdate,
  stopUpdate,
  updateSpecUpdate,
  type ContinuousJobInput,
  type ContinuousState,
} from '../../workflows/continuous-definitions.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const STREAMING_APP = path.resolve('examples/streaming/rate_to_files.py');
let stack: TestStack;
let runsDir: string;
const handles: WorkflowHandle[] = [];
const workerProcesses: ChildProcess[] = [];

beforeAll(async () => {
  stack = await openTestStack({ STATUS_POLL_INTERVAL_MS: '2000' });
  runsDir = path.join(stack.config.SPARK_RUNNER_DATA, 'runs');
  await stack.startWorker();
});
afterAll(async () => {
  for (const w of workerProcesses) w.kill('SIGKILL');
  await Promise.allSettled(handles.map((h) => h.terminate('test cleanup')));
  if (runsDir) await stopLocalRuns(runsDir, 1_000);
  await stack?.close();
});

async function startJob(
  name: string,
  input: Omit<ContinuousJobInput, 'team' | 'jobPath'>,
  taskQueue = stack.config.TEMPORAL_TASK_QUEUE,
) {
  const handle = await stack.client.workflow.start(CONTINUOUS_JOB_WORKFLOW, {
    workflowId: `continuous-streaming.${name}-${crypto.randomUUID().slice(0, 8)}`,
    taskQueue,
    args: [{ team: 'streaming', jobPath: `streaming/${name}`, ...input } satisfies ContinuousJobInput],
  });
  handles.push(handle);
  return handle;
}

const stateOf = (handle: WorkflowHandle) => handle.query(continuousStateQuery);

/** Waits until the loop's state satisfies `ok`. */
function stateWhere(handle: WorkflowHandle, what: string, ok: (s: ContinuousState) => boolean, timeoutMs = 240_000) {
  return eventually(
    what,
    async () => {
      const s = await stateOf(handle);
      return ok(s) ? s : undefined;
    },
    timeoutMs,
  );
}

/** Batch ids the streaming query has committed to its checkpoint, ascending. */
function committedBatches(checkpoint: string): number[] {
  const dir = path.join(checkpoint, 'commits');
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+$/.test(f))
    .map(Number)
    .sort((a, b) => a - b);
}

function waitForCommit(checkpoint: string, what: string, minBatchId: number) {
  return eventually(
    what,
    async () => {
      const ids = committedBatches(checkpoint);
      return Promise.resolve((ids.at(-1) ?? -1) >= minBatchId ? ids : undefined);
    },
    240_000,
  );
}

function runRecord(executionId: string): { pgid: number; startTicks?: number } {
  return JSON.parse(fs.readFileSync(path.join(runsDir, executionId, '1', 'run.json'), 'utf8')) as {
    pgid: number;
    startTicks?: number;
  };
}

async function processGone(executionId: string): Promise<boolean> {
  // Stopped before its submit: no process was ever started.
  if (!fs.existsSync(path.join(runsDir, executionId, '1', 'run.json'))) return true;
  const { pgid, startTicks } = runRecord(executionId);
  return !(await isGroupAlive(pgid, startTicks));
}

/** Starts bin/worker.ts as its own process on `taskQueue`, sharing this file's data directory. */
function startWorkerProcess(taskQueue: string): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bin/worker.ts')], {
    env: { ...stack.env, TEMPORAL_TASK_QUEUE: taskQueue },
    stdio: 'ignore',
  });
  workerProcesses.push(child);
  return child;
}

function writeCrashingApp(prefix: string): string {
  const work = fs.mkdtempSync(path.join(stack.config.SPARK_RUNNER_DATA, prefix));
  const app = path.join(work, 'crash_at_start.py');
  fs.writeFileSync(app, 'raise RuntimeError("the stream cannot start: bad source options")\n');
  return app;
}

function expectContiguousFromZero(ids: number[]) {
  expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i));
}

describe('continuous streaming jobs', () => {
  it.concurrent(
    'restarts a killed streaming run from its checkpoint, redeploys a new spec and a resize onto the same checkpoint, continues as new with its state, stops with no process left, and resumes',
    async () => {
      const work = fs.mkdtempSync(path.join(stack.config.SPARK_RUNNER_DATA, 'rate-'));
      const output = path.join(work, 'out');
      const checkpoint = path.join(work, 'checkpoint');
      const spec = JobSpec.parse({
        name: 'rate-to-files',
        engineVersion: '4.0',
        backend: 'local',
        jobType: 'streaming',
        application: { type: 'python', file: STREAMING_APP },
        args: [output, checkpoint, '5'],
        // Keep every batch's files, so the test can see the whole id sequence.
        sparkConf: { 'spark.sql.shuffle.partitions': '1', 'spark.sql.streaming.minBatchesToRetain': '1000' },
      });
      const handle = await startJob('rate-to-files', {
        spec,
        settings: { backoffBaseMs: 1_000, healthyAfterMs: 120_000, continueAsNewAfterRuns: 2 },
      });
      const firstRunId = (await handle.describe()).runId;

      // 1. A run is up and committing micro-batches.
      const first = await stateWhere(handle, 'the first run', (s) => s.status === 'RUNNING');
      const exec1 = first.currentExecutionId!;
      await waitForCommit(checkpoint, 'two committed batches', 1);

      // 2. SIGKILL its process group: the loop classifies the loss and restarts on the same checkpoint.
      const { pgid } = runRecord(exec1);
      process.kill(-pgid, 'SIGKILL');
      await eventually('the killed group to be gone', async () => ((await processGone(exec1)) ? true : undefined));
      const beforeKill = committedBatches(checkpoint);
      const killMax = beforeKill.at(-1)!;

      const restarted = await stateWhere(
        handle,
        'a restarted run',
        (s) => s.restartCount === 1 && s.status === 'RUNNING' && s.currentExecutionId !== exec1,
      );
      const exec2 = restarted.currentExecutionId!;
      expect(restarted.lastFailure).toMatchObject({ executionId: exec1, state: 'FAILED', failureClass: 'INFRA' });
      expect(restarted.executionIds).toEqual([exec1, exec2]);
      const row1 = await stack.store.getExecution(exec1);
      expect(row1).toMatchObject({ state: 'FAILED', trigger: 'continuous', failureClass: 'INFRA' });
      expect(
        (await eventually(`execution ${exec2} to be recorded`, () => stack.store.getExecution(exec2))).trigger,
      ).toBe('continuous');

      // The new run resumes at the next batch, never at batch 0, and the ids keep increasing without a gap.
      const afterRestart = await waitForCommit(checkpoint, 'batches from the restarted run', killMax + 2);
      const newBatches = afterRestart.filter((id) => !beforeKill.includes(id));
      expect(newBatches[0]).toBe(killMax + 1);
      expect(newBatches[0]).toBeGreaterThan(0);
      expectContiguousFromZero(afterRestart);

      // 3. A spec update redeploys: the old run is stopped (its process gone), the new one takes the checkpoint.
      const v2 = { ...spec, labels: { ...spec.labels, release: 'v2' } };
      expect(await handle.executeUpdate(updateSpecUpdate, { args: [{ spec: v2, version: 2 }] })).toBe(2);
      await expect(handle.executeUpdate(updateSpecUpdate, { args: [{ spec: v2, version: 2 }] })).rejects.toMatchObject({
        cause: { message: expect.stringMatching(/not newer/) as unknown },
      });
      const redeployed = await stateWhere(
        handle,
        'the redeployed run',
        (s) => s.status === 'RUNNING' && s.runningSpecVersion === 2,
      );
      const exec3 = redeployed.currentExecutionId!;
      expect(exec3).not.toBe(exec2);
      expect(await processGone(exec2)).toBe(true);
      expect((await stack.store.getExecution(exec2))?.state).toBe('CANCELLED');
      const beforeRedeploy = committedBatches(checkpoint);
      const redeployMax = beforeRedeploy.at(-1)!;
      const afterRedeploy = await waitForCommit(checkpoint, 'batches from the redeployed run', redeployMax + 2);
      expectContiguousFromZero(afterRedeploy);

      // 4. Two runs ended in the first workflow run (threshold 2): it continued as new, carrying its state.
      expect(redeployed).toMatchObject({ continuedAsNew: 1, specVersion: 2, restartCount: 1 });
      expect(redeployed.executionIds).toEqual([exec1, exec2, exec3]);
      expect((await handle.describe()).runId).not.toBe(firstRunId);

      // 5. Resize (the DCR / APS signal): a redeploy with the new resources, as spec version 3.
      await handle.signal(resizeSignal, { ...spec.resources, driver: { cores: 1, memoryMb: 1536 } });
      const resized = await stateWhere(
        handle,
        'the resized run',
        (s) => s.status === 'RUNNING' && s.runningSpecVersion === 3,
      );
      const exec4 = resized.currentExecutionId!;
      expect(await processGone(exec3)).toBe(true);
      // The loop knows the new run as soon as it starts; its row is written by the run's first activity.
      const row4 = await eventually(`execution ${exec4} to be recorded`, () => stack.store.getExecution(exec4));
      expect(row4.resources.driver.memoryMb).toBe(1536);
      const beforeResize = committedBatches(checkpoint).at(-1)!;
      expectContiguousFromZero(await waitForCommit(checkpoint, 'batches from the resized run', beforeResize + 2));

      // 6. Stop: the run ends cleanly (CANCELLED, no process left) and the loop idles in STOPPED.
      expect(await handle.executeUpdate(stopUpdate, { args: [{ reason: 'test stop' }] })).toBe('STOPPED');
      const stopped = await stateOf(handle);
      expect(stopped).toMatchObject({ status: 'STOPPED', specVersion: 3, restartCount: 1 });
      expect(stopped.currentExecutionId).toBeUndefined();
      expect(await processGone(exec4)).toBe(true);
      expect((await stack.store.getExecution(exec4))?.state).toBe('CANCELLED');
      expect((await handle.describe()).status.name).toBe('RUNNING');

      // 7. Resume from STOPPED starts a run again; cancelling the workflow itself stops that run first.
      await handle.executeUpdate(resumeUpdate, { args: [] });
      const again = await stateWhere(handle, 'a run after resume', (s) => s.status === 'RUNNING');
      const exec5 = again.currentExecutionId!;
      expect(exec5).not.toBe(exec4);
      const beforeCancel = committedBatches(checkpoint).at(-1)!;
      await waitForCommit(checkpoint, 'batches after resume', beforeCancel + 1);
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow();
      expect((await handle.describe()).status.name).toBe('CANCELLED');
      expect(await processGone(exec5)).toBe(true);
      expect((await stack.store.getExecution(exec5))?.state).toBe('CANCELLED');
    },
    600_000,
  );

  it.concurrent(
    'marks a crash-looping job DEGRADED once the cap is reached, stops restarting it, and restarts it on resume',
    async () => {
      const app = writeCrashingApp('crash-');
      const spec = JobSpec.parse({
        name: 'crash-loop',
        engineVersion: '4.0',
        backend: 'local',
        jobType: 'streaming',
        application: { type: 'python', file: app },
      });
      const handle = await startJob('crash-loop', {
        spec,
        settings: { backoffBaseMs: 500, crashLoopMaxFailures: 2, crashLoopWindowMs: 10 * 60_000 },
      });

      // Three failures within the window exceed N = 2: DEGRADED after two restarts, and no fourth run.
      const degraded = await stateWhere(handle, 'DEGRADED', (s) => s.status === 'DEGRADED');
      expect(degraded).toMatchObject({ degraded: true, restartCount: 2 });
      expect(degraded.currentExecutionId).toBeUndefined();
      expect(degraded.executionIds).toHaveLength(3);
      expect(degraded.lastFailure).toMatchObject({ state: 'FAILED', failureClass: 'USER_ERROR' });
      for (const id of degraded.executionIds) {
        expect(await stack.store.getExecution(id)).toMatchObject({
          state: 'FAILED',
          trigger: 'continuous',
          attempt: 1,
        });
      }
      const memo = (await handle.describe()).memo as { continuous?: { status: string; degraded: boolean } };
      expect(memo.continuous).toMatchObject({ status: 'DEGRADED', degraded: true });
      await new Promise((r) => setTimeout(r, 3_000));
      expect((await stateOf(handle)).executionIds).toHaveLength(3);

      // Resume clears DEGRADED and starts a new run; then stop it.
      await handle.executeUpdate(resumeUpdate, { args: [] });
      const resumed = await stateWhere(handle, 'a run after resume', (s) => s.executionIds.length === 4);
      expect(resumed.degraded).toBe(false);
      expect(await handle.executeUpdate(stopUpdate, { args: [{}] })).toBe('STOPPED');
      const last = resumed.executionIds[3]!;
      expect(await processGone(last)).toBe(true);
    },
    600_000,
  );

  it.concurrent(
    'keeps a job whose worker was killed during a restart backoff, and starts exactly one run when the backoff ends',
    async () => {
      const taskQueue = `${stack.config.TEMPORAL_TASK_QUEUE}-crash`;
      const first = startWorkerProcess(taskQueue);
      const spec = JobSpec.parse({
        name: 'worker-killed',
        engineVersion: '4.0',
        backend: 'local',
        jobType: 'streaming',
        application: { type: 'python', file: writeCrashingApp('killed-') },
      });
      const handle = await startJob(
        'worker-killed',
        { spec, settings: { backoffBaseMs: 8_000, crashLoopMaxFailures: 10 } },
        taskQueue,
      );
      const backingOff = await stateWhere(
        handle,
        'the first backoff',
        (s) => s.status === 'BACKOFF' && s.executionIds.length === 1,
      );
      expect(backingOff.nextRestartAt).toBeDefined();

      first.kill('SIGKILL');
      await new Promise((resolve) => first.once('exit', resolve));
      startWorkerProcess(taskQueue);

      // The durable timer fires while no worker is up; the new worker starts the one restart it stands for.
      const again = await stateWhere(
        handle,
        'the second backoff',
        (s) => s.status === 'BACKOFF' && s.executionIds.length === 2,
      );
      expect(again).toMatchObject({ restartCount: 1, consecutiveFailures: 2 });
      const { items } = await stack.store.listExecutions({ jobPath: 'streaming/worker-killed', limit: 50 });
      expect(items.map((e) => e.executionId).sort()).toEqual([...again.executionIds].sort());
      for (const id of again.executionIds) expect(fs.readdirSync(path.join(runsDir, id))).toEqual(['1']);

      expect(await handle.executeUpdate(stopUpdate, { args: [{ reason: 'test done' }] })).toBe('STOPPED');
    },
    600_000,
  );
});
