/**
 * Activities: thin adapters between the execution workflow and the gateway/store (STYLE.md §3). Every one is
 * idempotent: backend submit is keyed by (execution, attempt) and every event id is deterministic, so Temporal
 * may retry any of them, or a restarted worker may run them again, without duplicating anything.
 */
import { activityInfo } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import { BackendRejection, type RunStatus, type VendorRun } from '../gateway/backend.js';
import type { SparkGateway } from '../gateway/index.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { FailureClass, TerminalState } from '../schema/states.js';
import type { ExecutionStore } from '../store/executions.js';
import { executionRecord } from '../service/submit.js';
import type { CancelRequest, ExecutionInput, WorkflowSettings } from '../workflows/definitions.js';

export interface ActivityDeps {
  gateway: SparkGateway;
  store: ExecutionStore;
  clock: { now(): Date };
  settings: WorkflowSettings;
}

export function createActivities({ gateway, store, clock, settings }: ActivityDeps) {
  /** Writes the execution row unless the API already did (schedule-started executions have no API call). */
  const ensureRecorded = (execution: ExecutionInput) =>
    store.createExecution(executionRecord(execution, activityInfo().workflowExecution?.runId));

  return {
    /**
     * Waits for a free slot under the team's concurrency limit. Not admitted yet: fails with a retryable,
     * benign error whose retry comes after the queue poll interval; those retries leave no trace in the history.
     */
    async admit(input: { execution: ExecutionInput; limit: number }): Promise<void> {
      await ensureRecorded(input.execution);
      if (await store.admit(input.execution.executionId, input.execution.team, input.limit)) return;
      throw ApplicationFailure.create({
        type: 'TeamQueueFull',
        message: `team ${input.execution.team} is at its limit of ${input.limit} concurrent executions; queued`,
        nextRetryDelay: settings.teamQueuePollMs,
        category: ApplicationFailureCategory.BENIGN,
      });
    },

    /**
     * Records the execution (if the API did not already), routes it, and submits one attempt. Returns the vendor
     * run and the worker's settings. A backend's permanent rejection fails without retry.
     */
    async submitAttempt(input: {
      execution: ExecutionInput;
      attempt: number;
      resources: NormalizedJobSpec['resources'];
    }): Promise<{ run: VendorRun; settings: WorkflowSettings }> {
      const { execution, attempt, resources } = input;
      const info = activityInfo();
      await ensureRecorded(execution);
      const spec = { ...execution.spec, resources };
      let run: VendorRun;
      try {
        run = await gateway.route(spec).submit({
          executionId: execution.executionId,
          attempt,
          team: execution.team,
          jobPath: execution.jobPath,
          spec,
        });
      } catch (err) {
        if (err instanceof BackendRejection) throw ApplicationFailure.nonRetryable(err.message, 'BackendRejection');
        throw err;
      }
      await store.recordEvent({
        executionId: execution.executionId,
        attempt,
        type: 'SUBMIT',
        at: clock.now(),
        payload: { ...run, resources },
        patch: {
          state: 'SUBMITTED',
          attempt,
          backend: run.backend,
          cluster: run.cluster,
          namespace: run.namespace,
          vendorRunId: run.vendorRunId,
          vendorWebui: run.sparkUiUrl,
          vendorLogsLink: run.logsUrl,
          resources,
          runId: info.workflowExecution?.runId,
          submittedAt: clock.now(),
        },
      });
      return { run, settings };
    },

    /** The polling safety net: one status read. */
    async pollStatus(run: VendorRun): Promise<RunStatus> {
      return gateway.get(run.backend).status(run);
    },

    /** Records the cancel request, then stops the backend run (idempotent on the backend's side). */
    async cancelRun(input: { run: VendorRun; reason: string; requestedBy?: string }): Promise<void> {
      await store.recordEvent({
        executionId: input.run.executionId,
        attempt: input.run.attempt,
        type: 'CANCEL_REQUESTED',
        at: clock.now(),
        payload: { reason: input.reason, requestedBy: input.requestedBy ?? null },
      });
      await gateway.get(input.run.backend).cancel(input.run);
    },

    async recordRunning(input: { executionId: string; attempt: number; status: RunStatus }): Promise<void> {
      const observed = new Date(input.status.observedAt);
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'RUNNING',
        at: clock.now(),
        payload: { backendState: input.status.backendState, observedAt: input.status.observedAt },
        patch: {
          state: 'RUNNING',
          ...(input.attempt === 1 ? { startTime: observed } : {}),
          ...(input.status.sparkUiUrl ? { vendorWebui: input.status.sparkUiUrl } : {}),
        },
      });
    },

    /** Links that arrive after RUNNING (no event: the snapshot just gains the URL). */
    async recordLinks(input: { executionId: string; sparkUiUrl: string }): Promise<void> {
      await store.patchExecution(input.executionId, { vendorWebui: input.sparkUiUrl });
    },

    async recordRetry(input: {
      executionId: string;
      attempt: number;
      nextAttempt: number;
      failureClass: FailureClass;
      summary: string;
      delayMs: number;
      change?: string;
      resources: NormalizedJobSpec['resources'];
    }): Promise<void> {
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'RETRY',
        at: clock.now(),
        payload: {
          failureClass: input.failureClass,
          summary: input.summary,
          nextAttempt: input.nextAttempt,
          delayMs: input.delayMs,
          change: input.change ?? null,
          resources: input.resources,
        },
        // Between attempts the execution is accepted but not at a backend: PENDING.
        patch: { state: 'PENDING', failureClass: input.failureClass, failureMessage: input.summary },
      });
    },

    /** Writes TERMINAL and METRICS_SUMMARY; the snapshot row takes the final state. */
    async finalize(input: {
      executionId: string;
      attempt: number;
      state: TerminalState;
      failureClass?: FailureClass;
      failureMessage?: string;
      durationMs: number;
      resources: NormalizedJobSpec['resources'];
      backend?: string;
      cancel?: CancelRequest;
    }): Promise<void> {
      const at = clock.now();
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'TERMINAL',
        at,
        payload: {
          state: input.state,
          failureClass: input.failureClass ?? null,
          failureMessage: input.failureMessage ?? null,
          ...(input.cancel ? { cancel: input.cancel } : {}),
        },
        patch: {
          state: input.state,
          endTime: at,
          failureClass: input.failureClass ?? null,
          failureMessage: input.failureMessage ?? null,
        },
      });
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'METRICS_SUMMARY',
        at,
        payload: {
          durationMs: input.durationMs,
          attempts: input.attempt,
          backend: input.backend ?? null,
          resources: input.resources,
        },
      });
    },
  };
}
