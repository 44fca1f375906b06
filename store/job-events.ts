/**
 * The job-level event log (`job_events`): append-only, one row per event, keyed by a deterministic event id.
 *
 * Contract:
 * - `append` is idempotent: the event id is a UUIDv5 of the job path and the writer's `idempotencyKey`, and a
 *   second append with the same key (a retried activity, a replayed workflow task) inserts nothing and answers false.
 * - `list` reads one job's events oldest first, after an optional `seq`, at most `limit`.
 * - `latest` reads one job's newest events of the given types, newest first.
 * - `sweep` (the retention sweep) removes events older than their team's cutoff (the team is the job path's first
 *   segment), except each job's newest `keepTransitions` non-SAMPLE events, whatever their age: a job that has run
 *   quietly for longer than the retention still shows how its current run started and its last resize. SAMPLE
 *   events go by age alone: they were DCR's input, and the live loop keeps its own DCR state.
 */
import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import { jobEvents } from '../schema/index.js';
import type { JobEventType } from '../schema/job-event-types.js';
import type { Db } from './db.js';
import { uuidv5 } from './ids.js';

export type JobEventRow = typeof jobEvents.$inferSelect;

export interface JobEventInput {
  jobPath: string;
  type: JobEventType;
  /** Unique per event of the job: the same key always names the same event. */
  idempotencyKey: string;
  executionId?: string;
  specVersion?: number;
  at: Date;
  payload: Record<string, unknown>;
}

/** Namespace for job event ids. */
const JOB_EVENT_NS = '2b7d4c1e-8f3a-4e6b-b1d9-0c5a7e2f9d34';

export function jobEventIdFor(jobPath: string, idempotencyKey: string): string {
  return uuidv5(`${jobPath}\n${idempotencyKey}`, JOB_EVENT_NS);
}

export class JobEventLog {
  constructor(private readonly db: Db) {}

  /** Records the event once; false when it was already recorded. */
  async append(input: JobEventInput): Promise<boolean> {
    const rows = await this.db
      .insert(jobEvents)
      .values({
        eventId: jobEventIdFor(input.jobPath, input.idempotencyKey),
        jobPath: input.jobPath,
        eventType: input.type,
        executionId: input.executionId ?? null,
        specVersion: input.specVersion ?? null,
        timestamp: input.at,
        payload: input.payload,
      })
      .onConflictDoNothing({ target: jobEvents.eventId })
      .returning({ seq: jobEvents.seq });
    return rows.length > 0;
  }

  /** The job's events, oldest first, after `afterSeq`, at most `limit`. */
  async list(jobPath: string, opts: { afterSeq?: number; limit: number }): Promise<JobEventRow[]> {
    const where = and(
      eq(jobEvents.jobPath, jobPath),
      opts.afterSeq !== undefined ? gt(jobEvents.seq, opts.afterSeq) : undefined,
    );
    return this.db.select().from(jobEvents).where(where).orderBy(asc(jobEvents.seq)).limit(opts.limit);
  }

  /** The job's newest events of `types`, newest first, at most `limit`. */
  async latest(jobPath: string, types: JobEventType[], limit: number): Promise<JobEventRow[]> {
    return this.db
      .select()
      .from(jobEvents)
      .where(and(eq(jobEvents.jobPath, jobPath), inArray(jobEvents.eventType, types)))
      .orderBy(desc(jobEvents.seq))
      .limit(limit);
  }

  /** Removes at most `limit` events the retention no longer keeps (see the contract above); answers how many. */
  async sweep(cutoff: Date, byTeam: Record<string, Date>, keepTransitions: number, limit: number): Promise<number> {
    const team = sql`split_part(${jobEvents.jobPath}, '/', 1)`;
    const teams = Object.entries(byTeam);
    const teamCutoff = teams.length
      ? sql`case ${team} ${sql.join(
          teams.map(([t, at]) => sql`when ${t} then ${at.toISOString()}::timestamptz`),
          sql` `,
        )} else ${cutoff.toISOString()}::timestamptz end`
      : sql`${cutoff.toISOString()}::timestamptz`;
    const expired = sql`${jobEvents.timestamp} < ${teamCutoff}`;
    // Samples, the bulk of the table, go by age alone; only the transitions are ranked per job (newest first), so
    // a batch never ranks the samples.
    const result = await this.db.execute(sql`
      with doomed as (
        (select ${jobEvents.seq} as seq from ${jobEvents}
          where ${jobEvents.eventType} = 'SAMPLE' and ${expired} limit ${limit})
        union all
        (select seq from (
          select ${jobEvents.seq} as seq, ${expired} as expired,
            row_number() over (partition by ${jobEvents.jobPath} order by ${jobEvents.seq} desc) as newer
          from ${jobEvents} where ${jobEvents.eventType} <> 'SAMPLE'
        ) ranked where expired and newer > ${keepTransitions} limit ${limit})
      )
      delete from ${jobEvents} where ${jobEvents.seq} in (select seq from doomed limit ${limit})`);
    return result.rowCount ?? 0;
  }
}
