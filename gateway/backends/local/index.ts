/**
 * The local backend: real spark-submit child processes on the worker's machine (DESIGN.md, "The backend
 * contract"). All state lives in files under `runsDir` (layout in files.ts), so a restarted worker adopts runs
 * that a previous worker started, and runs outlive the worker that started them. The submitting side is
 * `createLocalBackend`; `createLocalStatusSource` watches the same files.
 *
 * Errors: spark-submit's own failures are run outcomes (status FAILED), never thrown. Anything thrown (file
 * system errors, a wrapper that would not start, a process group that survives SIGKILL) is transient.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
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
import { BackendRejection, isFinalPhase } from '../../backend.js';
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
import { secretEnvPrefix } from './core-etl.js';
import { isUnsupported, planLocalRun, secretsEnv, type LocalCoreEtlOptions, type LocalSpark } from './plan.js';
import { createStatusReader } from './status.js';
import { pause } from '../pause.js';

export { buildSparkSubmitArgs, buildSubmitEnv, describeLocalSubmission } from './args.js';
export type { LocalSubmission, SparkSubmitSettings } from './args.js';
export type { LocalCoreEtlOptions, LocalSpark } from './plan.js';

export interface LocalBackendLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface LocalBackendOptions {
  /** Spark installation; spark-submit is `${sparkHome}/bin/spark-submit`. */
  sparkHome: string;
  /** Python for the driver and the Python workers (PYSPARK_PYTHON and PYSPARK_DRIVER_PYTHON). */
  pythonExecutable?: string;
  /** `sparkHome`'s full version. Unset: it runs whatever version a job asks for (callers that never learnt it). */
  sparkVersion?: string;
  /** Further Sparks, one per engine version (LOCAL_SPARK_VERSIONS); a job runs on the one its engineVersion names. */
  moreSparks?: readonly LocalSpark[];
  /** LOCAL_SPARK_VERSIONS, to name the install command when a job asks for a version not installed. */
  offeredVersions?: readonly string[];
  /** How `coreEtl` jobs run; unset: on their jar. */
  coreEtl?: LocalCoreEtlOptions;
  /** LOCAL_APPLICATION_ROOTS, absolute: application files must lie under one (plan.ts). Unset: anywhere. */
  applicationRoots?: readonly string[];
  /** Where each attempt keeps its record, log and exit code; must survive worker restarts. */
  runsDir: string;
  /** Spark master, e.g. `local[2]`. */
  master: string;
  /** How often watch() and followLogs() look at the files. */
  watchIntervalMs: number;
  javaHome?: string;
  /** Where runs write their Spark event logs, for the History Server; never under `runsDir`. Unset: none. */
  eventLogDir?: string;
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
  const planOptions = {
    sparks: [
      { sparkHome: options.sparkHome, python: options.pythonExecutable, version: options.sparkVersion },
      ...(options.moreSparks ?? []),
    ],
    offeredVersions: options.offeredVersions,
    coreEtl: options.coreEtl,
    applicationRoots: options.applicationRoots,
  };

  /** The submission for an attempt, on the Spark and CoreETL runtime its plan names. */
  function describeAttempt(req: AttemptRequest) {
    const plan = planLocalRun(req.spec, planOptions);
    if (isUnsupported(plan)) throw new BackendRejection(plan.message, plan.field);
    const { spark, coreEtl, builtin } = plan;
    const submission = describeLocalSubmission(req, {
      ...options,
      sparkHome: spark.sparkHome,
      pythonExecutable: spark.python ?? options.pythonExecutable,
      ...(builtin ? { builtinCoreEtl: { ...builtin, resultFile: join(dirOf(req), FILES.result) } } : {}),
    });
    return { submission, sparkVersion: spark.version, coreEtl };
  }

  async function startAttempt(req: AttemptRequest): Promise<VendorRun> {
    const dir = dirOf(req);
    const existing = await reader.record(dir);
    if (existing) return toVendorRun(existing);
    await mkdir(dir, { recursive: true });
    // Spark refuses to start when its event-log directory is missing.
    if (options.eventLogDir) await mkdir(options.eventLogDir, { recursive: true });
    const { submission, sparkVersion, coreEtl } = describeAttempt(req);
    const { command, args, env } = submission;
    // Secrets go to the process environment only: not argv (run.json, ps), not the submission a dry-run shows.
    const secrets = secretsEnv(req.team, req.spec, options.coreEtl?.secrets, secretEnvPrefix);
    if (isUnsupported(secrets)) throw new BackendRejection(secrets.message, secrets.field);
    const pid = await startWrapper(dir, command, args, { ...env, ...secrets.env });
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
      ...(sparkVersion ? { sparkVersion } : {}),
      ...(coreEtl ? { coreEtl } : {}),
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

  /** The driver log file as it is now, streamed (empty when the attempt never wrote one). */
  async function* openLog(run: RunRef, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const path = join(dirOf(run), FILES.log);
    const size = await fileSize(path);
    if (size === 0) return;
    // Up to the size seen now: a log still being written ends where this read began, not somewhere later.
    yield* createReadStream(path, { end: size - 1, highWaterMark: 256 * 1024, signal }) as AsyncIterable<Buffer>;
  }

  return {
    name: 'local',
    describeSubmission: (req) => describeAttempt(req).submission,
    unsupported(spec) {
      const plan = planLocalRun(spec, planOptions);
      return isUnsupported(plan) ? plan : undefined;
    },
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
    openLog,
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
          // The application id alone is no change worth a signal: the final status carries it too.
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
 * group, then SIGKILL after `graceMs`. Nobody cancelled these runs, so no `cancelled` marker is written; a
 * `stopped` marker records who stopped them and when, and after a restart they report FAILED with reason
 * STOPPED_ON_SHUTDOWN (status.ts): an infrastructure failure, retried on purpose while attempts remain.
 */
export async function stopLocalRuns(
  runsDir: string,
  graceMs = DEFAULT_CANCEL_GRACE_MS,
  by = 'npm run dev shutting down',
): Promise<void> {
  const live: RunRecord[] = [];
  for (const dir of await listAttemptDirs(runsDir)) {
    const record = await readRecord(dir);
    if (!record || (await readExitCode(dir)) !== undefined) continue;
    if (await isGroupAlive(record.pgid, record.startTicks)) live.push(record);
  }
  const at = new Date().toISOString();
  await Promise.all(
    live.map(async (record) => {
      const dir = attemptDir(runsDir, record.executionId, record.attempt);
      await writeFileAtomic(join(dir, FILES.stopped), JSON.stringify({ at, by }));
      await stopGroup(record.pgid, record.startTicks, graceMs);
    }),
  );
}

/** One execution's directory under `runsDir`, as the retention sweep sees it. */
export interface LocalRunDir {
  executionId: string;
  path: string;
  /** The attempts it has a directory for. */
  attempts: number[];
  /** Newest modification time of the directory or any attempt's files. */
  modifiedAt: Date;
  /** A process of some attempt is still alive: a live run (or one a restarted worker would adopt). */
  live: boolean;
}

/** Whether an attempt directory's run may still be going: recorded, no exit code, and its process group alive. */
async function attemptLive(dir: string): Promise<boolean> {
  const record = await readRecord(dir);
  if (!record) {
    // Claimed but not recorded yet: a submit in progress.
    return (await fileSize(join(dir, FILES.wrapperPid))) > 0 && (await readExitCode(dir)) === undefined;
  }
  if ((await readExitCode(dir)) !== undefined) return false;
  return isGroupAlive(record.pgid, record.startTicks);
}

/** Every execution directory under `runsDir`, with whether a run in it is still alive. */
export async function listLocalRuns(runsDir: string): Promise<LocalRunDir[]> {
  const runs: LocalRunDir[] = [];
  for (const executionId of await readDirNames(runsDir)) {
    const path = join(runsDir, executionId);
    let modified = (await stat(path).catch(() => undefined))?.mtimeMs ?? 0;
    let live = false;
    const attempts: number[] = [];
    for (const attempt of await readDirNames(path)) {
      if (!/^\d+$/.test(attempt)) continue;
      attempts.push(Number(attempt));
      const dir = join(path, attempt);
      for (const name of [FILES.log, FILES.exitCode, FILES.record]) {
        modified = Math.max(modified, (await stat(join(dir, name)).catch(() => undefined))?.mtimeMs ?? 0);
      }
      live ||= await attemptLive(dir);
    }
    runs.push({ executionId, path, attempts, modifiedAt: new Date(modified), live });
  }
  return runs;
}

/**
 * Removes an execution's run directory unless a run in it is alive (checked again here, just before), so the
 * retention sweep can never remove a live or adoptable run. True when it was removed.
 */
export async function removeLocalRun(runsDir: string, executionId: string): Promise<boolean> {
  const path = join(runsDir, executionId);
  for (const attempt of await readDirNames(path)) {
    if (/^\d+$/.test(attempt) && (await attemptLive(join(path, attempt)))) return false;
  }
  await rm(path, { recursive: true, force: true });
  return true;
}

function vendorRunId(run: { executionId: string; attempt: number }): string {
  return `local-${run.executionId}-${run.attempt}`;
}

function toVendorRun(record: RunRecord): VendorRun {
  const { executionId, attempt, vendorRunId, sparkVersion, coreEtl } = record;
  return {
    executionId,
    attempt,
    vendorRunId,
    backend: 'local',
    cluster: 'local',
    ...(sparkVersion ? { sparkVersion } : {}),
    ...(coreEtl ? { coreEtl } : {}),
  };
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
