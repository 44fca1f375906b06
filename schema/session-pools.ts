import { integer, pgTable, text, timestamp } from 'drizzle-orm/pg-core';
import type { ConnectBackendName } from './session-states.js';

/**
 * A warm pool of Spark Connect servers: its team (`*`: every team of the default domain), Spark version and size,
 * plus what its sessions get by default. Written by a `kind: SessionPool` manifest apply (`<team>.<name>`) or by
 * `SESSION_DEFAULT_POOL_SIZE` (`default`); its pool workflow (`pool-<name>`) reads it on every reconcile, so this
 * row, not the workflow's input, is the desired state. A deleted pool keeps its row with size 0 and `deleted_at`.
 */
export const sessionPools = pgTable('session_pools', {
  name: text('name').primaryKey(),
  team: text('team').notNull(),
  sparkVersion: text('spark_version').notNull(),
  size: integer('size').notNull(),
  driverMemoryMb: integer('driver_memory_mb').notNull(),
  /** `auto` lets the gateway place the servers; `local` or `kubernetes` insists. */
  backend: text('backend').$type<ConnectBackendName | 'auto'>().notNull().default('auto'),
  /** Idle timeout of the pool's sessions unless the create asks for another. */
  idleTimeoutS: integer('idle_timeout_s'),
  /** `manifest` or `config` (SESSION_DEFAULT_POOL_SIZE). */
  source: text('source').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  deletedAt: timestamp('deleted_at', { withTimezone: true }),
});
