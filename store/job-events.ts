/**
 * The job-level event log (`job_events`): append-only, one row per event, keyed by a deterministic event id.
 *
 * Contract:
 * - `append` is idempotent: the event id is a UUIDv5 of the job path and the writer's `idempotencyKey`, and a
 *   second append with the same key (a retried activity, a replayed workflow task) inserts nothing and answers false.
 * - `list` reads one job's events oldest first, after an optional `seq`, at most `limit`.
 */
import { and, asc, eq, gt } from 'drizzle-orm';
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
}
