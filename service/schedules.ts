/**
 * Temporal Schedules for manifest jobs: one schedule per batch job with `orchestration.schedule`, id
 * `sched-<team>.<name>` (team and name are DNS labels, so the dot makes the id reversible and URL-safe).
 *
 * The schedule's action starts `executionWorkflow` directly with an ExecutionInput built at apply time
 * (trigger `schedule`). Temporal names each run's workflow `exec-sched-<team>.<name>-<nominal time, RFC 3339>`.
 * The desired config (schedule + spec hash) rides in the action's memo under `dcp`, because a schedule's own
 * memo cannot be updated and `describe()` returns cron as structured calendars, not the text that was applied.
 *
 * Errors: ScheduleNotFound when the id does not exist (API: 404); Temporal's own errors pass through.
 */
import {
  ScheduleNotFoundError,
  type Client,
  type ScheduleDescription,
  type ScheduleOptionsStartWorkflowAction,
} from '@temporalio/client';
import { teamLimit, type Config } from '../config/index.js';
import { scheduleSpecFor, type OverlapPolicy, type ScheduleConfig } from '../dcp/schedule.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { ExecutionRow, ExecutionStore } from '../store/executions.js';
import { canonicalHash, executionIdFor } from '../store/ids.js';
import {
  jobPathOfScheduleId,
  scheduledRunWorkflowIdPrefix,
  scheduleIdOf,
  searchAttributes,
} from '../schema/vocabulary.js';
import { EXECUTION_WORKFLOW, type ExecutionInput, type ExecutionWorkflow } from '../workflows/definitions.js';
import { NotFound } from './errors.js';

export interface ScheduleDeps {
  client: Client;
  store: ExecutionStore;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE' | 'TEAM_CONCURRENCY_LIMITS' | 'DEFAULT_TEAM_CONCURRENCY'>;
}

export class ScheduleNotFound extends NotFound {
  override readonly name = 'ScheduleNotFound';
}

/** What the schedule was applied with; stored in the action memo and compared by diff. */
export interface AppliedSchedule {
  jobPath: string;
  team: string;
  owner?: string;
  schedule: ScheduleConfig;
  specHash: string;
}

/**
 * The execution input every run of the schedule starts with. `executionId` is a placeholder derived from the job
 * path: the workflow gives each scheduled run its own id (see the integrator notes in the report / README).
 */
export function scheduledInput(
  config: ScheduleDeps['config'],
  job: { team: string; jobPath: string; owner?: string; spec: NormalizedJobSpec },
): ExecutionInput {
  return {
    executionId: executionIdFor(job.team, `schedule:${job.jobPath}`),
    team: job.team,
    jobPath: job.jobPath,
    owner: job.owner,
    trigger: 'schedule',
    spec: job.spec,
    requestHash: canonicalHash({ team: job.team, owner: job.owner ?? null, spec: job.spec }),
    teamLimit: teamLimit(config, job.team),
  };
}

function actionFor(
  config: ScheduleDeps['config'],
  applied: AppliedSchedule,
  spec: NormalizedJobSpec,
): ScheduleOptionsStartWorkflowAction<ExecutionWorkflow> {
  const input = scheduledInput(config, { ...applied, spec });
  return {
    type: 'startWorkflow',
    workflowType: EXECUTION_WORKFLOW,
    workflowId: scheduledRunWorkflowIdPrefix(applied.jobPath),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input],
    memo: { dcp: applied },
    typedSearchAttributes: searchAttributes({ team: applied.team, jobPath: applied.jobPath, trigger: 'schedule' }),
  };
}

/** Creates the job's schedule, or updates it in place (keeping paused state and note). */
export async function upsertSchedule(
  deps: ScheduleDeps,
  applied: AppliedSchedule,
  spec: NormalizedJobSpec,
): Promise<'created' | 'updated'> {
  const scheduleId = scheduleIdOf(applied.jobPath);
  const action = actionFor(deps.config, applied, spec);
  const specOpts = scheduleSpecFor(applied.schedule);
  const policies = { overlap: applied.schedule.overlap, catchupWindow: applied.schedule.catchupWindowMs };
  const handle = deps.client.schedule.getHandle(scheduleId);
  try {
    await handle.update((prev) => ({ ...prev, spec: specOpts, action, policies: { ...prev.policies, ...policies } }));
    return 'updated';
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
  }
  await deps.client.schedule.create({
    scheduleId,
    spec: specOpts,
    action,
    policies,
    memo: { jobPath: applied.jobPath },
  });
  return 'created';
}

/** Deletes the job's schedule; false when there was none. Executions already started keep running and stay recorded. */
export async function deleteSchedule(deps: Pick<ScheduleDeps, 'client'>, jobPath: string): Promise<boolean> {
  try {
    await deps.client.schedule.getHandle(scheduleIdOf(jobPath)).delete();
    return true;
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return false;
    throw err;
  }
}

/** The applied config of the job's schedule, or undefined when it has none. */
export async function appliedSchedule(
  deps: Pick<ScheduleDeps, 'client'>,
  jobPath: string,
): Promise<{ applied?: AppliedSchedule; description: ScheduleDescription } | undefined> {
  const description = await describeOrUndefined(deps.client, scheduleIdOf(jobPath));
  if (!description) return undefined;
  const action = description.action as { memo?: Record<string, unknown> };
  return { applied: action.memo?.dcp as AppliedSchedule | undefined, description };
}

