/**
 * The sim backend: a deterministic, in-memory stand-in for Spark, for tests and load benchmarks. Each attempt
 * follows `spec.sim.attempts[attempt - 1]` (lifecycle.ts); nothing runs, so thousands of runs cost only a map
 * entry each. State is per process: a run submitted before a restart is unknown afterwards (status VANISHED),
 * unless `stateDir` (SIM_BACKEND_STATE_DIR, for fault drills) keeps the runs in a directory every process shares
 * (state-dir.ts).
 *
 * Errors: none thrown; scripted failures are run outcomes.
 */
import type { AttemptRequest, Backend, RunPhase, RunRef, RunStatus, StatusSource, VendorRun } from '../../backend.js';
import { isFinalPhase } from '../../backend.js';
import { phaseAt, scriptForAttempt, scriptedFailure } from './lifecycle.js';
import { directoryRunBook, memoryRunBook, type SimRun } from './state-dir.js';
import { pause } from '../pause.js';

export { DEFAULT_SIM_ATTEMPT, phaseAt, scriptForAttempt } from './lifecycle.js';
export type { SimAttemptScript } from './lifecycle.js';
export { readSimSubmissions } from './state-dir.js';

export interface SimBackendOptions {
  /** How often watch() and followLogs() look for transitions; 20 ms by default. */
  watchIntervalMs?: number;
  /** The clock, in epoch ms; tests can drive status() with a fake one. */
  now?: () => number;
  /**
   * Keep the runs in this directory instead of memory (SIM_BACKEND_STATE_DIR): every process given the same one
   * sees the same runs, and watch() also reports runs other processes submitted. Test-and-drill only.
   */
  stateDir?: string;
}

/**
 * The sim backend: its submitting and status-watching sides in one object (its runs live in this process's
 * memory), plus a counter for tests that assert "exactly one backend submission".
 */
export type SimBackend = Backend &
  StatusSource & {
    /** Distinct (executionId, attempt) pairs submitted for this execution; repeated submits count once. */
    submissions(executionId: string): number;
  };

