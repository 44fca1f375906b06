/**
 * apply / diff / delete / get / list for manifest jobs.
 *
 * apply is an idempotent upsert: each job's desired state (owner, normalized spec, schedule) is compared with
 * what is recorded (the jobs row and the Temporal Schedule's applied config), and only a difference writes
 * anything. A batch job with a schedule gets a Temporal Schedule; a streaming job gets its continuous-job loop
 * (started, or handed the new spec for a redeploy); a job whose schedule was removed loses its Temporal Schedule.
 * Everything is checked (team access, engine versions) before the first write, so a rejected manifest changes
 * nothing.
 *
 * Streaming resources: a re-apply that changes only `spec.resources` is a resize (the loop records RESIZED, with
 * the manifest as the reason); any other change is a redeploy (REDEPLOYED). DCR owns the resources of a job it
 * resized itself: while the manifest still declares the resources DCR started from (found by walking the job's
 * RESIZED events whose source is `dcr:<rule>` back from the recorded resources), the re-apply keeps DCR's
 * resources, and reports no change for them. A manifest that declares new resources wins, as does any resize by
 * the API, which a re-apply of the manifest undoes (README, "Resizing a streaming job").
 */
import type { ManifestJob, ManifestPool } from '../dcp/manifest.js';
import { Forbidden } from './errors.js';
import type { ScheduleConfig } from '../dcp/schedule.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { ExecutionRow, JobRow } from '../store/executions.js';
import { scheduleIdOf } from '../schema/vocabulary.js';
import { canonicalHash } from '../store/ids.js';
import {
  appliedSchedule,
  deleteSchedule,
  upsertSchedule,
  type AppliedSchedule,
  type ScheduleDeps,
} from './schedules.js';
import { assertAcceptable, SubmitRejected, type SubmitDeps } from './submit.js';
import { continuousState, deployContinuousJob, removeContinuousJob } from './continuous.js';
import type { ContinuousState } from '../workflows/continuous-definitions.js';
import { applyPool, assertSessionVersion, deletePool, type SessionDeps } from './sessions.js';

export type ManifestDeps = ScheduleDeps & {
  config: ScheduleDeps['config'] & SubmitDeps['config'];
  gateway: SubmitDeps['gateway'];
};

/** Who applies: members only their own team; admins any. */
export interface Actor {
  team: string;
  role: 'member' | 'admin';
}

export class ManifestForbidden extends Forbidden {
  override readonly name = 'ManifestForbidden';
}

export interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}

export interface JobPlan {
  jobPath: string;
  jobType: 'batch' | 'streaming';
  scheduleId?: string;
  action: 'create' | 'update' | 'unchanged';
  changes: FieldChange[];
}

interface Desired {
  owner: string | null;
  spec: NormalizedJobSpec;
  schedule: ScheduleConfig | null;
}

function assertAllowed(actor: Actor, team: string): void {
  if (actor.role !== 'admin' && actor.team !== team) {
    throw new ManifestForbidden(`this token belongs to team "${actor.team}"; it cannot manage jobs of team "${team}"`);
  }
}

/** Field-level differences between two JSON values, as dotted paths. */
export function diffValues(from: unknown, to: unknown, prefix = ''): FieldChange[] {
  const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);
  if (isObj(from) && isObj(to)) {
    const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort();
    return keys.flatMap((k) => diffValues(from[k], to[k], prefix ? `${prefix}.${k}` : k));
  }
  return canonicalHash(from ?? null) === canonicalHash(to ?? null)
    ? []
    : [{ field: prefix || '(root)', from: from ?? null, to: to ?? null }];
}

async function current(deps: ManifestDeps, job: ManifestJob): Promise<{ exists: boolean; state: Desired }> {
  const [row, sched] = await Promise.all([deps.store.getJob(job.jobPath), appliedSchedule(deps, job.jobPath)]);
  return {
    exists: !!row,
    state: {
      owner: row?.owner ?? null,
      spec: row?.spec as NormalizedJobSpec,
      schedule: sched?.applied?.schedule ?? (sched ? ({ unknown: true } as unknown as ScheduleConfig) : null),
    },
  };
}

function desired(job: ManifestJob): Desired {
  return { owner: job.owner ?? null, spec: job.spec, schedule: job.schedule ?? null };
}

