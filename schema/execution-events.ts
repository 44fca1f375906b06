import { bigserial, index, integer, jsonb, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import { eventTypeEnum } from './enums.js';
import { executions } from './executions.js';

/**
 * Append-only history of an execution. `event_id` is deterministic (a UUIDv5 of execution, attempt and event
 * kind), so an activity that retries writes the same event once. `seq` orders events as they were appended.
 */
export const executionEvents = pgTable(
  'execution_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    eventId: uuid('event_id').notNull().unique(),
    executionId: uuid('execution_id')
      .notNull()
      .references(() => executions.executionId),
    eventType: eventTypeEnum('event_type').notNull(),
    attempt: integer('attempt').notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('execution_events_execution_idx').on(t.executionId, t.seq)],
);
