/**
 * Reads the status of a local run from its attempt directory (layout in files.ts). Precedence, and why:
 * 1. exit code 0: the job succeeded, even if a cancel raced with its end;
 * 2. `cancelled` marker: cancel kills the group, so whatever exit code follows is the kill's, not the job's;
 * 3. any other exit code: FAILED, with the most telling error line and the log tail for the AR classifier;
 * 4. process group alive: RUNNING once the driver has started its SparkContext, PENDING before;
 * 5. group gone (or killed) after a `stopped` marker: FAILED `STOPPED_ON_SHUTDOWN`, saying who stopped it and
 *    when (`npm run dev` shutting down): an INFRA failure, so the restarted workflow retries it on purpose;
 * 6. group gone with no exit code: VANISHED (killed with its wrapper, or the machine rebooted), an INFRA failure.
 */
import { join } from 'node:path';
import type { FailureInfo, RunRef, RunStatus } from '../../backend.js';
import type { DriverStartup } from './driver-log.js';
import { failureMessage, lastLines, parseDriverStartup } from './driver-log.js';
import type { RunRecord } from './files.js';
import { FILES, readExitCode, readIfExists, readRange, readRecord, readTailText } from './files.js';
import { isGroupAlive } from './process.js';

/** Lines of driver log passed on as `failure.logTail`. */
export const LOG_TAIL_LINES = 50;
const TAIL_BYTES = 64 * 1024;
const HEAD_BYTES = 64 * 1024;

const JVM_OOM = /^.*java\.lang\.OutOfMemoryError.*$/m;

/**
 * The log tail for AR, with the driver JVM's first `java.lang.OutOfMemoryError` line in front when it lies above
 * the last lines: a heap OOM in a result-fetching (Netty) thread surfaces at the end only as `TaskResultLost`,
 * which alone would read as a user error.
 */
function withJvmOom(logTail: string, tail: string): string {
  const oom = JVM_OOM.exec(tail)?.[0];
  return oom && !logTail.includes('java.lang.OutOfMemoryError') ? `${oom.trim()}\n${logTail}` : logTail;
}

export interface StatusReader {
  status(run: RunRef, dir: string): Promise<RunStatus>;
  /** run.json of an attempt, cached: it never changes once written. */
  record(dir: string): Promise<RunRecord | undefined>;
}