/** Creates a sim backend with its own in-memory runs. */
export function createSimBackend(options: SimBackendOptions = {}): SimBackend {
  const now = options.now ?? Date.now;
  const intervalMs = options.watchIntervalMs ?? 20;
  const runs = options.stateDir ? directoryRunBook(options.stateDir) : memoryRunBook();
  // How often a shared book's directory is read for runs other processes submitted.
  const scanMs = Math.max(intervalMs, 250);
  // Each active watch() tracks the runs it still has to report; new submits are added to every one of them.
  const watchers = new Set<{ tracked: Map<string, SimRun>; seen: Set<string> }>();

  const phaseOf = (run: SimRun): RunPhase => phaseAt(run.script, now() - run.submittedAt, run.cancelled);

  function statusOf(run: SimRun): RunStatus {
    const { executionId, attempt, vendorRunId } = run.vendorRun;
    const phase = phaseOf(run);
    const status: RunStatus = {
      executionId,
      attempt,
      vendorRunId,
      phase,
      backendState: `sim:${phase.toLowerCase()}`,
      observedAt: new Date(now()).toISOString(),
    };
    return phase === 'FAILED' ? { ...status, failure: scriptedFailure(run.script) } : status;
  }

  function logText(run: SimRun): string {
    const phase = phaseOf(run);
    const lines = [`sim: submitted ${run.vendorRun.vendorRunId} at ${new Date(run.submittedAt).toISOString()}`];
    if (phase !== 'PENDING' && !(phase === 'CANCELLED' && now() - run.submittedAt < run.script.runningAfterMs)) {
      lines.push('sim: driver running');
    }
    if (phase === 'FAILED') {
      const failure = scriptedFailure(run.script);
      lines.push(`sim: run FAILED: ${failure.message ?? failure.reason ?? 'no details'}`);
      if (failure.logTail) lines.push(failure.logTail);
    } else if (isFinalPhase(phase)) {
      lines.push(`sim: run ${phase}`);
    }
    return lines.join('\n') + '\n';
  }

  function submit(req: AttemptRequest): Promise<VendorRun> {
    const key = keyOf(req);
    const existing = runs.get(key);
    if (existing) return Promise.resolve(existing.vendorRun);
    const vendorRun: VendorRun = {
      executionId: req.executionId,
      attempt: req.attempt,
      vendorRunId: vendorRunIdOf(req),
      backend: 'sim',
      cluster: 'sim',
    };
    const run: SimRun = {
      vendorRun,
      script: scriptForAttempt(req.spec, req.attempt),
      submittedAt: now(),
      cancelled: false,
    };
    const kept = runs.create(key, run);
    if (kept.created && !run.script.dropSignals) {
      for (const { tracked, seen } of watchers) {
        tracked.set(key, run);
        seen.add(key);
      }
    }
    return Promise.resolve(kept.run.vendorRun);
  }

  function status(ref: RunRef): Promise<RunStatus> {
    const run = runs.get(keyOf(ref));
    if (run) return Promise.resolve(statusOf(run));
    // Sim state is in memory only, so an unknown run is one this process never saw: it died with no result.
    return Promise.resolve({
      executionId: ref.executionId,
      attempt: ref.attempt,
      vendorRunId: ref.vendorRunId,
      phase: 'FAILED',
      backendState: 'sim:unknown',
      observedAt: new Date(now()).toISOString(),
      failure: { reason: 'VANISHED', message: 'the sim backend has no record of this run' },
    });
  }

  async function* watch(signal: AbortSignal): AsyncIterable<RunStatus> {
    const tracked = new Map<string, SimRun>();
    const seen = new Set<string>();
    for (const [key, run] of runs.discover(seen)) {
      if (!run.script.dropSignals && !isFinalPhase(phaseOf(run))) tracked.set(key, run);
    }
    const lastPhase = new Map<string, RunPhase>();
    const watcher = { tracked, seen };
    watchers.add(watcher);
    let scannedAt = now();
    try {
      while (!signal.aborted) {
        // Runs other processes submitted (a shared book): reported from their current phase, even a final one.
        if (runs.shared && now() - scannedAt >= scanMs) {
          scannedAt = now();
          for (const [key, run] of runs.discover(seen)) if (!run.script.dropSignals) tracked.set(key, run);
        }
        for (const [key, run] of tracked) {
          const current = statusOf(run);
          if (lastPhase.get(key) !== current.phase) {
            lastPhase.set(key, current.phase);
            yield current;
          }
          if (isFinalPhase(current.phase)) {
            tracked.delete(key);
            lastPhase.delete(key);
          }
        }
        if (!(await pause(intervalMs, signal))) return;
      }
    } finally {
      watchers.delete(watcher);
    }
  }

  async function* followLogs(ref: RunRef, signal: AbortSignal): AsyncIterable<string> {
    const run = runs.get(keyOf(ref));
    if (!run) return;
    let sent = 0;
    while (!signal.aborted) {
      const final = isFinalPhase(phaseOf(run));
      const text = logText(run);
      if (text.length > sent) {
        yield text.slice(sent);
        sent = text.length;
      }
      if (final || !(await pause(intervalMs, signal))) return;
    }
  }

  return {
    name: 'sim',
    describeSubmission: (req) => ({
      backend: 'sim',
      vendorRunId: vendorRunIdOf(req),
      script: scriptForAttempt(req.spec, req.attempt),
    }),
    submit,
    status,
    cancel(ref) {
      const run = runs.get(keyOf(ref));
      if (run && !isFinalPhase(phaseOf(run))) runs.cancel(keyOf(ref));
      return Promise.resolve();
    },
    logs(ref, logOptions) {
      const run = runs.get(keyOf(ref));
      const text = run ? logText(run) : '';
      if (logOptions?.tail === undefined) return Promise.resolve(text);
      const lines = text.replace(/\n$/, '').split('\n');
      return Promise.resolve(logOptions.tail > 0 ? lines.slice(-logOptions.tail).join('\n') : '');
    },
    followLogs,
    watch,
    submissions: (executionId) => runs.submissions(executionId),
  };
}

function keyOf(run: { executionId: string; attempt: number }): string {
  return `${run.executionId}/${run.attempt}`;
}

function vendorRunIdOf(run: { executionId: string; attempt: number }): string {
  return `sim-${run.executionId}-${run.attempt}`;
}