/** A job's plan, and the spec apply deploys and records: the manifest's, or with the resources DCR gave it. */
interface Planned {
  plan: JobPlan;
  spec: NormalizedJobSpec;
}

type Resources = NormalizedJobSpec['resources'];

/** RESIZED events walked back at most, to find what a chain of DCR resizes started from. */
const DCR_CHAIN_MAX = 200;

/**
 * The resources the job had before DCR's own resizes, walking its RESIZED events back from `recorded` while each
 * is DCR's (`source: dcr:<rule>`) and ended at the resources reached so far; `recorded` itself without any.
 */
async function resourcesBeforeDcr(deps: ManifestDeps, jobPath: string, recorded: Resources): Promise<Resources> {
  let at = recorded;
  for (const e of await deps.store.jobEvents.latest(jobPath, ['RESIZED'], DCR_CHAIN_MAX)) {
    const { from, to, source } = e.payload as { from?: Resources; to?: unknown; source?: unknown };
    if (!from || typeof source !== 'string' || !source.startsWith('dcr:')) break;
    if (canonicalHash(to ?? null) !== canonicalHash(at)) break;
    at = from;
  }
  return at;
}

async function planOne(deps: ManifestDeps, job: ManifestJob): Promise<Planned> {
  const now = await current(deps, job);
  let spec = job.spec;
  if (now.exists && job.spec.jobType === 'streaming' && now.state.spec.jobType === 'streaming') {
    const recorded = now.state.spec.resources;
    const declared = canonicalHash(job.spec.resources);
    if (
      declared !== canonicalHash(recorded) &&
      declared === canonicalHash(await resourcesBeforeDcr(deps, job.jobPath, recorded))
    ) {
      // The manifest still declares what DCR started from: DCR's resources stand.
      spec = { ...job.spec, resources: recorded };
    }
  }
  const changes = diffValues(now.exists ? now.state : {}, { ...desired(job), spec });
  return {
    plan: {
      jobPath: job.jobPath,
      jobType: job.spec.jobType,
      scheduleId: job.schedule ? scheduleIdOf(job.jobPath) : undefined,
      action: !now.exists ? 'create' : changes.length === 0 ? 'unchanged' : 'update',
      changes: now.exists ? changes : [],
    },
    spec,
  };
}

/** A re-apply that changes only the resources: a resize, recorded as RESIZED with the manifest as the reason. */
function manifestResize(plan: JobPlan): { cause: 'resize'; reason: string } | undefined {
  const resources = plan.changes.filter((c) => c.field === 'spec.resources' || c.field.startsWith('spec.resources.'));
  if (plan.action !== 'update' || resources.length === 0 || resources.length !== plan.changes.length) return undefined;
  const what = resources.map(
    (c) => `${c.field.slice('spec.'.length)} ${JSON.stringify(c.from)} -> ${JSON.stringify(c.to)}`,
  );
  return { cause: 'resize', reason: `manifest re-apply of SparkJob ${plan.jobPath} (${what.join(', ')})` };
}

/** Checks every job before anything is written: team access, and what a submit of it would check. */
function preflight(deps: ManifestDeps, actor: Actor, jobs: ManifestJob[]): void {
  for (const job of jobs) {
    assertAllowed(actor, job.team);
    assertAcceptable(deps, job.spec, job.team);
  }
}

/** What apply would change, job by job; writes nothing. */
export async function diffManifest(deps: ManifestDeps, actor: Actor, jobs: ManifestJob[]): Promise<JobPlan[]> {
  return (await planManifest(deps, actor, jobs)).map((p) => p.plan);
}

async function planManifest(deps: ManifestDeps, actor: Actor, jobs: ManifestJob[]): Promise<Planned[]> {
  preflight(deps, actor, jobs);
  return Promise.all(jobs.map((job) => planOne(deps, job)));
}