/** A status reader with per-run caches, so repeated polls re-read neither run.json nor a finished log head. */
export function createStatusReader(): StatusReader {
  const records = new Map<string, RunRecord>();
  // Start-up facts per attempt dir, kept once nothing more can be learnt from the log head.
  const startups = new Map<string, DriverStartup>();

  async function record(dir: string): Promise<RunRecord | undefined> {
    const cached = records.get(dir);
    if (cached) return cached;
    const found = await readRecord(dir);
    if (found) records.set(dir, found);
    return found;
  }

  async function startup(dir: string): Promise<DriverStartup> {
    const cached = startups.get(dir);
    if (cached) return cached;
    const head = await readRange(join(dir, FILES.log), 0, HEAD_BYTES);
    const parsed = parseDriverStartup(head.toString('utf8'));
    // The event log line comes after the UI's; without an event log (a job that turned it off) the head is
    // re-read until it is full, as for a job without a UI.
    if ((parsed.started && parsed.sparkUiUrl && parsed.appId) || head.length >= HEAD_BYTES) startups.set(dir, parsed);
    return parsed;
  }

  async function ended(dir: string, exitCode: number, base: Omit<RunStatus, 'phase' | 'backendState'>) {
    const { sparkUiUrl, appId } = await startup(dir);
    const app = { ...(appId ? { appId } : {}), ...(await readResult(dir)) };
    if (exitCode === 0) return { ...base, phase: 'SUCCEEDED', backendState: 'exited(0)', sparkUiUrl, ...app } as const;
    const tail = await readTailText(join(dir, FILES.log), TAIL_BYTES);
    const failure: FailureInfo = {
      exitCode,
      reason: exitCode > 128 ? 'KILLED_BY_SIGNAL' : 'NONZERO_EXIT',
      message: failureMessage(tail) ?? `spark-submit exited with code ${exitCode}`,
      logTail: withJvmOom(lastLines(tail, LOG_TAIL_LINES), tail),
    };
    return { ...base, phase: 'FAILED', backendState: `exited(${exitCode})`, sparkUiUrl, ...app, failure } as const;
  }

  async function vanished(dir: string, base: Omit<RunStatus, 'phase' | 'backendState'>, message: string) {
    const tail = await readTailText(join(dir, FILES.log), TAIL_BYTES);
    const failure: FailureInfo = { reason: 'VANISHED', message, logTail: lastLines(tail, LOG_TAIL_LINES) };
    return { ...base, phase: 'FAILED', backendState: 'vanished', failure } as const;
  }

  async function stoppedOnShutdown(dir: string, base: Omit<RunStatus, 'phase' | 'backendState'>, marker: string) {
    let who = 'the platform';
    let when = 'an unknown time';
    try {
      const parsed = JSON.parse(marker) as { at?: string; by?: string };
      who = parsed.by ?? who;
      when = parsed.at ?? when;
    } catch {
      // a marker from an older version: the reason alone
    }
    const tail = await readTailText(join(dir, FILES.log), TAIL_BYTES);
    const failure: FailureInfo = {
      reason: 'STOPPED_ON_SHUTDOWN',
      message: `the local run was stopped by ${who} at ${when}; it is retried as an infrastructure failure while attempts remain`,
      logTail: lastLines(tail, LOG_TAIL_LINES),
    };
    return { ...base, phase: 'FAILED', backendState: 'stopped', failure } as const;
  }

  async function status(run: RunRef, dir: string): Promise<RunStatus> {
    const base = { executionId: run.executionId, attempt: run.attempt, vendorRunId: run.vendorRunId };
    const observed = () => ({ ...base, observedAt: new Date().toISOString() });
    const rec = await record(dir);
    if (!rec) return vanished(dir, observed(), 'no local run was recorded for this attempt');

    const exitCode = await readExitCode(dir);
    if (exitCode === 0) return ended(dir, exitCode, observed());
    if ((await readIfExists(join(dir, FILES.cancelled))) !== undefined) {
      const { sparkUiUrl, appId } = await startup(dir);
      return { ...observed(), phase: 'CANCELLED', backendState: 'cancelled', sparkUiUrl, ...(appId ? { appId } : {}) };
    }
    const stopped = await readIfExists(join(dir, FILES.stopped));
    const alive = exitCode === undefined && (await isGroupAlive(rec.pgid, rec.startTicks));
    if (stopped !== undefined && !alive) return stoppedOnShutdown(dir, observed(), stopped);
    if (exitCode !== undefined) return ended(dir, exitCode, observed());

    if (alive) {
      const { started, sparkUiUrl, appId } = await startup(dir);
      const backendState = `${started ? 'running' : 'starting'}(pid ${rec.pid})`;
      return {
        ...observed(),
        phase: started ? 'RUNNING' : 'PENDING',
        backendState,
        sparkUiUrl,
        ...(appId ? { appId } : {}),
      };
    }
    // The wrapper writes the exit code before it exits, so it may have appeared since the first read.
    const late = await readExitCode(dir);
    if (late !== undefined) return ended(dir, late, observed());
    return vanished(dir, observed(), `spark-submit (process group ${rec.pgid}) is gone and left no exit code`);
  }

  return { status, record };
}

/** What the application reported in `result.json` (the CoreETL runtime writes it atomically before it exits). */
async function readResult(dir: string): Promise<{ result?: Record<string, unknown> }> {
  const text = await readIfExists(join(dir, FILES.result));
  if (text === undefined) return {};
  try {
    const result: unknown = JSON.parse(text);
    return typeof result === 'object' && result !== null ? { result: result as Record<string, unknown> } : {};
  } catch {
    return {}; // not ours to judge: an application wrote something else there
  }
}
