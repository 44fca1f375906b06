/**
 * The local backend: real spark-submit child processes on the worker's machine (DESIGN.md, "The backend
 * contract"). All state lives in files under `runsDir` (layout in files.ts), so a restarted worker adopts runs
 * that a previous worker started, and runs outlive the worker that started them. The submitting side is
 * `createLocalBackend`; `createLocalStatusSource` watches the same files.
 *
 * Errors: spark-submit's own failures are run outcomes (status FAILED), never thrown. Anything thrown (file
 * system errors, a wrapper that would not start, a process group that survives SIGKILL) is transient.
 */
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type {
  AttemptRequest,
  Backend,
  CancelTarget,
  LogOptions,
  RunRef,
  RunStatus,
  StatusSource,
  VendorRun,
} from '../../backend.js';
import { isFinalPhase } from '../../backend.js';
import { describeLocalSubmission } from './args.js';
import { lastLines } from './driver-log.js';
import type { RunRecord } from './files.js';
import {
  FILES,
  attemptDir,
  fileSize,
  readExitCode,
  readRange,
  readRecord,
  readTailText,
  writeFileAtomic,
} from './files.js';
import { isGroupAlive, readStartTicks, startWrapper, stopGroup } from './process.js';
import { createStatusReader } from './status.js';
import { pause } from '../pause.js';

export { buildSparkSubmitArgs, buildSubmitEnv, describeLocalSubmission } from './args.js';
export type { LocalSubmission, SparkSubmitSettings } from './args.js';

export interface LocalBackendLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface LocalBackendOptions {
  /** Spark installation; spark-submit is `${sparkHome}/bin/spark-submit`. */
  sparkHome: string;
  /** Python for the driver and the Python workers (PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON). */
  pythonExecutable?: string;
  /** Where each attempt keeps its record, log and exit code; must survive worker restarts. */
  runsDir: string;
  /** Spark master, e.g. `local[2]`. */
  master: string;
  /** How often watch() and followLogs() look at the files. */
  watchIntervalMs: number;
  javaHome?: string;
  /** How long cancel waits after SIGTERM before SIGKILL; 5 s by default, which lets Spark stop cleanly. */
  cancelGraceMs?: number;
  logger?: LocalBackendLogger;
}

const DEFAULT_CANCEL_GRACE_MS = 5_000;
const FOLLOW_CHUNK_BYTES = 1024 * 1024;

/** Creates the local backend. Settings come only from `options`. */
export function createLocalBackend(options: LocalBackendOptions): Backend {
  const reader = createStatusReader();
  // Concurrent submits of one attempt in this process share one start; across processes the wrapper's
  // exclusive claim (process.ts) ensures a single spark-submit.
  const inflight = new Map<string, Promise<VendorRun>>();
  const dirOf = (run: { executionId: string; attempt: number }) =>
    attemptDir(options.runsDir, run.executionId, run.attempt);

  async function startAttempt(req: AttemptRequest): Promise<VendorRun> {
    const dir = dirOf(req);
    const existing = await reader.record(dir);
    if (existing) return toVendorRun(existing);
    await mkdir(dir, { recursive: true });
    const { command, args, env } = describeLocalSubmission(req, options);
    const pid = await startWrapper(dir, command, args, env);
    const record: RunRecord = {
      executionId: req.executionId,
      attempt: req.attempt,
      vendorRunId: vendorRunId(req),
      pid,
      pgid: pid, // the wrapper is a session leader (detached), so it leads its own process group
      startTicks: await readStartTicks(pid),
      command,
      args,
      submittedAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(dir, FILES.record), JSON.stringify(record, null, 2));
    options.logger?.info({ executionId: req.executionId, attempt: req.attempt, pid, dir }, 'started spark-submit');
    return toVendorRun(record);
  }

  async function cancel(run: CancelTarget): Promise<void> {
    const dir = dirOf(run);
    // Let a submit in progress finish first, so its run is cancelled too; its error belongs to its own caller.
    await inflight.get(dir)?.catch(() => undefined);
    const record = await reader.record(dir);
    // Nothing started, or it already ended: there is nothing to cancel, and an ended run keeps its outcome.
    if (!record || (await readExitCode(dir)) !== undefined) return;
    if (!(await isGroupAlive(record.pgid, record.startTicks))) return;
    await writeFileAtomic(join(dir, FILES.cancelled), new Date().toISOString());
    options.logger?.info({ executionId: run.executionId, attempt: run.attempt, pgid: record.pgid }, 'cancelling');
    if (await stopGroup(record.pgid, record.startTicks, options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS)) {
      options.logger?.warn({ pgid: record.pgid }, 'spark-submit ignored SIGTERM and was killed');
    }
  }

  async function logs(run: RunRef, logOptions?: LogOptions): Promise<string> {
    const path = join(dirOf(run), FILES.log);
    if (logOptions?.tail === undefined) return (await readRange(path, 0, await fileSize(path))).toString('utf8');
    const text = await readTailText(path, Math.max(64 * 1024, logOptions.tail * 1024));
    return lastLines(text, logOptions.tail);
  }

  async function* followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string> {
    const dir = dirOf(run);
    const path = join(dir, FILES.log);
    const decoder = new StringDecoder('utf8');
    let offset = 0;
    while (!signal.aborted) {
      // Check for the end before reading, so the final read drains everything the run wrote.
      const final = isFinalPhase((await reader.status(run, dir)).phase);
      const size = await fileSize(path);
      while (offset < size) {
        const chunk = await readRange(path, offset, Math.min(size - offset, FOLLOW_CHUNK_BYTES));
        if (chunk.length === 0) break; // truncated under us
        offset += chunk.length;
        const text = decoder.write(chunk);
        if (text) yield text;
      }
      if (final) {
        const rest = decoder.end();
        if (rest) yield rest;
        return;
      }
      if (!(await pause(options.watchIntervalMs, signal))) return;
    }
  }

  return {
    name: 'local',
    describeSubmission: (req) => describeLocalSubmission(req, options),
    submit(req) {
      const dir = dirOf(req);
      const pending = inflight.get(dir);
      if (pending) return pending;
      const started = startAttempt(req).finally(() => inflight.delete(dir));
      inflight.set(dir, started);
      return started;
    },
    status: (run) => reader.status(run, dirOf(run)),
    cancel,
    logs,
    followLogs,
  };
}

