import { bigserial, index, integer, jsonb, pgEnum, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { JOB_EVENT_TYPES } from './job-event-types.js';

export const jobEventTypeEnum = pgEnum('job_event_type', JOB_EVENT_TYPES);

/**
 * Append-only history of a job as a whole (today: a streaming job's continuous loop), beside each execution's own
 * execution_events. `event_id` is deterministic (a UUIDv5 of the job path and the writer's idempotency key), so a
 * retried activity records its event once. `seq` orders events as they were appended.
 */
export const jobEvents = pgTable(
  'job_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    eventId: uuid('event_id').notNull().unique(),
    jobPath: text('job_path').notNull(),
    eventType: jobEventTypeEnum('event_type').notNull(),
    /** The run the event is about, when there is one. */
    executionId: uuid('execution_id'),
    /** The job's spec version when the event was recorded. */
    specVersion: integer('spec_version'),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('job_events_job_idx').on(t.jobPath, t.seq)],
);
