/**
 * The executions store: the `executions` snapshot rows and the append-only `execution_events`.
 *
 * Every write is idempotent so activities can retry freely: executions are created with ON CONFLICT DO NOTHING,
 * and a state change is recorded as (event insert + snapshot update) in one transaction keyed by a
 * deterministic event id; a replayed event changes nothing.
 */
import { and, asc, desc, eq, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import type { Placement } from '../gateway/backend.js';
import type { ClusterHealth } from '../gateway/health.js';
import type { PlacementLog } from '../gateway/index.js';
import { clusterHealth, executionEvents, executions, jobs, placements } from '../schema/index.js';
import {
  ACTIVE_STATES,
  TERMINAL_STATES,
  type BackendName,
  type EventType,
  type ExecutionState,
  type PendingCode,
  type PendingReason,
  type Trigger,
} from '../schema/states.js';
import type { SizingSample } from '../runner/aps.js';
import type { Db } from './db.js';
import type { ExecutionInput } from '../workflows/definitions.js';
import { executionWorkflowId } from '../schema/vocabulary.js';
import { eventIdFor } from './ids.js';
import { JobEventLog } from './job-events.js';
import { LogArchive } from './log-archive.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type ExecutionRow = typeof executions.$inferSelect;
export type NewExecution = typeof executions.$inferInsert;
export type ExecutionPatch = Partial<Omit<NewExecution, 'executionId' | 'createdAt'>>;
export type EventRow = typeof executionEvents.$inferSelect;
export type JobRow = typeof jobs.$inferSelect;

export interface EventInput {
  executionId: string;
  attempt: number;
  type: EventType;
  /** Distinguishes two events of one type in one attempt (rarely needed). */
  discriminator?: string;
  at: Date;
  payload: Record<string, unknown>;
  /** Snapshot fields to change together with the event; applied only when the event is new. */
  patch?: ExecutionPatch;
}

export interface ExecutionFilter {
  team?: string;
  jobPath?: string;
  state?: ExecutionState;
  trigger?: Trigger;
  backend?: BackendName;
  since?: Date;
  until?: Date;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

/**
 * The executions row for a workflow input. The API writes it at submit; the workflow's first activity writes the
 * same row (schedule- and loop-started executions have no API call), so both go through here.
 */
export function executionRecord(input: ExecutionInput, runId?: string): NewExecution {
  return {
    executionId: input.executionId,
    jobPath: input.jobPath,
    team: input.team,
    owner: input.owner,
    trigger: input.trigger,
    spec: input.spec,
    resources: input.spec.resources,
    idempotencyKey: input.idempotencyKey,
    requestHash: input.requestHash,
    workflowId: executionWorkflowId(input.executionId),
    runId,
    scheduledTime: input.scheduledTime ? new Date(input.scheduledTime) : undefined,
  };
}

export class ExecutionStore {
  /** Archived attempt logs (store/log-archive.ts), in the same database. */
  readonly logs: LogArchive;
  /** Job-level events (store/job-events.ts): a streaming job's loop transitions and progress samples. */
  readonly jobEvents: JobEventLog;

  constructor(private readonly db: Db) {
    this.logs = new LogArchive(db);
    this.jobEvents = new JobEventLog(db);
  }

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }

  /**
   * Creates or updates the job. `scheduled` is written only when given (manifest apply): a submit creates a job
   * with no schedule, and never touches an existing job's.
   */
  async upsertJob(job: typeof jobs.$inferInsert): Promise<void> {
    await this.db
      .insert(jobs)
      .values({ ...job, scheduled: job.scheduled ?? false })
      .onConflictDoUpdate({
        target: jobs.jobPath,
        set: {
          spec: job.spec,
          owner: job.owner,
          updatedAt: new Date(),
          ...(job.scheduled === undefined ? {} : { scheduled: job.scheduled }),
        },
      });
  }

  /**
   * Makes the jobs row follow a resize the streaming loop decided itself (DCR): the row's resources become `to`,
   * but only while they are still `from` (what the loop ran before), so a spec written meanwhile by an apply or a
   * REST resize is never overwritten. Idempotent: a row that already has `to` answers 'followed' again.
   */
  async followJobResize(
    jobPath: string,
    from: JobRow['spec']['resources'],
    to: JobRow['spec']['resources'],
  ): Promise<'followed' | 'diverged' | 'no-job'> {
    const updated = await this.db
      .update(jobs)
      .set({ spec: sql`jsonb_set(${jobs.spec}, '{resources}', ${JSON.stringify(to)}::jsonb)`, updatedAt: new Date() })
      .where(and(eq(jobs.jobPath, jobPath), sql`${jobs.spec}->'resources' = ${JSON.stringify(from)}::jsonb`))
      .returning({ jobPath: jobs.jobPath });
    if (updated.length > 0) return 'followed';
    const [row] = await this.db
      .select({ same: sql<boolean>`${jobs.spec}->'resources' = ${JSON.stringify(to)}::jsonb` })
      .from(jobs)
      .where(eq(jobs.jobPath, jobPath));
    return !row ? 'no-job' : row.same ? 'followed' : 'diverged';
  }

  /** Records that the job's schedule was removed (manifest delete), so lists stop looking it up. */
  async markUnscheduled(jobPath: string): Promise<void> {
    await this.db.update(jobs).set({ scheduled: false, updatedAt: new Date() }).where(eq(jobs.jobPath, jobPath));
  }

  async getJob(jobPath: string): Promise<JobRow | undefined> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.jobPath, jobPath));
    return row;
  }

  /**
   * Job definitions, by path (one team's when `team` is given), with each one's latest execution: one query, a
   * lateral join on the (job_path, created_at) index, so a list costs the same whatever the history holds.
   */
  async listJobsWithLatest(team?: string): Promise<{ job: JobRow; latest: ExecutionRow | undefined }[]> {
    const latest = this.db
      .select()
      .from(executions)
      .where(eq(executions.jobPath, jobs.jobPath))
      .orderBy(desc(executions.createdAt))
      .limit(1)
      .as('latest');
    const rows = await this.db
      .select()
      .from(jobs)
      .leftJoinLateral(latest, sql`true`)
      .where(team ? eq(jobs.team, team) : undefined)
      .orderBy(asc(jobs.jobPath));
    return rows.map((r) => ({ job: r.jobs, latest: r.latest ?? undefined }));
  }

  /** Inserts the execution unless it exists; returns the stored row either way. */
  async createExecution(row: NewExecution): Promise<{ row: ExecutionRow; created: boolean }> {
    // created_at is set here at millisecond precision so keyset cursors round-trip through JS Dates exactly.
    const values = { ...row, createdAt: row.createdAt ?? new Date() };
    const inserted = await this.db.insert(executions).values(values).onConflictDoNothing().returning();
    if (inserted[0]) return { row: inserted[0], created: true };
    const existing = await this.getExecution(row.executionId);
    if (!existing) throw new Error(`execution ${row.executionId} vanished during create`);
    return { row: existing, created: false };
  }

  async getExecution(executionId: string): Promise<ExecutionRow | undefined> {
    const [row] = await this.db.select().from(executions).where(eq(executions.executionId, executionId));
    return row;
  }

  /** Appends the event and applies its snapshot patch, once. Returns false when the event was already there. */
  async recordEvent(input: EventInput): Promise<boolean> {
    const [created] = await this.recordEvents([input]);
    return created!;
  }

  /**
   * Appends the events in order, each once with its snapshot patch, in one transaction: a reader sees all of them
   * or none (a terminal state is never visible without its METRICS_SUMMARY). Says, per event, whether it was new.
   */
  async recordEvents(inputs: EventInput[]): Promise<boolean[]> {
    return this.db.transaction(async (tx) => {
      const created: boolean[] = [];
      for (const input of inputs) {
        const inserted = await tx
          .insert(executionEvents)
          .values({
            eventId: eventIdFor(input.executionId, input.attempt, input.type, input.discriminator),
            executionId: input.executionId,
            eventType: input.type,
            attempt: input.attempt,
            timestamp: input.at,
            payload: input.payload,
          })
          .onConflictDoNothing()
          .returning({ seq: executionEvents.seq });
        created.push(inserted.length > 0);
        if (inserted.length > 0 && input.patch) {
          await tx
            .update(executions)
            .set({ ...input.patch, updatedAt: new Date() })
            .where(eq(executions.executionId, input.executionId));
        }
      }
      return created;
    });
  }

  /** Updates snapshot fields that carry no event (e.g. the Spark UI link once known). */
  async patchExecution(executionId: string, patch: ExecutionPatch): Promise<void> {
    await this.db
      .update(executions)
      .set({ ...patch, updatedAt: new Date() })
      .where(eq(executions.executionId, executionId));
  }

  /**
   * Says why a PENDING execution is still waiting. The `since` of the same code is kept, so it tells how long it
   * has waited for that reason; a row that has moved past PENDING is left alone.
   */
  async setPending(executionId: string, code: PendingCode, message: string, at: Date): Promise<void> {
    const reason: PendingReason = { code, message, since: at.toISOString() };
    await this.db
      .update(executions)
      .set({
        pendingReason: sql`case when ${executions.pendingReason}->>'code' = ${code}
          then jsonb_set(${executions.pendingReason}, '{message}', to_jsonb(${message}::text))
          else ${JSON.stringify(reason)}::jsonb end`,
        updatedAt: new Date(),
      })
      .where(and(eq(executions.executionId, executionId), eq(executions.state, 'PENDING')));
  }

  /**
   * Admits the execution past its team's concurrency limit if a slot is free, first come first served: an
   * execution goes through only when fewer than `limit` of the team's admitted executions are unfinished and
   * no older queued execution of the team is still waiting for the slot. Serialized per team with an advisory
   * lock; idempotent (an admitted execution stays admitted).
   */
  async admit(executionId: string, team: string, limit: number): Promise<boolean> {
    let admittedNow: { createdAt: Date; admittedAt: Date | null } | undefined;
    const admitted = await this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`team-admission:${team}`}))`);
      const { rows } = await tx.execute<{ admitted: boolean; active: number; ahead: number }>(sql`
        select
          (select admitted_at is not null from executions where execution_id = ${executionId}) as admitted,
          (select count(*)::int from executions
            where team = ${team} and admitted_at is not null
              and state not in (${sql.join(
                TERMINAL_STATES.map((t) => sql`${t}`),
                sql`, `,
              )})) as active,
          (select count(*)::int from executions
            where team = ${team} and admitted_at is null and state = 'PENDING'
              and created_at < (select created_at from executions where execution_id = ${executionId})) as ahead`);
      const { admitted, active, ahead } = rows[0]!;
      if (admitted) return true;
      if (active + ahead >= limit) return false;
      [admittedNow] = await tx
        .update(executions)
        .set({ admittedAt: new Date(), pendingReason: null })
        .where(eq(executions.executionId, executionId))
        .returning({ createdAt: executions.createdAt, admittedAt: executions.admittedAt });
      return true;
    });
    if (admittedNow?.admittedAt) this.admitted(team, admittedNow.createdAt, admittedNow.admittedAt);
    return admitted;
  }

  /** Called once per execution, by the admit() call that admitted it past its team's limit (metrics hook here). */
  protected admitted(_team: string, _createdAt: Date, _admittedAt: Date): void {}

  /** The placement recorded for an attempt, if any. */
  async recordedPlacement(executionId: string, attempt: number): Promise<Placement | undefined> {
    const [row] = await this.db
      .select()
      .from(placements)
      .where(and(eq(placements.executionId, executionId), eq(placements.attempt, attempt)));
    if (!row) return undefined;
    return {
      backend: row.backend,
      ...(row.cluster !== null ? { cluster: row.cluster } : {}),
      ...(row.namespace !== null ? { namespace: row.namespace } : {}),
      reason: row.reason ?? '',
    };
  }

  /** Records an attempt's placement first-writer-wins; returns the one that stands. */
  async recordPlacement(executionId: string, attempt: number, placement: Placement): Promise<Placement> {
    await this.db
      .insert(placements)
      .values({ executionId, attempt, ...placement })
      .onConflictDoNothing();
    return (await this.recordedPlacement(executionId, attempt))!;
  }

  /** The gateway's view of `placements`. */
  placementLog(): PlacementLog {
    return {
      recorded: (executionId, attempt) => this.recordedPlacement(executionId, attempt),
      record: (executionId, attempt, placement) => this.recordPlacement(executionId, attempt, placement),
    };
  }

  /** Records the latest probe of each cluster (upsert). */
  async recordClusterHealth(health: Record<string, ClusterHealth>): Promise<void> {
    const rows = Object.entries(health)
      .filter(([, h]) => h.checkedAt)
      .map(([cluster, h]) => ({
        cluster,
        healthy: h.healthy,
        reason: h.reason ?? null,
        checkedAt: new Date(h.checkedAt),
      }));
    if (rows.length === 0) return;
    await this.db
      .insert(clusterHealth)
      .values(rows)
      .onConflictDoUpdate({
        target: clusterHealth.cluster,
        set: { healthy: sql`excluded.healthy`, reason: sql`excluded.reason`, checkedAt: sql`excluded.checked_at` },
      });
  }

  /**
   * The recorded health of each cluster. A probe older than `staleAfterMs` no longer counts: no process has
   * probed the cluster since, so it reads unhealthy with that said.
   */
  async clusterHealth(names: readonly string[], staleAfterMs: number): Promise<Record<string, ClusterHealth>> {
    const rows = names.length
      ? await this.db
          .select()
          .from(clusterHealth)
          .where(inArray(clusterHealth.cluster, [...names]))
      : [];
    const now = Date.now();
    const out: Record<string, ClusterHealth> = {};
    for (const name of names) {
      const row = rows.find((r) => r.cluster === name);
      if (!row)
        out[name] = { healthy: false, reason: 'no health probe recorded yet (is a worker running?)', checkedAt: '' };
      else if (now - row.checkedAt.getTime() > staleAfterMs) {
        out[name] = {
          healthy: false,
          reason: `no health probe since ${row.checkedAt.toISOString()} (is a worker running?)`,
          checkedAt: row.checkedAt.toISOString(),
        };
      } else {
        out[name] = {
          healthy: row.healthy,
          ...(row.reason !== null ? { reason: row.reason } : {}),
          checkedAt: row.checkedAt.toISOString(),
        };
      }
    }
    return out;
  }

  /** Executions at a Kubernetes backend now, per cluster: the load the router balances. */
  async runningByCluster(): Promise<Record<string, number>> {
    const rows = await this.db
      .select({ cluster: executions.cluster, count: sql<number>`count(*)::int` })
      .from(executions)
      .where(and(eq(executions.backend, 'kubernetes'), inArray(executions.state, ['SUBMITTED', 'RUNNING'])))
      .groupBy(executions.cluster);
    return Object.fromEntries(rows.filter((r) => r.cluster).map((r) => [r.cluster!, r.count]));
  }

  /** State, team and end of these executions (the retention sweep's view of local run directories). */
  async executionEnds(
    executionIds: readonly string[],
  ): Promise<Pick<ExecutionRow, 'executionId' | 'team' | 'state' | 'endTime' | 'sparkAppId'>[]> {
    const ids = executionIds.filter((id) => UUID.test(id));
    if (ids.length === 0) return [];
    return this.db
      .select({
        executionId: executions.executionId,
        team: executions.team,
        state: executions.state,
        endTime: executions.endTime,
        sparkAppId: executions.sparkAppId,
      })
      .from(executions)
      .where(inArray(executions.executionId, ids));
  }

  /**
   * Deletes finished executions that ended before their team's cutoff (`byTeam`, else `cutoff`), with their
   * events, placements and archived logs, at most `limit` per call. Returns the ids removed.
   */
  async removeFinishedExecutions(cutoff: Date, byTeam: Record<string, Date>, limit: number): Promise<string[]> {
    const teams = Object.entries(byTeam);
    const teamCutoff = teams.length
      ? sql`case ${executions.team} ${sql.join(
          teams.map(([team, at]) => sql`when ${team} then ${at.toISOString()}::timestamptz`),
          sql` `,
        )} else ${cutoff.toISOString()}::timestamptz end`
      : sql`${cutoff.toISOString()}::timestamptz`;
    const ids = await this.db.transaction(async (tx) => {
      const rows = await tx
        .select({ executionId: executions.executionId })
        .from(executions)
        .where(and(inArray(executions.state, [...TERMINAL_STATES]), sql`${executions.endTime} < ${teamCutoff}`))
        .limit(limit)
        .for('update', { skipLocked: true });
      const found = rows.map((r) => r.executionId);
      if (found.length === 0) return found;
      await tx.delete(executionEvents).where(inArray(executionEvents.executionId, found));
      await tx.delete(placements).where(inArray(placements.executionId, found));
      await tx.delete(executions).where(inArray(executions.executionId, found));
      return found;
    });
    await this.logs.removeExecutions(ids);
    return ids;
  }

  /**
   * APS's input (runner/aps.ts): the job's newest finished (SUCCEEDED or FAILED) executions that ended after
   * `since`, newest first, each with its last attempt's resources and Spark metrics (METRICS_SUMMARY) and every
   * grant that ran out of memory (an OOM RETRY: the attempt's SUBMIT resources against the raised ones; or a final
   * OOM failure).
   */
  async sizingHistory(jobPath: string, since: Date, limit: number): Promise<SizingSample[]> {
    const rows = await this.db
      .select()
      .from(executions)
      .where(
        and(
          eq(executions.jobPath, jobPath),
          inArray(executions.state, ['SUCCEEDED', 'FAILED']),
          gte(executions.endTime, since),
        ),
      )
      .orderBy(desc(executions.endTime), desc(executions.executionId))
      .limit(limit);
    if (rows.length === 0) return [];
    const events = await this.db
      .select()
      .from(executionEvents)
      .where(
        and(
          inArray(
            executionEvents.executionId,
            rows.map((r) => r.executionId),
          ),
          inArray(executionEvents.eventType, ['SUBMIT', 'RETRY', 'METRICS_SUMMARY']),
        ),
      )
      .orderBy(asc(executionEvents.seq));
    return rows.map((row) => {
      const mine = events.filter((e) => e.executionId === row.executionId);
      const submitted = new Map(
        mine
          .filter((e) => e.eventType === 'SUBMIT')
          .map((e) => [e.attempt, (e.payload as { resources?: ExecutionRow['resources'] }).resources]),
      );
      const ooms: SizingSample['ooms'] = [];
      for (const retry of mine.filter((e) => e.eventType === 'RETRY')) {
        const p = retry.payload as { failureClass?: string; resources?: ExecutionRow['resources'] };
        const before = submitted.get(retry.attempt);
        if (p.failureClass !== 'OOM' || !before || !p.resources) continue;
        const target = p.resources.driver.memoryMb > before.driver.memoryMb ? 'driver' : 'executor';
        ooms.push({ target, memoryMb: before[target].memoryMb });
      }
      if (row.state === 'FAILED' && row.failureClass === 'OOM') {
        const target = row.backend === 'local' ? 'driver' : 'executor';
        ooms.push({ target, memoryMb: row.resources[target].memoryMb });
      }
      const summary = mine.find((e) => e.eventType === 'METRICS_SUMMARY')?.payload as
        { spark?: SizingSample['metrics'] } | undefined;
      return {
        executionId: row.executionId,
        state: row.state as SizingSample['state'],
        backend: row.backend,
        resources: row.resources,
        ooms,
        metrics: summary?.spark ?? null,
      };
    });
  }

  async listEvents(executionId: string): Promise<EventRow[]> {
    return this.db
      .select()
      .from(executionEvents)
      .where(eq(executionEvents.executionId, executionId))
      .orderBy(asc(executionEvents.seq));
  }

  /**
   * Executions in each non-terminal state. Only those rows are read (executions_state_idx), so the cost follows
   * what is in flight, not the history; ended executions are counted by the worker as they end
   * (spark_runner_executions_finished_total).
   */
  async countActiveByState(): Promise<Partial<Record<ExecutionState, number>>> {
    const rows = await this.db
      .select({ state: executions.state, count: sql<number>`count(*)::int` })
      .from(executions)
      .where(inArray(executions.state, ACTIVE_STATES))
      .groupBy(executions.state);
    return Object.fromEntries(rows.map((r) => [r.state, r.count]));
  }

  /** Newest first, keyset-paged on (created_at, execution_id). */
  async listExecutions(filter: ExecutionFilter): Promise<{ items: ExecutionRow[]; nextCursor?: string }> {
    const where: SQL[] = [];
    if (filter.team) where.push(eq(executions.team, filter.team));
    if (filter.jobPath) where.push(eq(executions.jobPath, filter.jobPath));
    if (filter.state) where.push(eq(executions.state, filter.state));
    if (filter.trigger) where.push(eq(executions.trigger, filter.trigger));
    if (filter.backend) where.push(eq(executions.backend, filter.backend));
    if (filter.since) where.push(gte(executions.createdAt, filter.since));
    if (filter.until) where.push(lte(executions.createdAt, filter.until));
    if (filter.cursor) {
      const { createdAt, executionId } = decodeCursor(filter.cursor);
      where.push(
        or(
          lt(executions.createdAt, createdAt),
          and(eq(executions.createdAt, createdAt), lt(executions.executionId, executionId)),
        )!,
      );
    }
    const rows = await this.db
      .select()
      .from(executions)
      .where(and(...where))
      .orderBy(desc(executions.createdAt), desc(executions.executionId))
      .limit(filter.limit + 1);
    const items = rows.slice(0, filter.limit);
    const last = items.at(-1);
    return rows.length > filter.limit && last ? { items, nextCursor: encodeCursor(last) } : { items };
  }
}

function encodeCursor(row: ExecutionRow): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.executionId])).toString('base64url');
}

/** Throws on a malformed cursor; the API maps that to a 400. */
export function decodeCursor(cursor: string): { createdAt: Date; executionId: string } {
  const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Array.isArray(parsed) || typeof parsed[0] !== 'string' || typeof parsed[1] !== 'string') {
    throw new Error('malformed cursor');
  }
  return { createdAt: new Date(parsed[0]), executionId: parsed[1] };
}
