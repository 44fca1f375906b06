/**
 * The executions store: the `executions` snapshot rows and the append-only `execution_events`.
 *
 * Every write is idempotent so activities can retry freely: executions are created with ON CONFLICT DO NOTHING,
 * and a state change is recorded as (event insert + snapshot update) in one transaction keyed by a
 * deterministic event id; a replayed event changes nothing.
 */
import { and, asc, desc, eq, gte, inArray, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { executionEvents, executions, jobs, placements } from '../schema/index.js';
import type { EventType, ExecutionState } from '../schema/states.js';
import type { Db } from './db.js';
import { eventIdFor } from './ids.js';

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
  since?: Date;
  until?: Date;
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export class ExecutionStore {
  constructor(private readonly db: Db) {}

  async ping(): Promise<void> {
    await this.db.execute(sql`select 1`);
  }

  async upsertJob(job: typeof jobs.$inferInsert): Promise<void> {
    await this.db
      .insert(jobs)
      .values(job)
      .onConflictDoUpdate({
        target: jobs.jobPath,
        set: { spec: job.spec, owner: job.owner, updatedAt: new Date() },
      });
  }

  async getJob(jobPath: string): Promise<JobRow | undefined> {
    const [row] = await this.db.select().from(jobs).where(eq(jobs.jobPath, jobPath));
    return row;
  }

  /** Job definitions, by path; one team's when `team` is given. */
  async listJobs(team?: string): Promise<JobRow[]> {
    return this.db
      .select()
      .from(jobs)
      .where(team ? eq(jobs.team, team) : undefined)
      .orderBy(asc(jobs.jobPath));
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
    const eventId = eventIdFor(input.executionId, input.attempt, input.type, input.discriminator);
    return this.db.transaction(async (tx) => {
      const inserted = await tx
        .insert(executionEvents)
        .values({
          eventId,
          executionId: input.executionId,
          eventType: input.type,
          attempt: input.attempt,
          timestamp: input.at,
          payload: input.payload,
        })
        .onConflictDoNothing()
        .returning({ seq: executionEvents.seq });
      if (inserted.length === 0) return false;
      if (input.patch) {
        await tx
          .update(executions)
          .set({ ...input.patch, updatedAt: new Date() })
          .where(eq(executions.executionId, input.executionId));
      }
      return true;
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
   * Admits the execution past its team's concurrency limit if a slot is free, first come first served: an
   * execution goes through only when fewer than `limit` of the team's admitted executions are unfinished and
   * no older queued execution of the team is still waiting for the slot. Serialized per team with an advisory
   * lock; idempotent (an admitted execution stays admitted).
   */
  async admit(executionId: string, team: string, limit: number): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`team-admission:${team}`}))`);
      const { rows } = await tx.execute<{ admitted: boolean; active: number; ahead: number }>(sql`
        select
          (select admitted_at is not null from executions where execution_id = ${executionId}) as admitted,
          (select count(*)::int from executions
            where team = ${team} and admitted_at is not null
              and state not in ('SUCCEEDED', 'FAILED', 'CANCELLED')) as active,
          (select count(*)::int from executions
            where team = ${team} and admitted_at is null and state = 'PENDING'
              and created_at < (select created_at from executions where execution_id = ${executionId})) as ahead`);
      const { admitted, active, ahead } = rows[0]!;
      if (admitted) return true;
      if (active + ahead >= limit) return false;
      await tx.update(executions).set({ admittedAt: new Date() }).where(eq(executions.executionId, executionId));
      return true;
    });
  }

  /**
   * The cluster for an attempt: the one decided earlier if any, else `decide()`'s answer, recorded first-writer-
   * wins so concurrent or retried submits of one attempt agree.
   */
  async placement(
    executionId: string,
    attempt: number,
    decide: () => Promise<{ cluster: string; reason?: string }>,
  ): Promise<string> {
    const existing = await this.db
      .select({ cluster: placements.cluster })
      .from(placements)
      .where(and(eq(placements.executionId, executionId), eq(placements.attempt, attempt)));
    if (existing[0]) return existing[0].cluster;
    const decision = await decide();
    await this.db
      .insert(placements)
      .values({ executionId, attempt, cluster: decision.cluster, reason: decision.reason })
      .onConflictDoNothing();
    const [row] = await this.db
      .select({ cluster: placements.cluster })
      .from(placements)
      .where(and(eq(placements.executionId, executionId), eq(placements.attempt, attempt)));
    return row!.cluster;
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

  async listEvents(executionId: string): Promise<EventRow[]> {
    return this.db
      .select()
      .from(executionEvents)
      .where(eq(executionEvents.executionId, executionId))
      .orderBy(asc(executionEvents.seq));
  }

  async countByState(): Promise<Partial<Record<ExecutionState, number>>> {
    const rows = await this.db
      .select({ state: executions.state, count: sql<number>`count(*)::int` })
      .from(executions)
      .groupBy(executions.state);
    return Object.fromEntries(rows.map((r) => [r.state, r.count]));
  }

  /** Newest first, keyset-paged on (created_at, execution_id). */
  async listExecutions(filter: ExecutionFilter): Promise<{ items: ExecutionRow[]; nextCursor?: string }> {
    const where: SQL[] = [];
    if (filter.team) where.push(eq(executions.team, filter.team));
    if (filter.jobPath) where.push(eq(executions.jobPath, filter.jobPath));
    if (filter.state) where.push(eq(executions.state, filter.state));
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
