/**
 * Retention: what the platform keeps after a run, and for how long, enforced by one sweep that a Temporal
 * Schedule runs (`retention-<task queue>`, every RETENTION_SWEEP_INTERVAL_MS), not a timer inside a process.
 *
 * | what                                  | kept                                                   | policy                      |
 * |---------------------------------------|--------------------------------------------------------|-----------------------------|
 * | archived driver logs                  | archived within the team's log retention               | LOG_RETENTION_[BY_TEAM/]DAYS|
 * | Spark event logs (local directory)    | modified within the team's log retention; in progress: | the same                    |
 * |                                       | until their run is known to have ended                 |                             |
 * | local run directories                 | until LOCAL_RUN_RETENTION_HOURS after the execution    | LOCAL_RUN_RETENTION_HOURS   |
 * |                                       | ended and every attempt's log is archived              |                             |
 * | executions and their events (Postgres)| ended within the team's execution retention            | EXECUTION_RETENTION_…       |
 * | job events (job_events: a streaming   | recorded within the team's execution retention; and,   | the same                    |
 * | job's transitions and samples)        | whatever their age, each job's newest 20 transitions   |                             |
 *
 * The sweep never removes a live or adoptable run: a run directory with a live process, or of an execution that
 * has not finished, stays whatever its age. A run directory with no execution row (its row was swept, or a stray)
 * goes once untouched for the local-run retention.
 */
import { rm } from 'node:fs/promises';
import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type Client } from '@temporalio/client';
import type { Config } from '../config/index.js';
import { listLocalRuns, removeLocalRun } from '../gateway/backends/local/index.js';
import { listEventLogs } from '../observability/event-log.js';
import { isTerminal } from '../schema/states.js';
import { retentionScheduleId } from '../schema/vocabulary.js';
import type { ExecutionStore } from '../store/executions.js';
import { RETENTION_WORKFLOW } from '../workflows/retention-definitions.js';

const DAY_MS = 86_400_000;
/** An in-progress event log nobody accounts for is left this long at least (a run may still be writing it). */
const ORPHAN_IN_PROGRESS_MS = 7 * DAY_MS;
/** Executions removed per batch, so one sweep never holds a long transaction. */
const EXECUTION_BATCH = 500;
/** Job events removed per statement. */
const JOB_EVENT_BATCH = 5_000;
/**
 * A job's newest transitions (non-SAMPLE job events) kept past the retention, so a streaming job that has run for
 * longer than it still shows how its current run started and its last resize: the executions sweep likewise never
 * removes a live run. Progress samples have no such floor; the live loop keeps its own DCR state.
 */
export const JOB_EVENT_TRANSITIONS_KEPT = 20;

export interface RetentionPolicy {
  logDays: number;
  logDaysByTeam: Record<string, number>;
  executionDays: number;
  executionDaysByTeam: Record<string, number>;
  localRunHours: number;
}

export function retentionPolicy(
  config: Pick<
    Config,
    | 'LOG_RETENTION_DAYS'
    | 'LOG_RETENTION_BY_TEAM'
    | 'EXECUTION_RETENTION_DAYS'
    | 'EXECUTION_RETENTION_BY_TEAM'
    | 'LOCAL_RUN_RETENTION_HOURS'
  >,
): RetentionPolicy {
  return {
    logDays: config.LOG_RETENTION_DAYS,
    logDaysByTeam: config.LOG_RETENTION_BY_TEAM,
    executionDays: config.EXECUTION_RETENTION_DAYS,
    executionDaysByTeam: config.EXECUTION_RETENTION_BY_TEAM,
    localRunHours: config.LOCAL_RUN_RETENTION_HOURS,
  };
}

export interface SweepDeps {
  store: ExecutionStore;
  /** The local backend's run directories (this worker's machine), when it has one. */
  runsDir?: string;
  /** The local event-log directory, when there is one. */
  eventLogDir?: string;
  now?: () => Date;
}

/** What one sweep removed, and the live runs it left alone. */
export interface SweepReport {
  archivedLogs: number;
  eventLogs: number;
  runDirs: number;
  liveRunDirs: number;
  executions: number;
  jobEvents: number;
}

const cutoffOf = (now: Date, days: number) => new Date(now.getTime() - days * DAY_MS);
const cutoffsOf = (now: Date, byTeam: Record<string, number>) =>
  Object.fromEntries(Object.entries(byTeam).map(([team, days]) => [team, cutoffOf(now, days)]));

