import { integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import type { BackendName } from './states.js';

/**
 * Where the gateway placed each attempt, decided once, for every backend. A retried submit reads the first
 * decision back, so an attempt can never be created on two clusters or backends even if health or load changed
 * in between.
 */
export const placements = pgTable(
  'placements',
  {
    executionId: uuid('execution_id').notNull(),
    attempt: integer('attempt').notNull(),
    backend: text('backend').$type<BackendName>().notNull(),
    /** The Kubernetes cluster, the EMR virtual cluster id, or `local` / `sim`. */
    cluster: text('cluster'),
    namespace: text('namespace'),
    reason: text('reason'),
    decidedAt: timestamp('decided_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.attempt] })],
);
