/**
 * The execution workflow: one durable run per execution (Submit / Check / Cancel of the reference's Spark Runner).
 *
 *                 submitAttempt (idempotent per execution+attempt)
 *   PENDING ──────────────────────────────► SUBMITTED
 *      │                                       │ status RUNNING (signal, or the polling safety net)
 *      │ requested.cancel                                ▼
 *      │                                    RUNNING
 *      │                                       │ status SUCCEEDED / FAILED / CANCELLED
 *      │                                       ▼
 *      │               ┌──── SUCCEEDED   (TERMINAL + METRICS_SUMMARY events)
 *      │               ├──── FAILED ─────► AR: classifyFailure()
 *      │               │                     ├─ retriable and attempts left: RETRY event, backoff,
 *      │               │                     │  next attempt (OOM: 50% more of the memory that ran out)
 *      │               │                     │  ──► SUBMITTED (attempt + 1)
 *      │               │                     └─ user error / no attempts left / memory cap ─► FAILED
 *      └──────────────►└──── CANCELLED   (requested.cancel Update, or the backend run was removed)
 *
 *   A team at its concurrency limit keeps new executions PENDING, first come first served, until a slot frees.
 *   An execution deadline (spec.timeoutSeconds) cancels the backend run and ends FAILED with class TIMEOUT.
 *
 * Status is pushed: the worker forwards every backend watch() change as a `status` signal. A slow, bounded
 * poll (pollStatus activity) catches anything a lost signal would have hidden. Store writes are local
 * activities (one marker event each) to keep the history short; backend calls are ordinary activities.
 */
import {
  condition,
  executeChild,
  uuid4,
  workflowInfo,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  upsertMemo,
  allHandlersFinished,
  CancellationScope,
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { RunStatus, VendorRun } from '../gateway/backend.js';
import { classifyFailure } from '../runner/classify.js';
import { planRetry } from '../runner/retry.js';
import type { ExecutionState, FailureClass, TerminalState } from '../schema/states.js';
import { isTerminal } from '../schema/states.js';
import {
  cancelUpdate,
  checkQuery,
  statusSignal,
  SA_BACKEND,
  SA_JOB_PATH,
  SA_SCHEDULED_START_TIME,
  SA_STATE,
  SA_TEAM,
  SA_TRIGGER,
  type CancelRequest,
  type ExecutionInput,
  type ExecutionResult,
  type ExecutionSnapshot,
  type WorkflowSettings,
} from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

const backend = proxyActivities<Pick<Activities, 'submitAttempt' | 'pollStatus' | 'cancelRun'>>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

/** Team admission: retried on the queue poll interval the activity sets, until a slot frees or the run is cancelled. */
const queue = proxyActivities<Pick<Activities, 'admit'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 1 },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

const store = proxyLocalActivities<Pick<Activities, 'recordRunning' | 'recordLinks' | 'recordRetry' | 'finalize'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

const PHASE_RANK: Record<RunStatus['phase'], number> = {
  PENDING: 0,
  RUNNING: 1,
  SUCCEEDED: 2,
  FAILED: 2,
  CANCELLED: 2,
};

/**
 * A run started by a Temporal Schedule (manifest jobs, service/schedules.ts) carries the schedule's fixed input,
 * with a placeholder execution id, under a workflow id Temporal chose: `exec-sched-<team>.<job>-<RFC 3339 time>`.
 * Such a run is a trampoline: it gives the execution its own id, reads the time it was scheduled for, and runs the
 * execution as a child `exec-<executionId>`, so the rule workflowId = exec-<executionId> (status forwarding,
 * Cancel, handles) holds for scheduled executions too. It waits for the child, so the schedule's overlap policy
 * sees the run as busy until the execution ends.
 */
function scheduledExecution(input: ExecutionInput): ExecutionInput | undefined {
  const info = workflowInfo();
  if (input.trigger !== 'schedule' || info.workflowId === `exec-${input.executionId}`) return undefined;
  const fromId = /-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/.exec(info.workflowId)?.[1];
  const scheduledAt =
    info.typedSearchAttributes.get(SA_SCHEDULED_START_TIME) ?? (fromId ? new Date(fromId) : undefined);
  return { ...input, executionId: uuid4(), scheduledTime: scheduledAt?.toISOString() ?? input.scheduledTime };
}

