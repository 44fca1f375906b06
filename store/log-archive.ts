/**
 * The log archive: each attempt's driver log, kept by the platform after the run (README, "After the run").
 * It lives in Postgres, as gzip chunks (`log_chunks`) under one row per attempt (`log_archives`), because Postgres
 * is the one store every API and worker replica already shares: an archive written by any worker is readable by
 * every API replica, with no shared volume or object store to provision, and retention is a DELETE.
 *
 * Contract:
 * - `archive` is idempotent: the first complete archive of an attempt wins, and a later call (a retried
 *   activity, a second worker) returns it without reading the source again. Chunks and row are written in one
 *   transaction, so readers see the whole archive or none of it.
 * - The source is read as a stream and never held whole: head chunks are written as they come, and only a
 *   rolling window of compressed tail chunks is kept in memory.
 * - A log longer than `maxBytes` keeps its first and last halves with a one-line marker between them that says
 *   how much was left out.
 * - `read` streams chunk by chunk, from a byte offset or as the last N lines.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm';
import { logArchives, logChunks } from '../schema/index.js';
import type { Db } from './db.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** 256 MiB per attempt: what `LOG_ARCHIVE_MAX_BYTES` defaults to. */
export const DEFAULT_LOG_ARCHIVE_MAX_BYTES = 256 * 1024 * 1024;

export interface ArchiveKey {
  executionId: string;
  attempt: number;
}

export type ArchiveInfo = typeof logArchives.$inferSelect;

export interface ArchiveOptions {
  team: string;
  appId?: string;
  /** Largest archive, in bytes of text; a longer log keeps its head and tail around a marker. */
  maxBytes: number;
  now?: Date;
}

export interface ReadOptions {
  /** Start at this byte of the archived text. */
  fromByte?: number;
  /** Only the last N lines. */
  tail?: number;
}

/** What one sweep removed. */
export interface ArchiveSweep {
  archives: number;
  chunks: number;
}

/** Chunk size for a cap: at most 1 MiB, and small enough that the kept tail spans several chunks. */
export function chunkBytesFor(maxBytes: number): number {
  return Math.max(1024, Math.min(1024 * 1024, Math.floor(maxBytes / 16)));
}

/** Splits a byte stream into chunks of at most `size` bytes that end at a newline where the text allows it. */
export async function* lineChunks(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let length = 0;
  for await (const piece of source) {
    const buffer = Buffer.isBuffer(piece) ? piece : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    parts.push(buffer);
    length += buffer.length;
    if (length < size) continue;
    let pending = Buffer.concat(parts, length);
    while (pending.length >= size) {
      const newline = pending.lastIndexOf(0x0a, size - 1);
      const cut = newline >= 0 ? newline + 1 : size;
      yield pending.subarray(0, cut);
      pending = pending.subarray(cut);
    }
    parts = pending.length > 0 ? [pending] : [];
    length = pending.length;
  }
  if (length > 0) yield Buffer.concat(parts, length);
}