async function sweepEventLogs(deps: SweepDeps, policy: RetentionPolicy, now: Date): Promise<number> {
  if (!deps.eventLogDir) return 0;
  const logs = await listEventLogs(deps.eventLogDir);
  const owners = await deps.store.logs.appOwners(logs.map((l) => l.appId));
  let removed = 0;
  for (const log of logs) {
    const owner = owners.get(log.appId);
    const days = owner ? (policy.logDaysByTeam[owner] ?? policy.logDays) : policy.logDays;
    const age = now.getTime() - log.modifiedAt.getTime();
    if (age < days * DAY_MS) continue;
    // An in-progress log may belong to a run still going: only one whose attempt was archived (it ended), or
    // one nobody accounts for that nothing has touched for a week, goes.
    if (log.inProgress && !owner && age < ORPHAN_IN_PROGRESS_MS) continue;
    await rm(log.path, { recursive: true, force: true });
    removed++;
  }
  return removed;
}

async function sweepRunDirs(deps: SweepDeps, policy: RetentionPolicy, now: Date) {
  if (!deps.runsDir) return { runDirs: 0, liveRunDirs: 0 };
  const runs = await listLocalRuns(deps.runsDir);
  const rows = new Map((await deps.store.executionEnds(runs.map((r) => r.executionId))).map((r) => [r.executionId, r]));
  const archived = await deps.store.logs.archivedAttempts(runs.map((r) => r.executionId));
  const keepMs = policy.localRunHours * 3_600_000;
  let runDirs = 0;
  let liveRunDirs = 0;
  for (const run of runs) {
    if (run.live) {
      liveRunDirs++;
      continue;
    }
    const row = rows.get(run.executionId);
    if (row) {
      // Not finished: a restarted worker may still adopt it. Finished: kept a while after its end.
      if (!isTerminal(row.state) || !row.endTime || now.getTime() - row.endTime.getTime() < keepMs) continue;
      // Its log exists only here until archived; then it goes with the log retention, not before.
      const logDays = policy.logDaysByTeam[row.team] ?? policy.logDays;
      const kept = archived.get(run.executionId);
      const allArchived = run.attempts.every((attempt) => kept?.has(attempt));
      if (!allArchived && now.getTime() - row.endTime.getTime() < logDays * DAY_MS) continue;
    } else if (now.getTime() - run.modifiedAt.getTime() < keepMs) continue;
    if (await removeLocalRun(deps.runsDir, run.executionId)) runDirs++;
    else liveRunDirs++;
  }
  return { runDirs, liveRunDirs };
}

/** One sweep over everything retention covers (see the table above). */
export async function sweepRetention(deps: SweepDeps, policy: RetentionPolicy): Promise<SweepReport> {
  const now = deps.now?.() ?? new Date();
  const archives = await deps.store.logs.sweep(cutoffOf(now, policy.logDays), cutoffsOf(now, policy.logDaysByTeam));
  const eventLogs = await sweepEventLogs(deps, policy, now);
  const dirs = await sweepRunDirs(deps, policy, now);
  let executions = 0;
  for (;;) {
    const removed = await deps.store.removeFinishedExecutions(
      cutoffOf(now, policy.executionDays),
      cutoffsOf(now, policy.executionDaysByTeam),
      EXECUTION_BATCH,
    );
    executions += removed.length;
    if (removed.length < EXECUTION_BATCH) break;
  }
  let jobEvents = 0;
  for (;;) {
    const removed = await deps.store.jobEvents.sweep(
      cutoffOf(now, policy.executionDays),
      cutoffsOf(now, policy.executionDaysByTeam),
      JOB_EVENT_TRANSITIONS_KEPT,
      JOB_EVENT_BATCH,
    );
    jobEvents += removed;
    if (removed < JOB_EVENT_BATCH) break;
  }
  return { archivedLogs: archives.archives, eventLogs, ...dirs, executions, jobEvents };
}

/**
 * Creates the retention sweep's Temporal Schedule for this task queue, or brings its interval up to date.
 * Idempotent: every worker calls it at start.
 */
export async function ensureRetentionSchedule(
  client: Client,
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE' | 'RETENTION_SWEEP_INTERVAL_MS'>,
): Promise<string> {
  const scheduleId = retentionScheduleId(config.TEMPORAL_TASK_QUEUE);
  const spec = { intervals: [{ every: config.RETENTION_SWEEP_INTERVAL_MS }] };
  const action = {
    type: 'startWorkflow' as const,
    workflowType: RETENTION_WORKFLOW,
    workflowId: scheduleId,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [],
  };
  const handle = client.schedule.getHandle(scheduleId);
  try {
    await handle.update((prev) => ({ ...prev, spec, action }));
    return scheduleId;
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  try {
    await client.schedule.create({
      scheduleId,
      spec,
      action,
      // One sweep at a time; a sweep missed while the cluster was down is not worth catching up on.
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: config.RETENTION_SWEEP_INTERVAL_MS },
    });
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err; // another worker created it first
  }
  return scheduleId;
}
