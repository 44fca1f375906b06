/**
 * The log archive (store/log-archive.ts) against the real Postgres of the test stack, with the size cap lowered
 * from 256 MiB to 256 KiB so a truncated log is a few MiB: streamed in, truncated with a marker, streamed out.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../store/db.js';
import { archiveOffsetOf, chunkBytesFor, LogArchive } from '../../store/log-archive.js';

const CAP = 256 * 1024;
let database: Database;
let archive: LogArchive;

beforeAll(() => {
  database = openDatabase(process.env.DATABASE_URL!);
  archive = new LogArchive(database.db);
});
afterAll(async () => database?.close());

const line = (i: number) => `${String(i).padStart(7, '0')} INFO Executor: finished task ${i} in stage 0.0 (TID ${i})\n`;

/** `count` log lines as a stream of 64 KiB pieces, generated as they are pulled. */
function* lines(count: number, counter?: { pulled: number }): Generator<Uint8Array> {
  let piece = '';
  for (let i = 0; i < count; i++) {
    piece += line(i);
    if (piece.length >= 64 * 1024) {
      if (counter) counter.pulled++;
      yield Buffer.from(piece);
      piece = '';
    }
  }
  if (piece) yield Buffer.from(piece);
}

async function text(chunks: AsyncIterable<Uint8Array>): Promise<string> {
  const parts: Buffer[] = [];
  for await (const chunk of chunks) parts.push(Buffer.from(chunk));
  return Buffer.concat(parts).toString('utf8');
}

const key = () => ({ executionId: randomUUID(), attempt: 1 });

describe('the log archive', () => {
  it('keeps the first and last halves of a log longer than the cap around a marker that says what was left out', async () => {
    const k = key();
    const count = 60_000; // about 4.6 MiB
    const source = Array.from({ length: count }, (_, i) => line(i)).join('');
    const info = await archive.archive(k, () => lines(count), { team: 'team-a', maxBytes: CAP });
    expect(info).toMatchObject({ truncated: true, sourceBytes: Buffer.byteLength(source), team: 'team-a' });
    expect(info.headBytes).toBeLessThanOrEqual(CAP / 2);
    expect(info.tailBytes).toBeLessThanOrEqual(CAP / 2);
    expect(info.headBytes + info.tailBytes).toBeGreaterThan(CAP - 2 * chunkBytesFor(CAP));

    const archived = await text(archive.read(k));
    expect(Buffer.byteLength(archived)).toBe(info.bytes);
    const head = source.slice(0, info.headBytes);
    const tail = source.slice(source.length - info.tailBytes);
    const marker = archived.slice(head.length, archived.length - tail.length);
    expect(archived.startsWith(head)).toBe(true);
    expect(archived.endsWith(tail)).toBe(true);
    const dropped = info.sourceBytes - info.headBytes - info.tailBytes;
    expect(marker).toMatch(
      new RegExp(`^\\[spark-runner\\] ${dropped} bytes \\(\\d+ lines\\) of this log were left out here`),
    );
    expect(marker).toContain('LOG_ARCHIVE_MAX_BYTES=262144');
    // Whole lines on both sides of the marker.
    expect(head.endsWith('\n')).toBe(true);
    expect(tail).toMatch(/^\d{7} INFO/);

    expect(await text(archive.read(k, { tail: 3 }))).toBe(source.split('\n').slice(-4).join('\n'));
  });

  it('reads on from a byte of the source across the left-out part, as a follow switching to the archive does', async () => {
    const k = key();
    const source = Array.from({ length: 40_000 }, (_, i) => line(i)).join('');
    const info = await archive.archive(k, () => lines(40_000), { team: 'team-a', maxBytes: CAP });
    const inHead = 1000;
    expect(await text(archive.read(k, { fromByte: archiveOffsetOf(info, inHead) }))).toBe(
      (await text(archive.read(k))).slice(inHead),
    );
    const inTail = source.length - 500;
    expect(await text(archive.read(k, { fromByte: archiveOffsetOf(info, inTail) }))).toBe(source.slice(inTail));
    expect(await text(archive.read(k, { fromByte: archiveOffsetOf(info, source.length) }))).toBe('');
  });

  it('archives a log under the cap byte for byte, multi-byte characters across chunk boundaries included', async () => {
    const k = key();
    // 3-byte characters with no newlines for long stretches: chunk cuts fall inside them.
    const source = Array.from({ length: 3000 }, (_, i) => `${i} ${'€'.repeat(i % 700)}\n`).join('');
    const info = await archive.archive(
      k,
      function* () {
        const bytes = Buffer.from(source);
        for (let at = 0; at < bytes.length; at += 4099) yield bytes.subarray(at, at + 4099);
      },
      { team: 'team-a', maxBytes: 64 * 1024 * 1024 },
    );
    expect(info).toMatchObject({ truncated: false, bytes: Buffer.byteLength(source), lines: 3000 });
    expect(await text(archive.read(k))).toBe(source);
    expect(await text(archive.read(k, { tail: 2 }))).toBe(source.split('\n').slice(-3).join('\n'));
  });

  it('archives each attempt once: a second archive returns the first and never opens its source', async () => {
    const k = key();
    const first = await archive.archive(k, () => lines(100), { team: 'team-a', maxBytes: CAP });
    let opened = false;
    const second = await archive.archive(
      k,
      () => {
        opened = true;
        return lines(5);
      },
      { team: 'team-a', maxBytes: CAP },
    );
    expect(opened).toBe(false);
    expect(second).toEqual(first);
    // Two archivers at once (a retried activity on a second worker): one archive, the same for both.
    const k2 = key();
    const [a, b] = await Promise.all([
      archive.archive(k2, () => lines(3000), { team: 'team-a', maxBytes: CAP }),
      archive.archive(k2, () => lines(3000), { team: 'team-a', maxBytes: CAP }),
    ]);
    expect(a).toEqual(b);
    expect(await text(archive.read(k2))).toBe(Array.from({ length: 3000 }, (_, i) => line(i)).join(''));
  });

  it('never holds a log whole: archiving 64 MiB under the lowered cap stays far below the size of the log in memory', async () => {
    const k = key();
    const piece = Buffer.from(Array.from({ length: 1024 }, (_, i) => line(i)).join('')); // ~80 KiB
    const pieces = Math.ceil((64 * 1024 * 1024) / piece.length);
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
    const before = used();
    let peak = 0;
    const info = await archive.archive(
      k,
      function* () {
        for (let i = 0; i < pieces; i++) {
          // A copy per piece, as a socket or a file read hands out fresh buffers.
          yield Buffer.from(piece);
          if (i % 64 === 0) peak = Math.max(peak, used() - before);
        }
      },
      { team: 'team-a', maxBytes: CAP },
    );
    expect(info.sourceBytes).toBe(pieces * piece.length);
    expect(info.truncated).toBe(true);
    expect(peak).toBeLessThan(32 * 1024 * 1024);
  });
});
