/**
 * Pushes status to workflows: every change a backend's watch() reports becomes a `status` signal to the
 * execution's workflow. Runs in the worker, or in the watcher process; a change for a workflow that has already
 * finished is dropped, and so is a bare PENDING (the workflow knows a submitted run is pending; each signal costs
 * the workflow's history an event and, when it arrives alone, a workflow task).
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Logger } from 'pino';
import { statusSignal } from '../workflows/definitions.js';
import { executionWorkflowId } from '../schema/vocabulary.js';
import type { RunStatus, StatusSource } from '../gateway/backend.js';

export interface StatusForwarder {
  stop(): Promise<void>;
}

/**
 * A PENDING status that carries nothing the workflow needs before the run starts (a Spark UI, a failure, a result).
 * Its application id alone does not count: every later status of the run carries it again (on Kubernetes it is
 * derived from the object's name), so a run's first signal is the one that says RUNNING, or how it ended.
 */
function isBarePending(status: RunStatus): boolean {
  return status.phase === 'PENDING' && !status.sparkUiUrl && !status.failure && !status.result;
}

/**
 * What the workflow acts on in a status (workflows/execution.ts `observe`): a change of phase, Spark UI, application
 * id or failure. Statuses that differ only in the backend's own state name (DriverStarted → DriverReady →
 * RunningHealthy are all RUNNING) are coalesced into the first: one signal per change the workflow can see.
 */
function signalKey(status: RunStatus): string {
  return [status.attempt, status.phase, status.sparkUiUrl ?? '', status.appId ?? '', status.failure ? 'f' : ''].join(
    '|',
  );
}

export interface ForwarderOptions {
  /** Signals in flight at once per source; the watch waits beyond it (a bounded queue). Default 64. */
  concurrency?: number;
  /** Tries per signal before it counts as undelivered; default 3. */
  tries?: number;
  /** Called after each status change is handled (delivered, coalesced or dropped), for benchmarks. */
  onForwarded?: (status: RunStatus, outcome: 'signalled' | 'coalesced' | 'dropped' | 'undelivered') => void;
}

export function forwardStatus(
  sources: StatusSource[],
  client: Client,
  logger: Logger,
  options: ForwarderOptions = {},
): StatusForwarder {
  const abort = new AbortController();
  const concurrency = options.concurrency ?? 64;
  const tries = options.tries ?? 3;

  async function deliver(source: StatusSource, status: RunStatus): Promise<void> {
    const handle = client.workflow.getHandle(executionWorkflowId(status.executionId));
    for (let attempt = 1; ; attempt++) {
      try {
        await handle.signal(statusSignal, status);
        options.onForwarded?.(status, 'signalled');
        return;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return void options.onForwarded?.(status, 'dropped');
        if (attempt >= tries || abort.signal.aborted) {
          // The watch can no longer vouch that every change reaches its workflow: its workflows poll for a while.
          source.undelivered?.(status);
          options.onForwarded?.(status, 'undelivered');
          logger.warn({ err, executionId: status.executionId }, 'status signal not delivered; polling will catch up');
          return;
        }
        await new Promise((r) => setTimeout(r, 250 * 2 ** attempt));
      }
    }
  }

  const loops = sources.map(async (source) => {
    const inFlight = new Set<Promise<void>>();
    const lastSent = new Map<string, string>();
    while (!abort.signal.aborted) {
      try {
        for await (const status of source.watch(abort.signal)) {
          if (isBarePending(status)) {
            options.onForwarded?.(status, 'dropped');
            continue;
          }
          const key = signalKey(status);
          if (lastSent.get(status.executionId) === key) {
            options.onForwarded?.(status, 'coalesced');
            continue;
          }
          if (status.phase === 'RUNNING' || status.phase === 'PENDING') lastSent.set(status.executionId, key);
          else lastSent.delete(status.executionId); // ended: forget it, so the map holds live runs only
          const sent = deliver(source, status).finally(() => inFlight.delete(sent));
          inFlight.add(sent);
          if (inFlight.size >= concurrency) await Promise.race(inFlight);
        }
      } catch (err) {
        if (abort.signal.aborted) break;
        logger.error({ err, backend: source.name }, 'status watch failed; restarting in 1 s');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    await Promise.allSettled(inFlight);
  });
  return {
    async stop() {
      abort.abort();
      await Promise.allSettled(loops);
    },
  };
}
