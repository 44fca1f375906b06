import { index, integer, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { serverStateEnum } from './session-enums.js';
import type { ConnectBackendName } from './session-states.js';

/**
 * One row per Spark Connect server, warm in a pool or started cold for one session. The row is written before
 * the server is started (STARTING), so a server can never exist without a row that says whose it is; leasing is
 * one `UPDATE … FOR UPDATE SKIP LOCKED` on it. `token` is the server's own bearer token: the proxy sends it
 * upstream, and no user ever sees it (the users' session tokens are in `sessions`, hashed).
 */
export const connectServers = pgTable(
  'connect_servers',
  {
    serverId: uuid('server_id').primaryKey(),
    /** The pool it was warmed for; null for a cold start. */
    pool: text('pool'),
    /** The one session it serves, once leased (or from the start, for a cold start). */
    sessionId: uuid('session_id'),
    state: serverStateEnum('state').notNull().default('STARTING'),
    team: text('team').notNull(),
    sparkVersion: text('spark_version').notNull(),
    driverMemoryMb: integer('driver_memory_mb').notNull(),
    backend: text('backend').$type<ConnectBackendName>(),
    cluster: text('cluster'),
    namespace: text('namespace'),
    /** Kubernetes: the SparkApplication, Service and Secret (all three share it). */
    objectName: text('object_name'),
    host: text('host'),
    port: integer('port'),
    token: text('token'),
    /** Local: the JVM (also its process group) and its kernel start time, so a reused pid is never signalled. */
    pid: integer('pid'),
    startTicks: text('start_ticks'),
    /** The driver's Spark UI port, asked whether a Spark job is running (the idle check). */
    uiPort: integer('ui_port'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    warmAt: timestamp('warm_at', { withTimezone: true }),
    leasedAt: timestamp('leased_at', { withTimezone: true }),
    stoppedAt: timestamp('stopped_at', { withTimezone: true }),
  },
  (t) => [
    index('connect_servers_pool_state_idx').on(t.pool, t.state),
    index('connect_servers_session_idx').on(t.sessionId),
  ],
);