export async function executionWorkflow(input: ExecutionInput): Promise<ExecutionResult> {
  const scheduled = scheduledExecution(input);
  if (scheduled) {
    return executeChild(executionWorkflow, {
      workflowId: `exec-${scheduled.executionId}`,
      args: [scheduled],
      typedSearchAttributes: [
        { key: SA_TEAM, value: scheduled.team },
        { key: SA_JOB_PATH, value: scheduled.jobPath },
        { key: SA_STATE, value: 'PENDING' },
        { key: SA_TRIGGER, value: 'schedule' },
      ],
    });
  }
  const startedAt = Date.now();
  const deadline = input.spec.timeoutSeconds ? startedAt + input.spec.timeoutSeconds * 1000 : Infinity;
  let state = 'PENDING' as ExecutionState;
  let attempt = 0;
  let resources = input.spec.resources;
  let run: VendorRun | undefined;
  let latest: RunStatus | undefined;
  // An object, so TypeScript does not narrow it across awaits (handlers set it between them).
  const requested: { cancel?: CancelRequest } = {};
  const cancelRequest = () => requested.cancel;
  let failureClass: FailureClass | undefined;
  let failureMessage: string | undefined;
  let settings: WorkflowSettings | undefined;

  setHandler(statusSignal, (status) => {
    if (status.attempt !== attempt) return;
    if (!latest || PHASE_RANK[status.phase] > PHASE_RANK[latest.phase]) latest = status;
    else if (status.sparkUiUrl && !latest.sparkUiUrl) latest = { ...latest, sparkUiUrl: status.sparkUiUrl };
  });
  setHandler(checkQuery, (): ExecutionSnapshot => ({
    executionId: input.executionId,
    state,
    attempt,
    backend: run?.backend,
    vendorRunId: run?.vendorRunId,
    sparkUiUrl: latest?.sparkUiUrl ?? run?.sparkUiUrl,
    resources,
    failureClass,
    failureMessage,
    cancelRequested: requested.cancel !== undefined,
  }));
  setHandler(
    cancelUpdate,
    async (request) => {
      requested.cancel ??= request;
      await condition(() => isTerminal(state));
      return state;
    },
    {
      validator: (_request) => {
        if (isTerminal(state)) throw new Error(`execution ${input.executionId} already finished: ${state}`);
      },
    },
  );

  const setState = (next: ExecutionState) => {
    state = next;
    upsertSearchAttributes([{ key: SA_STATE, value: next }]);
  };

  const finish = async (
    terminal: TerminalState,
    why?: { failureClass: FailureClass; message: string },
  ): Promise<ExecutionResult> => {
    failureClass = why?.failureClass;
    failureMessage = why?.message;
    await store.finalize({
      executionId: input.executionId,
      attempt: Math.max(attempt, 1),
      state: terminal,
      failureClass,
      failureMessage,
      durationMs: Date.now() - startedAt,
      resources,
      backend: run?.backend,
      cancel: requested.cancel,
    });
    setState(terminal);
    upsertMemo({
      summary: `${input.jobPath}: ${terminal}${why ? ` (${why.failureClass}: ${why.message})` : ''} after ${Math.max(attempt, 1)} attempt(s)`,
    });
    // Let a pending Cancel Update return its answer before the workflow completes.
    await condition(allHandlersFinished);
    return { state: terminal, attempts: Math.max(attempt, 1), failureClass, failureMessage, run };
  };

  const stopRun = async (reason: string) => {
    if (run) await backend.cancelRun({ run, reason, requestedBy: requested.cancel?.requestedBy });
  };

  // A team at its concurrency limit: wait in its queue (still PENDING) until a slot frees, or until cancelled.
  if (input.teamLimit !== undefined) {
    const waiting = new CancellationScope();
    const admitted = waiting.run(() => queue.admit({ execution: input, limit: input.teamLimit! }));
    admitted.catch(() => undefined);
    await Promise.race([admitted, condition(() => requested.cancel !== undefined)]);
    if (requested.cancel) {
      waiting.cancel();
      return finish('CANCELLED');
    }
    await admitted;
  }

  for (;;) {
    if (requested.cancel) return finish('CANCELLED');
    attempt += 1;
    latest = undefined;
    let submitted: Awaited<ReturnType<Activities['submitAttempt']>>;
    try {
      submitted = await backend.submitAttempt({ execution: input, attempt, resources });
    } catch (err) {
      // The gateway refused the job outright (e.g. a backend that is not configured): no retry can help.
      if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
        return finish('FAILED', { failureClass: 'USER_ERROR', message: err.cause.message });
      }
      throw err;
    }
    run = submitted.run;
    settings = submitted.settings;
    setState('SUBMITTED');
    upsertSearchAttributes([{ key: SA_BACKEND, value: run.backend }]);

    // Wait for this attempt to end: signals first, polling as the safety net, cancel and deadline always.
    for (;;) {
      const seen = latest?.phase;
      const seenUi = latest?.sparkUiUrl;
      const wait = Math.max(1, Math.min(settings.pollIntervalMs, deadline - Date.now()));
      const woke = await condition(
        () => requested.cancel !== undefined || latest?.phase !== seen || latest?.sparkUiUrl !== seenUi,
        wait,
      );
      const cancel = cancelRequest();
      if (cancel) {
        await stopRun(cancel.reason ?? 'cancelled by request');
        return finish('CANCELLED');
      }
      if (Date.now() >= deadline) {
        await stopRun('execution timeout');
        return finish('FAILED', {
          failureClass: 'TIMEOUT',
          message: `execution exceeded ${input.spec.timeoutSeconds} s`,
        });
      }
      if (!woke) {
        const polled = await backend.pollStatus(run);
        if (!latest || PHASE_RANK[polled.phase] > PHASE_RANK[latest.phase]) latest = polled;
      }
      if (latest?.phase === 'RUNNING' && state !== 'RUNNING') {
        await store.recordRunning({ executionId: input.executionId, attempt, status: latest });
        setState('RUNNING');
      } else if (state === 'RUNNING' && latest?.sparkUiUrl && latest.sparkUiUrl !== seenUi) {
        // Some backends learn the Spark UI address a moment after the run starts.
        await store.recordLinks({ executionId: input.executionId, sparkUiUrl: latest.sparkUiUrl });
      }
      if (latest && PHASE_RANK[latest.phase] === 2) break;
    }

    const final = latest;
    if (final.phase === 'SUCCEEDED') return finish('SUCCEEDED');
    if (final.phase === 'CANCELLED') return finish('CANCELLED');

    const classified = classifyFailure(final.failure ?? {});
    // In local mode the executors live inside the driver JVM: only driver memory can help an OOM there.
    const classification =
      run.backend === 'local' && classified.oomTarget ? { ...classified, oomTarget: 'driver' as const } : classified;
    const plan = planRetry({
      spec: resources,
      attempt,
      maxAttempts: input.spec.retryPolicy.maxAttempts,
      backoffSeconds: input.spec.retryPolicy.backoffSeconds,
      classification,
      memoryFactor: settings.oomMemoryFactor,
      maxMemoryMb: settings.maxMemoryMb,
    });
    if (!plan.retry) {
      return finish('FAILED', { failureClass: classification.failureClass, message: classification.summary });
    }
    const delayMs = Math.min(plan.delayMs, settings.maxBackoffMs);
    await store.recordRetry({
      executionId: input.executionId,
      attempt,
      nextAttempt: plan.nextAttempt,
      failureClass: classification.failureClass,
      summary: classification.summary,
      delayMs,
      change: plan.change,
      resources: plan.resources,
    });
    resources = plan.resources;
    // Backoff, cut short by a cancel request.
    await condition(() => requested.cancel !== undefined, Math.max(1, delayMs));
  }
}
