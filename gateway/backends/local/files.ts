/**
 * The on-disk layout of one attempt, which is the local backend's only state, so a restarted worker can adopt
 * every run from the files alone:
 *
 *   <runsDir>/<executionId>/<attempt>/
 *     wrapper.pid  written first by the wrapper, exclusively: whoever creates it owns the attempt
 *     run.json     RunRecord, written atomically by submit before it returns
 *     driver.log   spark-submit stdout + stderr
 *     exit-code    spark-submit's exit code, written atomically by the wrapper after it exits
 *     cancelled    marker written by cancel before it signals the process group
 *     stopped      marker written by `npm run dev`'s shutdown before it stops the group (JSON: when, by whom)
 *     result.json  what the application reported about its work (the CoreETL runtime's rows read and written)
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** What submit records about an attempt; immutable once written. */
export interface RunRecord {
  executionId: string;
  attempt: number;
  vendorRunId: string;
  /** The wrapper's pid; it is also the process group id because the wrapper is a session leader. */
  pid: number;
  pgid: number;
  /** Linux start time of the wrapper (clock ticks since boot), to tell a recycled pid from ours. */
  startTicks?: number;
  command: string;
  args: string[];
  submittedAt: string;
  /** The Spark version the run uses (absent in records written before versions were recorded). */
  sparkVersion?: string;
  /** How a `coreEtl` job runs (VendorRun.coreEtl). */
  coreEtl?: { runtime: 'builtin' | 'jar'; jarPath: string; mainClass: string; note?: string };
}

export const FILES = {
  wrapperPid: 'wrapper.pid',
  record: 'run.json',
  log: 'driver.log',
  exitCode: 'exit-code',
  cancelled: 'cancelled',
  stopped: 'stopped',
  result: 'result.json',
} as const;

export function attemptDir(runsDir: string, executionId: string, attempt: number): string {
  return join(runsDir, executionId, String(attempt));
}

/** Writes via a temporary file and rename, so readers never see a half-written file. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

export async function readRecord(dir: string): Promise<RunRecord | undefined> {
  const text = await readIfExists(join(dir, FILES.record));
  return text === undefined ? undefined : (JSON.parse(text) as RunRecord);
}

/** The exit code the wrapper recorded, or undefined while spark-submit has not exited (or never will). */
export async function readExitCode(dir: string): Promise<number | undefined> {
  const text = await readIfExists(join(dir, FILES.exitCode));
  if (text === undefined) return undefined;
  const code = Number.parseInt(text.trim(), 10);
  return Number.isNaN(code) ? undefined : code;
}

/** Size of a file in bytes, 0 when it does not exist. */
export async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (err) {
    if (isNotFound(err)) return 0;
    throw err;
  }
}

/** Up to `maxBytes` from `start` of a file (empty when it does not exist), without reading the rest. */
export async function readRange(path: string, start: number, maxBytes: number): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    if (isNotFound(err)) return Buffer.alloc(0);
    throw err;
  }
  try {
    const buffer = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buffer, 0, maxBytes, start);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** The last `maxBytes` of a file as text, starting at a line boundary. */
export async function readTailText(path: string, maxBytes: number): Promise<string> {
  const size = await fileSize(path);
  const start = Math.max(0, size - maxBytes);
  const text = (await readRange(path, start, size - start)).toString('utf8');
  return start === 0 ? text : text.slice(text.indexOf('\n') + 1);
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}