async function describeOrUndefined(client: Client, scheduleId: string): Promise<ScheduleDescription | undefined> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) return undefined;
    throw err;
  }
}

/** A schedule as the API shows it. */
export interface ScheduleView {
  scheduleId: string;
  jobPath: string;
  team: string;
  schedule?: ScheduleConfig;
  paused: boolean;
  note?: string;
  nextRunTimes: string[];
  recentRuns: RecentRun[];
  runningWorkflowIds: string[];
  numActionsTaken: number;
  numActionsSkippedOverlap: number;
  numActionsMissedCatchupWindow: number;
}

export interface RecentRun {
  scheduledAt: string;
  takenAt: string;
  workflowId: string;
  /** From the store, once the run has recorded itself. */
  executionId?: string;
  state?: ExecutionRow['state'];
}

/** Describes one schedule with its next run times and recent runs (joined to their executions). */
export async function getSchedule(deps: ScheduleDeps, scheduleId: string): Promise<ScheduleView> {
  const jobPath = jobPathOfScheduleId(scheduleId);
  const description = jobPath ? await describeOrUndefined(deps.client, scheduleId) : undefined;
  if (!jobPath || !description) throw new ScheduleNotFound(`no schedule "${scheduleId}"`);
  const applied = (description.action as { memo?: Record<string, unknown> }).memo?.dcp as AppliedSchedule | undefined;
  const { items } = await deps.store.listExecutions({ jobPath, limit: 100 });
  // A scheduled execution runs as the child `exec-<executionId>` of the run Temporal started (see the note in
  // workflows/execution.ts), so it is found by its scheduled time; the workflow id covers a direct start.
  const byWorkflow = new Map(items.map((row) => [row.workflowId, row]));
  const byTime = new Map(
    items.filter((row) => row.trigger === 'schedule' && row.scheduledTime).map((r) => [r.scheduledTime!.getTime(), r]),
  );
  return {
    scheduleId,
    jobPath,
    team: jobPath.split('/')[0]!,
    schedule: applied?.schedule,
    paused: description.state.paused,
    note: description.state.note,
    nextRunTimes: description.info.nextActionTimes.map((d) => d.toISOString()),
    recentRuns: description.info.recentActions.map((a) => {
      const row = byWorkflow.get(a.action.workflow.workflowId) ?? byTime.get(a.scheduledAt.getTime());
      return {
        scheduledAt: a.scheduledAt.toISOString(),
        takenAt: a.takenAt.toISOString(),
        workflowId: a.action.workflow.workflowId,
        executionId: row?.executionId,
        state: row?.state,
      };
    }),
    runningWorkflowIds: description.info.runningActions.map((a) => a.workflow.workflowId),
    numActionsTaken: description.info.numActionsTaken,
    numActionsSkippedOverlap: description.info.numActionsSkippedOverlap,
    numActionsMissedCatchupWindow: description.info.numActionsMissedCatchupWindow,
  };
}

/** Our schedules, optionally one team's; ids only (visibility is eventually consistent: a new one may lag). */
export async function listSchedules(
  deps: Pick<ScheduleDeps, 'client'>,
  team?: string,
): Promise<{ scheduleId: string; jobPath: string; paused: boolean; nextRunTimes: string[] }[]> {
  const out: { scheduleId: string; jobPath: string; paused: boolean; nextRunTimes: string[] }[] = [];
  for await (const s of deps.client.schedule.list()) {
    const jobPath = jobPathOfScheduleId(s.scheduleId);
    if (!jobPath || (team && !jobPath.startsWith(`${team}/`))) continue;
    out.push({
      scheduleId: s.scheduleId,
      jobPath,
      paused: s.state.paused,
      nextRunTimes: (s.info?.nextActionTimes ?? []).map((d) => d.toISOString()),
    });
  }
  return out.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

async function withHandle<T>(
  client: Client,
  scheduleId: string,
  fn: (h: ReturnType<Client['schedule']['getHandle']>) => Promise<T>,
) {
  if (!jobPathOfScheduleId(scheduleId)) throw new ScheduleNotFound(`no schedule "${scheduleId}"`);
  try {
    return await fn(client.schedule.getHandle(scheduleId));
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new ScheduleNotFound(`no schedule "${scheduleId}"`);
    throw err;
  }
}

export const pauseSchedule = (client: Client, scheduleId: string, note?: string) =>
  withHandle(client, scheduleId, (h) => h.pause(note ?? 'paused'));

export const unpauseSchedule = (client: Client, scheduleId: string, note?: string) =>
  withHandle(client, scheduleId, (h) => h.unpause(note ?? 'unpaused'));

/** Runs the job now; by default under the schedule's own overlap policy (Temporal's default for a trigger is ALLOW_ALL). */
export const triggerSchedule = (client: Client, scheduleId: string, overlap?: OverlapPolicy) =>
  withHandle(client, scheduleId, async (h) => {
    const policy = overlap ?? (await h.describe()).policies.overlap;
    await h.trigger(policy);
  });

/**
 * Runs every time the schedule would have fired in [start, end). BUFFER_ALL by default, so each of those times
 * runs exactly once (one after another) instead of being skipped as an overlap of the one before.
 */
export const backfillSchedule = (
  client: Client,
  scheduleId: string,
  range: { start: Date; end: Date; overlap?: OverlapPolicy },
) =>
  withHandle(client, scheduleId, (h) =>
    h.backfill({ start: range.start, end: range.end, overlap: range.overlap ?? 'BUFFER_ALL' }),
  );
