/**
 * The retention sweep (service/retention.ts) as the product runs it: the worker keeps the Temporal Schedule
 * `retention-<task queue>` in place, and a triggered run of it sweeps the real Postgres and this file's data
 * directory. Fixtures are backdated rows, files with old times, and a real live process standing as a local run
 * that must survive; no Spark runs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import { FILES, attemptDir, type RunRecord } from '../../gateway/backends/local/files.js';
import { readStartTicks } from '../../gateway/backends/local/process.js';
import { JobSpec } from '../../schema/job-spec.js';
import type { ExecutionState } from '../../schema/states.js';
import { retentionScheduleId } from '../../schema/vocabulary.js';
import { executionRecord } from '../../store/executions.js';
import type { RetentionSweepResult } from '../../workflows/retention-definitions.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let stack: TestStack;
let live: ChildProcess | undefined;

beforeAll(async () => {
  stack = await openTestStack({
    LOG_RETENTION_DAYS: '7',
    LOG_RETENTION_BY_TEAM: 'ret-short-logs=1',
    EXECUTION_RETENTION_DAYS: '30',
    EXECUTION_RETENTION_BY_TEAM: 'ret-short-runs=2',
    LOCAL_RUN_RETENTION_HOURS: '1',
  });
  await stack.startWorker();
});
afterAll(async () => {
  live?.kill('SIGKILL');
  await stack?.close();
});

const ago = (ms: number) => new Date(Date.now() - ms);

/** An execution row in `state`, ended `endedAgo` ms ago (or not ended), with one event. */
async function execution(team: string, state: ExecutionState, endedAgo?: number): Promise<string> {
  const executionId = randomUUID();
  const spec = JobSpec.parse({
    name: 'kept-or-not',
    engineVersion: '4.0',
    application: { type: 'python', file: 'x.py' },
  });
  const input = { executionId, team, jobPath: `${team}/kept-or-not`, trigger: 'api' as const, spec, requestHash: 'h' };
  await stack.store.createExecution({ ...executionRecord(input), createdAt: ago((endedAgo ?? 0) + HOUR) });
  await stack.store.recordEvent({
    executionId,
    attempt: 1,
    type: 'SUBMIT',
    at: new Date(),
    payload: {},
    patch: { state, attempt: 1, ...(endedAgo !== undefined ? { endTime: ago(endedAgo) } : {}) },
  });
  return executionId;
}

async function archived(team: string, archivedAgo: number, appId?: string, executionId: string = randomUUID()) {
  const key = { executionId, attempt: 1 };
  await stack.store.logs.archive(
    key,
    function* () {
      yield Buffer.from('a line\n');
    },
    { team, maxBytes: 1 << 20, now: ago(archivedAgo), ...(appId ? { appId } : {}) },
  );
  return key;
}

function touch(file: string, modifiedAgo: number): void {
  const at = ago(modifiedAgo);
  fs.utimesSync(file, at, at);
}

/** A rolling event log directory of `appId`, last written `modifiedAgo` ms ago. */
function eventLog(appId: string, modifiedAgo: number): string {
  const dir = path.join(dataPaths(stack.config).eventLogDir, `eventlog_v2_${appId}`);
  fs.mkdirSync(dir, { recursive: true });
  for (const name of [`events_1_${appId}.zstd`, `appstatus_${appId}`]) {
    fs.writeFileSync(path.join(dir, name), '');
    touch(path.join(dir, name), modifiedAgo);
  }
  touch(dir, modifiedAgo);
  return dir;
}

/** A finished local run's directory (exit code written), or a live one whose recorded process is `pid`. */
function runDir(executionId: string, options: { livePid?: number; startTicks?: number } = {}): string {
  const dir = attemptDir(dataPaths(stack.config).runsDir, executionId, 1);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, FILES.log), 'driver output\n');
  const pid = options.livePid ?? 999_999;
  const record: RunRecord = {
    executionId,
    attempt: 1,
    vendorRunId: `local-${executionId}-1`,
    pid,
    pgid: pid,
    ...(options.startTicks !== undefined ? { startTicks: options.startTicks } : {}),
    command: 'spark-submit',
    args: [],
    submittedAt: ago(3 * HOUR).toISOString(),
  };
  fs.writeFileSync(path.join(dir, FILES.record), JSON.stringify(record));
  if (options.livePid === undefined) fs.writeFileSync(path.join(dir, FILES.exitCode), '0\n');
  return path.dirname(dir);
}

async function sweep(): Promise<RetentionSweepResult> {
  const schedule = stack.client.schedule.getHandle(retentionScheduleId(stack.config.TEMPORAL_TASK_QUEUE));
  const before = (await schedule.describe()).info.recentActions.length;
  await schedule.trigger();
  const action = await eventually('the sweep to start', async () => {
    const actions = (await schedule.describe()).info.recentActions;
    return actions.length > before ? actions.at(-1) : undefined;
  });
  const workflowId = action.action.workflow.workflowId;
  return stack.client.workflow.getHandle<() => Promise<RetentionSweepResult>>(workflowId).result();
}

