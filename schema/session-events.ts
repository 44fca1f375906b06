import { bigserial, index, jsonb, pgTable, timestamp, uuid } from 'drizzle-orm/pg-core';
import { sessionEventTypeEnum } from './session-enums.js';
import { sessions } from './sessions.js';

/**
 * Append-only history of a session, on the same model as execution_events: `event_id` is deterministic (a UUIDv5
 * of the session, the event type and the workflow's transition number), so a retried activity writes it once.
 */
export const sessionEvents = pgTable(
  'session_events',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    eventId: uuid('event_id').notNull().unique(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.sessionId),
    eventType: sessionEventTypeEnum('event_type').notNull(),
    timestamp: timestamp('timestamp', { withTimezone: true }).notNull(),
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
  },
  (t) => [index('session_events_session_idx').on(t.sessionId, t.seq)],
);