/** Applies the manifest's jobs; a job whose desired state is already recorded is left untouched. */
export async function applyManifest(deps: ManifestDeps, actor: Actor, jobs: ManifestJob[]): Promise<JobPlan[]> {
  const planned = await planManifest(deps, actor, jobs);
  for (const [i, job] of jobs.entries()) {
    const { plan, spec } = planned[i]!;
    if (plan.action === 'unchanged') continue;
    // The schedule first: if it fails, the jobs row still shows the old state and a re-apply retries the change.
    if (job.spec.jobType === 'streaming') {
      await deployContinuousJob(
        deps,
        { jobPath: job.jobPath, team: job.team, owner: job.owner ?? undefined, spec },
        manifestResize(plan),
      );
    }
    if (job.schedule) {
      const applied: AppliedSchedule = {
        jobPath: job.jobPath,
        team: job.team,
        owner: job.owner,
        schedule: job.schedule,
        specHash: canonicalHash(job.spec),
      };
      await upsertSchedule(deps, applied, job.spec);
    } else {
      await deleteSchedule(deps, job.jobPath);
    }
    await deps.store.upsertJob({
      jobPath: job.jobPath,
      team: job.team,
      name: job.name,
      owner: job.owner ?? null,
      spec,
      scheduled: job.schedule !== undefined,
    });
  }
  return planned.map((p) => p.plan);
}

export interface DeleteResult {
  jobPath: string;
  scheduleDeleted: boolean;
  /** A streaming job's loop was stopped (its run ended, the loop workflow cancelled). */
  continuousStopped: boolean;
}

/** Removes each job's schedule, or stops its streaming loop. The job row and every execution stay. */
export async function deleteManifest(deps: ManifestDeps, actor: Actor, jobs: ManifestJob[]): Promise<DeleteResult[]> {
  for (const job of jobs) assertAllowed(actor, job.team);
  const out: DeleteResult[] = [];
  for (const job of jobs) {
    const [scheduleDeleted, continuousStopped] = await Promise.all([
      deleteSchedule(deps, job.jobPath),
      removeContinuousJob(deps, job.jobPath),
    ]);
    await deps.store.markUnscheduled(job.jobPath);
    out.push({ jobPath: job.jobPath, scheduleDeleted, continuousStopped });
  }
  return out;
}

export interface JobView {
  jobPath: string;
  team: string;
  owner: string | null;
  jobType: 'batch' | 'streaming';
  spec: NormalizedJobSpec;
  schedule?: { scheduleId: string; config?: ScheduleConfig; paused: boolean; nextRunTime?: string };
  lastExecution?: Pick<ExecutionRow, 'executionId' | 'state' | 'trigger' | 'createdAt' | 'endTime' | 'scheduledTime'>;
}

/** One job with its last execution and next scheduled run; undefined when unknown or not the actor's team. */
export async function getJobView(deps: ManifestDeps, actor: Actor, jobPath: string): Promise<JobView | undefined> {
  return (await getJobOverview(deps, actor, jobPath, { live: false }))?.view;
}

/** A job with everything about it: its manifest view, its streaming loop's state, and its latest execution row. */
export interface JobOverview {
  view: JobView;
  continuous?: ContinuousState;
  lastExecution?: ExecutionRow;
}

/**
 * The job as `GET /api/v1/jobs/{team}.{name}` shows it; undefined when unknown or not the actor's team. With
 * `live: false`, a streaming job's loop is not asked for its state (that needs a worker).
 */
export async function getJobOverview(
  deps: ManifestDeps,
  actor: Actor,
  jobPath: string,
  options: { live: boolean } = { live: true },
): Promise<JobOverview | undefined> {
  const row = await deps.store.getJob(jobPath);
  if (!row || !mayRead(actor, row.team)) return undefined;
  const [overview, continuous] = await Promise.all([
    deps.store.listExecutions({ jobPath, limit: 1 }).then((last) => overviewOf(deps, row, last.items[0])),
    row.spec.jobType === 'streaming' && options.live ? continuousState(deps, jobPath) : undefined,
  ]);
  return continuous ? { ...overview, continuous } : overview;
}

/**
 * Every job the actor may see (all teams for an admin), each with its latest execution: one query, plus a
 * schedule look-up only for jobs a schedule drives. Streaming loops are not asked (see getJobOverview).
 */
export async function listJobOverviews(deps: ManifestDeps, actor: Actor): Promise<JobOverview[]> {
  const rows = await deps.store.listJobsWithLatest(actor.role === 'admin' ? undefined : actor.team);
  return Promise.all(rows.map(({ job, latest }) => overviewOf(deps, job, latest)));
}