describe('the retention sweep', () => {
  it('is a Temporal Schedule the worker keeps, running every RETENTION_SWEEP_INTERVAL_MS', async () => {
    const described = await stack.client.schedule
      .getHandle(retentionScheduleId(stack.config.TEMPORAL_TASK_QUEUE))
      .describe();
    expect(described.spec.intervals).toMatchObject([{ every: stack.config.RETENTION_SWEEP_INTERVAL_MS }]);
    expect(described.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'retentionSweepWorkflow',
      taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
    });
    expect(described.policies.overlap).toBe('SKIP');
  });

  it('removes the logs, event logs, run directories and executions older than the policy, and only those', async () => {
    // Archived logs: the default 7 days, and 1 day for ret-short-logs.
    const oldDefault = await archived('ret-keep', 8 * DAY);
    const youngDefault = await archived('ret-keep', 3 * DAY);
    const oldShort = await archived('ret-short-logs', 2 * DAY);
    const youngShort = await archived('ret-short-logs', 12 * HOUR, 'local-4444');

    // Event logs, by their application's team when an archived attempt names it.
    const oldEventLog = eventLog('local-1111', 8 * DAY);
    const youngEventLog = eventLog('local-2222', 2 * DAY);
    const shortTeamEventLog = eventLog('local-4444', 2 * DAY);

    // Local run directories: finished an hour and more ago (archived or not), live, unfinished, just finished.
    const finished = await execution('ret-keep', 'SUCCEEDED', 2 * HOUR);
    await archived('ret-keep', 2 * HOUR, undefined, finished);
    const finishedDir = runDir(finished);
    const notArchived = await execution('ret-keep', 'SUCCEEDED', 2 * HOUR);
    const notArchivedDir = runDir(notArchived);
    live = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    const livePid = live.pid!;
    const liveRun = await execution('ret-keep', 'SUCCEEDED', 2 * HOUR);
    const liveDir = runDir(liveRun, { livePid, startTicks: (await readStartTicks(livePid))! });
    const unfinished = await execution('ret-keep', 'RUNNING');
    await archived('ret-keep', 2 * HOUR, undefined, unfinished);
    const unfinishedDir = runDir(unfinished);
    const justFinished = await execution('ret-keep', 'SUCCEEDED', 10 * 60_000);
    await archived('ret-keep', 10 * 60_000, undefined, justFinished);
    const justFinishedDir = runDir(justFinished);
    for (const dir of [finishedDir, notArchivedDir, liveDir, unfinishedDir, justFinishedDir]) touch(dir, 3 * HOUR);

    // Executions: the default 30 days, and 2 days for ret-short-runs; never one that has not finished.
    const oldShortRun = await execution('ret-short-runs', 'SUCCEEDED', 3 * DAY);
    await archived('ret-short-runs', 3 * HOUR, undefined, oldShortRun);
    const keptRun = await execution('ret-keep', 'FAILED', 3 * DAY);
    const runningShort = await execution('ret-short-runs', 'RUNNING');

    const report = await sweep();

    const has = async (key: { executionId: string; attempt: number }) =>
      (await stack.store.logs.info(key)) !== undefined;
    expect(await has(oldDefault)).toBe(false);
    expect(await has(oldShort)).toBe(false);
    expect(await has(youngDefault)).toBe(true);
    expect(await has(youngShort)).toBe(true);

    expect(fs.existsSync(oldEventLog)).toBe(false);
    expect(fs.existsSync(shortTeamEventLog)).toBe(false);
    expect(fs.existsSync(youngEventLog)).toBe(true);

    expect(fs.existsSync(finishedDir)).toBe(false);
    expect(await has({ executionId: finished, attempt: 1 })).toBe(true);
    expect(fs.existsSync(notArchivedDir)).toBe(true);
    expect(fs.existsSync(liveDir)).toBe(true);
    expect(fs.existsSync(unfinishedDir)).toBe(true);
    expect(fs.existsSync(justFinishedDir)).toBe(true);

    expect(await stack.store.getExecution(oldShortRun)).toBeUndefined();
    expect(await stack.store.listEvents(oldShortRun)).toEqual([]);
    expect(await has({ executionId: oldShortRun, attempt: 1 })).toBe(false);
    expect(await stack.store.getExecution(keptRun)).toBeDefined();
    expect(await stack.store.getExecution(runningShort)).toBeDefined();

    expect(report).toMatchObject({ runDirs: 1, liveRunDirs: 1, eventLogs: 2 });
    expect(report.archivedLogs).toBeGreaterThanOrEqual(2);
    expect(report.executions).toBeGreaterThanOrEqual(1);
  });

  it("removes job events older than the team's execution retention, but keeps each job's newest 20 transitions", async () => {
    // A streaming job of ret-short-runs (2 days): 25 transitions and 5 samples from 3 days ago, 2 samples from now.
    const short = `ret-short-runs/stream-${randomUUID().slice(0, 8)}`;
    const kept = `ret-keep/stream-${randomUUID().slice(0, 8)}`;
    const append = (jobPath: string, type: 'RUN_STARTED' | 'SAMPLE', key: string, agoMs: number) =>
      stack.store.jobEvents.append({ jobPath, type, idempotencyKey: key, at: ago(agoMs), payload: { key } });
    for (let i = 0; i < 25; i++) await append(short, 'RUN_STARTED', `run-${i}`, 3 * DAY - i * 60_000);
    for (let i = 0; i < 5; i++) await append(short, 'SAMPLE', `old-sample-${i}`, 3 * DAY - i * 60_000);
    for (let i = 0; i < 2; i++) await append(short, 'SAMPLE', `new-sample-${i}`, HOUR - i * 60_000);
    // The same ages under the default 30 days: nothing of this job goes.
    await append(kept, 'SAMPLE', 'old-sample', 3 * DAY);
    await append(kept, 'RUN_STARTED', 'run', 3 * DAY);

    const report = await sweep();

    const keys = async (jobPath: string) =>
      (await stack.store.jobEvents.list(jobPath, { limit: 100 })).map((e) => e.payload.key as string);
    expect(await keys(short)).toEqual([
      ...Array.from({ length: 20 }, (_, i) => `run-${i + 5}`),
      'new-sample-0',
      'new-sample-1',
    ]);
    expect(await keys(kept)).toEqual(['old-sample', 'run']);
    expect(report.jobEvents).toBeGreaterThanOrEqual(10);
  });
});