/** The local backend's status-watching side: scans the run files every `watchIntervalMs`. */
export function createLocalStatusSource(
  options: Pick<LocalBackendOptions, 'runsDir' | 'watchIntervalMs'>,
): StatusSource {
  const reader = createStatusReader();
  async function* watch(signal: AbortSignal): AsyncIterable<RunStatus> {
    const lastYielded = new Map<string, RunStatus>();
    const done = new Set<string>();
    let firstScan = true;
    while (!signal.aborted) {
      for (const dir of await listAttemptDirs(options.runsDir)) {
        if (done.has(dir)) continue;
        const record = await reader.record(dir);
        if (!record) continue; // still being submitted
        const status = await reader.status(record, dir);
        const final = isFinalPhase(status.phase);
        // Runs that ended before this watch began are not replayed; the workflows' polling covers them.
        if (!(firstScan && final)) {
          const last = lastYielded.get(dir);
          if (!last || last.phase !== status.phase || last.sparkUiUrl !== status.sparkUiUrl) {
            lastYielded.set(dir, status);
            yield status;
          }
        }
        if (final) {
          done.add(dir);
          lastYielded.delete(dir);
        }
      }
      firstScan = false;
      if (!(await pause(options.watchIntervalMs, signal))) return;
    }
  }

  return { name: 'local', watch };
}

/**
 * Stops every local run still going under `runsDir` (for `npm run dev` shutdown): SIGTERM to each process
 * group, then SIGKILL after `graceMs`. No `cancelled` marker is written: nobody cancelled these runs, so after a
 * restart they report VANISHED (an infrastructure failure the workflow may retry), not CANCELLED.
 */
export async function stopLocalRuns(runsDir: string, graceMs = DEFAULT_CANCEL_GRACE_MS): Promise<void> {
  const live: RunRecord[] = [];
  for (const dir of await listAttemptDirs(runsDir)) {
    const record = await readRecord(dir);
    if (!record || (await readExitCode(dir)) !== undefined) continue;
    if (await isGroupAlive(record.pgid, record.startTicks)) live.push(record);
  }
  await Promise.all(live.map((record) => stopGroup(record.pgid, record.startTicks, graceMs)));
}

function vendorRunId(run: { executionId: string; attempt: number }): string {
  return `local-${run.executionId}-${run.attempt}`;
}

function toVendorRun(record: RunRecord): VendorRun {
  const { executionId, attempt, vendorRunId } = record;
  return { executionId, attempt, vendorRunId, backend: 'local', cluster: 'local' };
}

/** Every `<runsDir>/<executionId>/<attempt>` directory; stat-free, so a scan stays cheap. */
async function listAttemptDirs(runsDir: string): Promise<string[]> {
  const dirs: string[] = [];
  for (const execution of await readDirNames(runsDir)) {
    for (const attempt of await readDirNames(join(runsDir, execution))) {
      if (/^\d+$/.test(attempt)) dirs.push(join(runsDir, execution, attempt));
    }
  }
  return dirs;
}

async function readDirNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR')
      return [];
    throw err;
  }
}
