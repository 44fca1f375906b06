import { index, integer, pgTable, text, timestamp, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { sessionStateEnum } from './session-enums.js';
import type { SessionEndReason } from './session-states.js';

/**
 * One row per interactive Spark Connect session: a snapshot of its workflow (`session-<id>`), whose history is in
 * session_events. The user's session token is kept only as its SHA-256 (`token_hash`); the proxy hashes what a
 * client sends and looks the row up by it. `last_activity_at` is written by the proxy (never per RPC: at most once
 * per flush interval while an RPC is open), and read by the workflow's idle check.
 */
export const sessions = pgTable(
  'sessions',
  {
    sessionId: uuid('session_id').primaryKey(),
    team: text('team').notNull(),
    owner: text('owner'),
    state: sessionStateEnum('state').notNull().default('REQUESTED'),
    sparkVersion: text('spark_version').notNull(),
    /** The pool asked for or chosen at create; null: a cold start only. */
    pool: text('pool'),
    /** The server serving the session, once leased or started (connect_servers). */
    serverId: uuid('server_id'),
    tokenHash: text('token_hash').notNull(),
    idleTimeoutS: integer('idle_timeout_s').notNull(),
    maxLifetimeS: integer('max_lifetime_s').notNull(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    /** The last RPC the proxy saw open (its clock is the database's). */
    lastActivityAt: timestamp('last_activity_at', { withTimezone: true }),
    endedReason: text('ended_reason').$type<SessionEndReason>(),
    endedMessage: text('ended_message'),
    workflowId: text('workflow_id').notNull(),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    readyAt: timestamp('ready_at', { withTimezone: true }),
    endedAt: timestamp('ended_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('sessions_token_hash_idx').on(t.tokenHash),
    index('sessions_team_created_idx').on(t.team, t.createdAt.desc()),
    index('sessions_state_idx').on(t.state),
  ],
);
