import { bigint, customType, integer, pgTable, primaryKey, uuid } from 'drizzle-orm/pg-core';

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' });

/**
 * The text of an archived attempt log, in gzip-compressed chunks that each end at a line boundary (except a
 * line longer than a chunk). `offset` and `lines` let a reader start at a byte or take the last lines without
 * decompressing the rest.
 */
export const logChunks = pgTable(
  'log_chunks',
  {
    executionId: uuid('execution_id').notNull(),
    attempt: integer('attempt').notNull(),
    seq: integer('seq').notNull(),
    /** Where the chunk starts in the archived text, in bytes. */
    offset: bigint('offset', { mode: 'number' }).notNull(),
    /** Uncompressed size. */
    bytes: integer('bytes').notNull(),
    /** Newlines in the chunk. */
    lines: integer('lines').notNull(),
    data: bytea('data').notNull(),
  },
  (t) => [primaryKey({ columns: [t.executionId, t.attempt, t.seq] })],
);