function newlines(buffer: Buffer): number {
  let n = 0;
  for (let i = buffer.indexOf(0x0a); i >= 0; i = buffer.indexOf(0x0a, i + 1)) n++;
  return n;
}

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${+(bytes / 1024 / 1024).toFixed(1)} MiB` : `${+(bytes / 1024).toFixed(1)} KiB`;
}

/** The last `n` lines of a text (a last line without a newline counts), keeping the text's final newline. */
function lastLines(text: string, n: number): string {
  if (n <= 0) return '';
  let from = text.endsWith('\n') ? text.length - 1 : text.length;
  for (let i = 0; i < n; i++) {
    if (from === 0) return text;
    const newline = text.lastIndexOf('\n', from - 1);
    if (newline < 0) return text;
    from = newline;
  }
  return text.slice(from + 1);
}

/**
 * Where a byte of the source is in the archived text: the same place, unless the log was truncated and the byte
 * lies in or after the part left out.
 */
export function archiveOffsetOf(info: ArchiveInfo, sourceOffset: number): number {
  if (!info.truncated || sourceOffset <= info.headBytes) return sourceOffset;
  const tailStart = info.sourceBytes - info.tailBytes;
  return sourceOffset >= tailStart ? info.bytes - (info.sourceBytes - sourceOffset) : info.headBytes;
}

export class LogArchive {
  constructor(private readonly db: Db) {}

  /** The archive of an attempt, if there is one. */
  async info(key: ArchiveKey): Promise<ArchiveInfo | undefined> {
    const [row] = await this.db.select().from(logArchives).where(this.keyOf(key));
    return row;
  }

  /** Every archived attempt of an execution, oldest first. */
  async list(executionId: string): Promise<ArchiveInfo[]> {
    return this.db
      .select()
      .from(logArchives)
      .where(eq(logArchives.executionId, executionId))
      .orderBy(asc(logArchives.attempt));
  }

  /** The team of each application whose attempt log was archived (it ended), by app id. */
  async appOwners(appIds: readonly string[]): Promise<Map<string, string>> {
    if (appIds.length === 0) return new Map();
    const rows = await this.db
      .select({ appId: logArchives.appId, team: logArchives.team })
      .from(logArchives)
      .where(inArray(logArchives.appId, [...appIds]));
    return new Map(rows.map((r) => [r.appId!, r.team]));
  }

  /** The archived attempts of each of these executions. */
  async archivedAttempts(executionIds: readonly string[]): Promise<Map<string, Set<number>>> {
    const ids = executionIds.filter((id) => UUID.test(id));
    const out = new Map<string, Set<number>>();
    if (ids.length === 0) return out;
    const rows = await this.db
      .select({ executionId: logArchives.executionId, attempt: logArchives.attempt })
      .from(logArchives)
      .where(inArray(logArchives.executionId, ids));
    for (const row of rows) out.set(row.executionId, (out.get(row.executionId) ?? new Set()).add(row.attempt));
    return out;
  }

  /**
   * Archives an attempt's log from `open()` unless it is archived already (then `open` is never called).
   * Returns the archive that stands.
   */
  async archive(
    key: ArchiveKey,
    open: () => AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: ArchiveOptions,
  ): Promise<ArchiveInfo> {
    const existing = await this.info(key);
    if (existing) return existing;
    return this.db.transaction(async (tx) => {
      // Two archivers of one attempt (a retried activity on another worker) queue here; the second finds the row.
      await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`log-archive:${key.executionId}:${key.attempt}`}))`);
      const [again] = await tx.select().from(logArchives).where(this.keyOf(key));
      if (again) return again;

      const headBudget = Math.floor(options.maxBytes / 2);
      const tailBudget = options.maxBytes - headBudget;
      let seq = 0;
      let offset = 0;
      let lines = 0;
      let sourceBytes = 0;
      let headBytes = 0;
      let endsWithNewline = true;
      const insert = async (data: Buffer, bytes: number, lineCount: number) => {
        await tx.insert(logChunks).values({ ...key, seq: seq++, offset, bytes, lines: lineCount, data });
        offset += bytes;
        lines += lineCount;
      };
      // Past the head budget, chunks wait here (compressed) until the source ends; the oldest fall out.
      const tail: { data: Buffer; bytes: number; lines: number }[] = [];
      let tailBytes = 0;
      let droppedBytes = 0;
      let droppedLines = 0;
      for await (const chunk of lineChunks(open(), chunkBytesFor(options.maxBytes))) {
        sourceBytes += chunk.length;
        const count = newlines(chunk);
        if (tail.length === 0 && droppedBytes === 0 && headBytes + chunk.length <= headBudget) {
          await insert(await gzipAsync(chunk), chunk.length, count);
          headBytes += chunk.length;
          endsWithNewline = chunk[chunk.length - 1] === 0x0a;
          continue;
        }
        tail.push({ data: await gzipAsync(chunk), bytes: chunk.length, lines: count });
        tailBytes += chunk.length;
        while (tailBytes > tailBudget) {
          const dropped = tail.shift()!;
          tailBytes -= dropped.bytes;
          droppedBytes += dropped.bytes;
          droppedLines += dropped.lines;
        }
      }
      const truncated = droppedBytes > 0;
      if (truncated) {
        const marker = Buffer.from(
          `${endsWithNewline ? '' : '\n'}[spark-runner] ${droppedBytes} bytes (${droppedLines} lines) of this log ` +
            `were left out here: the archive keeps the first and the last ${mib(headBudget)} of an attempt's log ` +
            `(LOG_ARCHIVE_MAX_BYTES=${options.maxBytes})\n`,
        );
        await insert(await gzipAsync(marker), marker.length, newlines(marker));
      }
      for (const chunk of tail) await insert(chunk.data, chunk.bytes, chunk.lines);
      const [row] = await tx
        .insert(logArchives)
        .values({
          ...key,
          team: options.team,
          appId: options.appId ?? null,
          bytes: offset,
          sourceBytes,
          lines,
          headBytes: truncated ? headBytes : offset,
          tailBytes: truncated ? tailBytes : 0,
          truncated,
          archivedAt: options.now ?? new Date(),
        })
        .returning();
      return row!;
    });
  }

  /** The archived text as a stream of chunks: all of it, from a byte, or only the last lines. */
  async *read(key: ArchiveKey, options: ReadOptions = {}): AsyncGenerator<Buffer> {
    if (options.tail !== undefined) {
      yield await this.readTail(key, options.tail);
      return;
    }
    const from = options.fromByte ?? 0;
    const metas = await this.db
      .select({ seq: logChunks.seq, offset: logChunks.offset })
      .from(logChunks)
      .where(and(this.chunkKeyOf(key), gt(sql`${logChunks.offset} + ${logChunks.bytes}`, from)))
      .orderBy(asc(logChunks.seq));
    for (const meta of metas) {
      const text = await this.chunk(key, meta.seq);
      yield meta.offset < from ? text.subarray(from - meta.offset) : text;
    }
  }

  /**
   * Removes archives older than their team's cutoff (`byTeam`), or `cutoff` for other teams, with their chunks.
   */
  async sweep(cutoff: Date, byTeam: Record<string, Date> = {}): Promise<ArchiveSweep> {
    const teams = Object.entries(byTeam);
    const teamCutoff = teams.length
      ? sql`case ${logArchives.team} ${sql.join(
          teams.map(([team, at]) => sql`when ${team} then ${at.toISOString()}::timestamptz`),
          sql` `,
        )} else ${cutoff.toISOString()}::timestamptz end`
      : sql`${cutoff.toISOString()}::timestamptz`;
    const { rows } = await this.db.execute<{ archives: number; chunks: number }>(sql`
      with gone as (
        delete from ${logArchives} where ${logArchives.archivedAt} < ${teamCutoff}
        returning ${logArchives.executionId} as execution_id, ${logArchives.attempt} as attempt),
      chunks as (
        delete from ${logChunks} c using gone g
        where c.execution_id = g.execution_id and c.attempt = g.attempt returning 1)
      select (select count(*) from gone)::int as archives, (select count(*) from chunks)::int as chunks`);
    return rows[0]!;
  }

  /** Removes every archive of these executions (the execution retention's part). */
  async removeExecutions(executionIds: readonly string[]): Promise<void> {
    if (executionIds.length === 0) return;
    const ids = sql.join(
      executionIds.map((id) => sql`${id}::uuid`),
      sql`, `,
    );
    await this.db.execute(sql`delete from ${logChunks} where ${logChunks.executionId} in (${ids})`);
    await this.db.execute(sql`delete from ${logArchives} where ${logArchives.executionId} in (${ids})`);
  }

  private async readTail(key: ArchiveKey, n: number): Promise<Buffer> {
    const metas = await this.db
      .select({ seq: logChunks.seq, lines: logChunks.lines })
      .from(logChunks)
      .where(this.chunkKeyOf(key))
      .orderBy(desc(logChunks.seq));
    // Newlines counted from the end: n + 1 of them bound the last n lines, whatever the final line's ending.
    const wanted: number[] = [];
    let seen = 0;
    for (const meta of metas) {
      wanted.unshift(meta.seq);
      seen += meta.lines;
      if (seen > n) break;
    }
    const texts: Buffer[] = [];
    for (const seq of wanted) texts.push(await this.chunk(key, seq));
    return Buffer.from(lastLines(Buffer.concat(texts).toString('utf8'), n));
  }

  private async chunk(key: ArchiveKey, seq: number): Promise<Buffer> {
    const [row] = await this.db
      .select({ data: logChunks.data })
      .from(logChunks)
      .where(and(this.chunkKeyOf(key), eq(logChunks.seq, seq)));
    return row ? gunzipAsync(row.data) : Buffer.alloc(0);
  }

  private keyOf(key: ArchiveKey) {
    return and(eq(logArchives.executionId, key.executionId), eq(logArchives.attempt, key.attempt));
  }

  private chunkKeyOf(key: ArchiveKey) {
    return and(eq(logChunks.executionId, key.executionId), eq(logChunks.attempt, key.attempt));
  }
}
