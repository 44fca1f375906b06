import { bigint, boolean, index, integer, pgTable, primaryKey, text, timestamp, uuid } from 'drizzle-orm/pg-core';

/**
 * One row per archived attempt log (store/log-archive.ts): written in the same transaction as the attempt's
 * chunks, so a row means the whole archive is there. `team` and `app_id` let the retention sweep apply a team's
 * policy to the log and to the Spark event log of the same attempt.
 */
export const logArchives = pgTable(
  'log_archives',
  {
    executionId: uuid('execution_id').notNull(),
    attempt: integer('attempt').notNull(),
    team: text('team').notNull(),
    /** The Spark application id of the attempt, when it was known (its event log and History Server page). */
    appId: text('app_id'),
    /** Bytes of the archived text, a truncation marker included. */
    bytes: bigint('bytes', { mode: 'number' }).notNull(),
    /** Bytes the source had; more than `bytes` when the log was truncated. */
    sourceBytes: bigint('source_bytes', { mode: 'number' }).notNull(),
    lines: bigint('lines', { mode: 'number' }).notNull(),
    /** Bytes of the source kept before the truncation marker (all of them when not truncated). */
    headBytes: bigint('head_bytes', { mode: 'number' }).notNull(),
    /** Bytes of the source kept after the marker: the end of the log (0 when not truncated). */
    tailBytes: bigint('tail_bytes', { mode: 'number' }).notNull(),
    truncated: boolean('truncated').notNull(),
    archivedAt: timestamp('archived_at', { withTimezone: true }).notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.executionId, t.attempt] }),
    index('log_archives_archived_idx').on(t.archivedAt),
    index('log_archives_app_idx').on(t.appId),
  ],
);
