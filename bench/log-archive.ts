/**
 * `npm run bench -- log-archive [--mib 512] [--cap-mib 256]`: the log archive (store/log-archive.ts) on a real,
 * throwaway Postgres. Archives a generated driver log of `--mib` MiB under a cap of `--cap-mib` MiB (so a log
 * over the cap is truncated), then reads it back whole and as a tail, and prints MiB/s and the memory the archive
 * took, beside a baseline: gzip of the same bytes in this process with no database.
 */
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../config/index.js';
import { startEphemeralStack } from '../provision/ephemeral.js';
import { openDatabase } from '../store/db.js';
import { chunkBytesFor, LogArchive } from '../store/log-archive.js';
import { printTable } from './stats.js';

const gzipAsync = promisify(gzip);
const MIB = 1024 * 1024;

function option(argv: string[], name: string, fallback: number): number {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
}

/** A driver log's worth of lines, `mib` MiB, in 256 KiB pieces as a file read hands them out. */
function* driverLog(mib: number): Generator<Buffer> {
  let n = 0;
  let produced = 0;
  while (produced < mib * MIB) {
    let piece = '';
    while (piece.length < 256 * 1024) {
      piece += `26/12/02 07:19:45 INFO Executor: Finished task ${n % 200}.0 in stage ${n >> 10}.0 (TID ${n}). 1891 bytes result sent to driver\n`;
      n++;
    }
    produced += piece.length;
    yield Buffer.from(piece);
  }
}

const used = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;

export async function logArchiveBench(argv: string[]): Promise<void> {
  const mib = option(argv, 'mib', 512);
  const capMib = option(argv, 'cap-mib', 256);
  const stack = await startEphemeralStack(loadConfig(), (l) => console.log(`[bench] ${l}`));
  const database = openDatabase(stack.databaseUrl);
  try {
    const archive = new LogArchive(database.db);

    // Baseline: compressing the same bytes in chunks of the archive's size, nothing stored.
    const chunk = chunkBytesFor(capMib * MIB);
    let t = performance.now();
    let compressed = 0;
    for (const piece of driverLog(mib)) {
      for (let at = 0; at < piece.length; at += chunk)
        compressed += (await gzipAsync(piece.subarray(at, at + chunk))).length;
    }
    const gzipSeconds = (performance.now() - t) / 1000;

    const key = { executionId: randomUUID(), attempt: 1 };
    const before = used();
    let peak = 0;
    t = performance.now();
    const info = await archive.archive(
      key,
      function* () {
        for (const piece of driverLog(mib)) {
          peak = Math.max(peak, used() - before);
          yield piece;
        }
      },
      { team: 'bench', maxBytes: capMib * MIB },
    );
    const archiveSeconds = (performance.now() - t) / 1000;

    t = performance.now();
    let read = 0;
    for await (const part of archive.read(key)) read += part.length;
    const readSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await archive.read(key, { tail: 100 }).next();
    const tailMs = performance.now() - t;
    const { rows } = await database.pool.query<{ bytes: string }>(
      'select sum(length(data))::bigint as bytes from log_chunks where execution_id = $1',
      [key.executionId],
    );

    printTable(`log archive: a ${mib} MiB driver log under a ${capMib} MiB cap (chunks of ${chunk / 1024} KiB)`, [
      ['baseline: gzip only, MiB/s', `${(mib / gzipSeconds).toFixed(0)} (${(compressed / MIB).toFixed(1)} MiB out)`],
      ['archive, MiB/s of source', (mib / archiveSeconds).toFixed(0)],
      ['archived', `${(info.bytes / MIB).toFixed(1)} MiB text, ${info.truncated ? 'truncated' : 'whole'}`],
      ['stored in Postgres', `${(Number(rows[0]!.bytes) / MIB).toFixed(1)} MiB gzip`],
      ['memory held while archiving', `${(peak / MIB).toFixed(1)} MiB peak (heap + buffers)`],
      ['read back whole, MiB/s', (read / MIB / readSeconds).toFixed(0)],
      ['last 100 lines', `${tailMs.toFixed(0)} ms`],
    ]);
  } finally {
    await database.close();
    await stack.stop();
  }
}