function mayRead(actor: Actor, team: string): boolean {
  return actor.role === 'admin' || actor.team === team;
}

async function overviewOf(deps: ManifestDeps, row: JobRow, e: ExecutionRow | undefined): Promise<JobOverview> {
  // `scheduled` is null on rows older than the column: those are looked up too.
  const sched = row.scheduled === false ? undefined : await appliedSchedule(deps, row.jobPath);
  const view: JobView = {
    jobPath: row.jobPath,
    team: row.team,
    owner: row.owner,
    jobType: row.spec.jobType,
    spec: row.spec,
    schedule: sched && {
      scheduleId: scheduleIdOf(row.jobPath),
      config: sched.applied?.schedule,
      paused: sched.description.state.paused,
      nextRunTime: sched.description.info.nextActionTimes[0]?.toISOString(),
    },
    lastExecution: e && {
      executionId: e.executionId,
      state: e.state,
      trigger: e.trigger,
      createdAt: e.createdAt,
      endTime: e.endTime,
      scheduledTime: e.scheduledTime,
    },
  };
  return e ? { view, lastExecution: e } : { view };
}

export { SubmitRejected };

// ── SessionPool documents ───────────────────────────────────────────────────────────────────────────────────

export interface PoolPlan {
  pool: string;
  team: string;
  action: 'create' | 'update' | 'unchanged';
  changes: FieldChange[];
}

export type PoolManifestDeps = Pick<SessionDeps, 'client' | 'sessions'> & {
  config: SessionDeps['config'];
};

function desiredPool(deps: PoolManifestDeps, pool: ManifestPool) {
  return {
    team: pool.team,
    sparkVersion: pool.sparkVersion,
    size: pool.size,
    driverMemoryMb: pool.driverMemoryMb ?? deps.config.SESSION_DRIVER_MEMORY_MB,
    backend: pool.backend,
    idleTimeoutS: pool.idleTimeoutS ?? null,
  };
}

/** What applying the pools would change; writes nothing. Members manage only their own team's pools. */
export async function planPools(deps: PoolManifestDeps, actor: Actor, pools: ManifestPool[]): Promise<PoolPlan[]> {
  for (const pool of pools) {
    assertAllowed(actor, pool.team);
    assertSessionVersion(deps.config, pool.sparkVersion);
  }
  return Promise.all(
    pools.map(async (pool) => {
      const row = await deps.sessions.getPool(pool.pool);
      const live = row && !row.deletedAt ? row : undefined;
      const want = desiredPool(deps, pool);
      const have = live && {
        team: live.team,
        sparkVersion: live.sparkVersion,
        size: live.size,
        driverMemoryMb: live.driverMemoryMb,
        backend: live.backend,
        idleTimeoutS: live.idleTimeoutS,
      };
      const changes = have ? diffValues(have, want) : [];
      return {
        pool: pool.pool,
        team: pool.team,
        action: !have ? 'create' : changes.length === 0 ? 'unchanged' : 'update',
        changes,
      };
    }),
  );
}

/** Applies the pools (each recorded, then its workflow woken); an unchanged pool is left as it is. */
export async function applyPools(deps: PoolManifestDeps, actor: Actor, pools: ManifestPool[]): Promise<PoolPlan[]> {
  const plans = await planPools(deps, actor, pools);
  for (const [i, pool] of pools.entries()) {
    if (plans[i]!.action === 'unchanged') continue;
    await applyPool(deps, {
      name: pool.pool,
      ...desiredPool(deps, pool),
      idleTimeoutS: pool.idleTimeoutS,
      source: 'manifest',
    });
  }
  return plans;
}

/** Drains and removes the pools (their warm servers are stopped; sessions leased from them go on). */
export async function deletePools(
  deps: PoolManifestDeps,
  actor: Actor,
  pools: ManifestPool[],
): Promise<Array<{ pool: string; deleted: boolean }>> {
  for (const pool of pools) assertAllowed(actor, pool.team);
  const out: Array<{ pool: string; deleted: boolean }> = [];
  for (const pool of pools) out.push({ pool: pool.pool, deleted: await deletePool(deps, pool.pool) });
  return out;
}
