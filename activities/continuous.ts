/**
 * Activities of the continuous-job workflow (workflows/continuous-job.ts). Thin adapters (STYLE.md §3):
 *
 * - `stopExecution` stops one run by sending its execution workflow the ordinary `cancel` Update, the same path as
 *   the API's DELETE. The execution cancels its backend run (local: SIGTERM to the process group, SIGKILL after
 *   the grace period), finalizes CANCELLED, and only then answers, so when this activity returns the Spark
 *   process is gone. Idempotent: an execution that already finished rejects the Update, which counts as done.
 * - `recordContinuousEvent` records a loop transition (RESTART_SCHEDULED, DEGRADED, REDEPLOYED, STOPPED,
 *   RESUMED) as a structured log line. There is no job-level event table yet; the workflow's query and memo hold
 *   the durable state.
 *
 * Errors: anything else thrown (Temporal unreachable) is transient and retried by the workflow's retry policy.
 */
import { log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { Conflict } from '../service/errors.js';
import { cancelExecution } from '../service/executions.js';

export interface ContinuousActivityDeps {
  client: Client;
}

export type ContinuousEventKind = 'RESTART_SCHEDULED' | 'DEGRADED' | 'REDEPLOYED' | 'STOPPED' | 'RESUMED';

export function createContinuousActivities({ client }: ContinuousActivityDeps) {
  return {
    /** Cancels a run through its execution's cancel Update and waits until the execution has ended. */
    async stopExecution(input: { executionId: string; reason: string }): Promise<void> {
      try {
        await cancelExecution(
          { client },
          { executionId: input.executionId, state: 'RUNNING' },
          { reason: input.reason, requestedBy: 'continuous-job' },
          { waitFor: 'completed', updateId: `continuous-stop-${input.executionId}` },
        );
      } catch (err) {
        // Already finished (the validator refused), or gone: nothing left to stop.
        if (err instanceof Conflict) return;
        throw err;
      }
    },

    recordContinuousEvent(input: {
      jobPath: string;
      kind: ContinuousEventKind;
      specVersion: number;
      executionId?: string;
      detail?: string;
    }): Promise<void> {
      log.info(`continuous job ${input.jobPath}: ${input.kind}`, { ...input });
      return Promise.resolve();
    },
  };
}
