import { boolean, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * The latest health probe of each Kubernetes cluster, written by the processes that probe (the worker, the
 * watcher) so that the ones that do not (the API, for dry-runs and its views) read the same answer.
 */
export const clusterHealth = pgTable('cluster_health', {
  cluster: text('cluster').primaryKey(),
  healthy: boolean('healthy').notNull(),
  reason: text('reason'),
  checkedAt: timestamp('checked_at', { withTimezone: true }).notNull(),
});
