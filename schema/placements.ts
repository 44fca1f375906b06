import { integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * Where the gateway placed each attempt, decided once. A retried submit reads the first decision back, so an
 * attempt can never be created on two clusters even if health or load changed in between.
 */
export const placements = pgTable(
  'placements',
  {
    executionId: uuid('execution_id').notNull(),
    attempt: integer('attempt').notNull(),
    cluster: text('cluster').notNull(),
    reason: text('reason'),
    decidedAt: timestamp('decided_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.attempt] })],
);
