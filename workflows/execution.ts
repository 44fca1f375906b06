/**
 * The execution workflow: one durable run per execution (Submit / Check / Cancel of the reference's Spark Runner).
 *
 *            ┌─ admit ─┐  team at its concurrency limit: wait in its FIFO queue (pending_reason TEAM_QUEUE)
 *            │         ▼
 *   PENDING ─┴─► submit ──────────────────────────────► SUBMITTED ─► await ─► RUNNING ─► await ─┐
 *                 │  the gateway places the attempt (recorded once) and          status by signal │
 *                 │  its backend submits it; no backend can take it: wait        (poll as safety  │
 *                 │  (NO_BACKEND), for at most GATEWAY_NO_BACKEND_TIMEOUT_MS     net)             │
 *                 │  ──► FAILED/INFRA, not retried                                                 │
 *                 ▲                                                                                ▼
 *                 │ backoff (RETRY_BACKOFF)     ┌── the attempt ended: close (archive its driver log, ─┘
 *                 │                             │   read its History Server page and metrics, bounded)
 *                 │                             ├─ SUCCEEDED ──────────────────────────► finish SUCCEEDED
 *                 └──── retry ◄── FAILED ───────┤  (also: backend unreachable for GATEWAY_UNREACHABLE_TIMEOUT_MS,
 *                        │ AR: classifyFailure  │   an INFRA failure; the attempt is handed to the reaper)
 *                        │ planRetry            └─ CANCELLED (the run was removed) ──────► finish CANCELLED
 *                        └─ not retriable / no attempts left / memory cap ──────────────► finish FAILED
 *
 *   Every wait races cancel and the deadline (spec.timeoutSeconds, across attempts): a cancel Update finishes
 *   CANCELLED, the deadline FAILED/TIMEOUT. A run that may exist is stopped first (`cancelRun`, bounded; a submit in
 *   flight is awaited until it has ended, so the run it starts is stopped too); when its backend cannot be
 *   reached, the reaper workflow (reap-attempt.ts) keeps trying after this workflow has ended.
 *
 * Layout (STYLE.md §16): `executionWorkflow` is a loop that dispatches on the step to one function per step;
 * each returns the next step. The mutable state lives in one `Run` object, and `installHandlers` sets the signal,
 * query and Update handlers on it. Store writes are local activities (one marker event each) to keep the history
 * short; backend calls are ordinary activities.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  executeChild,
  isCancellation,
  proxyActivities,
  proxyLocalActivities,
  patched,
  setHandler,
  sleep,
  startChild,
  upsertMemo,
  upsertSearchAttributes,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createAttemptEndActivities } from '../activities/attempt-end.js';
import type { createActivities } from '../activities/index.js';
import type { FailureInfo, Placement, RunStatus, VendorRun } from '../gateway/backend.js';
import { classifyFailure } from '../runner/classify.js';
import { planRetry } from '../runner/retry.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { SparkMetrics } from '../schema/metrics-summary.js';
import type { ExecutionState, FailureClass, TerminalState } from '../schema/states.js';
import { isTerminal } from '../schema/states.js';
import {
  SA_SCHEDULED_START_TIME,
  assertNever,
  executionWorkflowId,
  reapWorkflowId,
  searchAttributes,
  type SearchAttributeValues,
} from '../schema/vocabulary.js';
import {
  cancelUpdate,
  checkQuery,
  statusSignal,
  type CancelRequest,
  type ExecutionInput,
  type ExecutionResult,
  type ExecutionSnapshot,
  type ReapInput,
  type WorkflowSettings,
} from './definitions.js';
import { reapAttemptWorkflow } from './reap-attempt.js';

type Activities = ReturnType<typeof createActivities>;

/** No submit attempt runs longer than this; its heartbeats notice a dead worker much sooner. */
const SUBMIT_START_TO_CLOSE_MS = 2 * 60_000;

const backendRetry = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' } as const;

/** One status read: short and bounded, since a failed read is itself the signal that the backend is unreachable. */
const polling = proxyActivities<Pick<Activities, 'pollStatus'>>({
  startToCloseTimeout: '30 seconds',
  retry: { ...backendRetry, maximumAttempts: 2 },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

/** Stopping a run before finishing: bounded, and the reaper takes over when the backend does not answer. */
const stopping = proxyActivities<Pick<Activities, 'cancelRun'>>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '1 minute',
  retry: backendRetry,
});

/**
 * An attempt's end: its log archived and its History Server read, in one activity bounded by the History Server
 * wait (at most 10 min); a few tries, then the execution goes on without them.
 */
const closing = proxyActivities<ReturnType<typeof createAttemptEndActivities>>({
  startToCloseTimeout: '15 minutes',
  heartbeatTimeout: '30 seconds',
  retry: { ...backendRetry, maximumAttempts: 3 },
});

/** Team admission: retried on the queue poll interval the activity sets, until a slot frees or the run is cancelled. */
const queue = proxyActivities<Pick<Activities, 'admit'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 1 },
  cancellationType: ActivityCancellationType.TRY_CANCEL,
});

const store = proxyLocalActivities<
  Pick<Activities, 'begin' | 'recordRunning' | 'recordLinks' | 'recordRetry' | 'finalize'>
>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

/**
 * Placing and submitting an attempt. Waiting for a backend is the activity's own benign retry (no history
 * events); its schedule-to-close is the no-backend bound. `once` makes one try that reports instead of waiting.
 */
function submitter(settings: WorkflowSettings, once: boolean) {
  return proxyActivities<Pick<Activities, 'submitAttempt'>>({
    startToCloseTimeout: SUBMIT_START_TO_CLOSE_MS,
    // The activity heartbeats every few seconds: a worker that dies mid-submit is noticed in seconds.
    heartbeatTimeout: '20 seconds',
    ...(once
      ? { retry: { ...backendRetry, maximumAttempts: 2 } }
      : { scheduleToCloseTimeout: settings.noBackendTimeoutMs, retry: backendRetry }),
    // A cancelled submit is awaited until it has ended, so the run it may have started can be stopped after it.
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  }).submitAttempt;
}

const PHASE_RANK: Record<RunStatus['phase'], number> = {
  PENDING: 0,
  RUNNING: 1,
  SUCCEEDED: 2,
  FAILED: 2,
  CANCELLED: 2,
};

type Step =
  | { kind: 'admit' }
  | { kind: 'submit' }
  | { kind: 'await' }
  | { kind: 'retry'; failure: FailureInfo }
  | { kind: 'close'; then: Step }
  | { kind: 'finish'; state: TerminalState; why?: { failureClass: FailureClass; message: string } };

/** The workflow's mutable state, in one place. */
interface Run {
  readonly input: ExecutionInput;
  readonly startedAt: number;
  /** Epoch ms of the execution deadline, or Infinity. */
  readonly deadline: number;
  settings: WorkflowSettings;
  state: ExecutionState;
  attempt: number;
  resources: NormalizedJobSpec['resources'];
  placement?: Placement;
  run?: VendorRun;
  latest?: RunStatus;
  /** The first RUNNING status of the current run, kept when a later one overtakes it before it was recorded. */
  firstRunning?: RunStatus;
  /** When status reads of the current run started failing; cleared by any successful read or signal. */
  unreachableSince?: number;
  /** The last safety-net check found the run's watch healthy: it arrives by signal, so the next check is slower. */
  watched?: boolean;
  /** The current attempt's Spark application id, once a status reported it. */
  appId?: string;
  /** The current attempt's History Server page, once it has ended and the page answered. */
  historyUrl?: string;
  /** Every ended attempt's Spark metrics that could be read, oldest first; and why the last ones could not. */
  sparkAttempts: SparkMetrics[];
  sparkUnavailable?: string;
  cancel?: CancelRequest;
  failureClass?: FailureClass;
  failureMessage?: string;
}

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
  if (input.trigger !== 'schedule' || info.workflowId === executionWorkflowId(input.executionId)) return undefined;
  const fromId = /-(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)$/.exec(info.workflowId)?.[1];
  const scheduledAt =
    info.typedSearchAttributes.get(SA_SCHEDULED_START_TIME) ?? (fromId ? new Date(fromId) : undefined);
  return { ...input, executionId: uuid4(), scheduledTime: scheduledAt?.toISOString() ?? input.scheduledTime };
}

export async function executionWorkflow(input: ExecutionInput): Promise<ExecutionResult> {
  const scheduled = scheduledExecution(input);
  if (scheduled) {
    return executeChild(executionWorkflow, {
      workflowId: executionWorkflowId(scheduled.executionId),
      args: [scheduled],
      typedSearchAttributes: searchAttributes({
        team: scheduled.team,
        jobPath: scheduled.jobPath,
        state: 'PENDING',
        trigger: 'schedule',
      }),
    });
  }
  const startedAt = Date.now();
  const w: Run = {
    input,
    startedAt,
    deadline: input.spec.timeoutSeconds ? startedAt + input.spec.timeoutSeconds * 1000 : Infinity,
    settings: undefined as unknown as WorkflowSettings, // set by begin() before any step runs
    state: 'PENDING',
    attempt: 0,
    resources: input.spec.resources,
    sparkAttempts: [],
  };
  installHandlers(w);
  w.settings = await store.begin(input);
  // APS in `auto` (runner/aps.ts): the first attempt runs with the recommended sizes; AR may raise them after.
  if (w.settings.sizing?.applied) w.resources = w.settings.sizing.resources;

  let step: Step = input.teamLimit !== undefined ? { kind: 'admit' } : { kind: 'submit' };
  for (;;) {
    switch (step.kind) {
      case 'admit':
        step = await admit(w);
        break;
      case 'submit':
        step = await submitAttempt(w);
        break;
      case 'await':
        step = await awaitAttemptEnd(w);
        break;
      case 'retry':
        step = await retryOrFail(w, step.failure);
        break;
      case 'close':
        step = await closeAttempt(w, step.then);
        break;
      case 'finish':
        return finish(w, step);
      default:
        return assertNever(step, 'step');
    }
  }
}

/** Signal (status), query (Check) and Update (Cancel), all reading and writing `w`. */
/** Takes a status of the current attempt (signal or poll): the most advanced phase wins. */
function observe(w: Run, status: RunStatus): void {
  w.unreachableSince = undefined;
  if (status.appId) w.appId = status.appId;
  if (status.phase === 'RUNNING') w.firstRunning ??= status;
  if (!w.latest || PHASE_RANK[status.phase] > PHASE_RANK[w.latest.phase]) w.latest = status;
  else if (status.sparkUiUrl && !w.latest.sparkUiUrl) w.latest = { ...w.latest, sparkUiUrl: status.sparkUiUrl };
}

function installHandlers(w: Run): void {
  setHandler(statusSignal, (status) => {
    if (status.attempt === w.attempt) observe(w, status);
  });
  setHandler(checkQuery, (): ExecutionSnapshot => ({
    executionId: w.input.executionId,
    state: w.state,
    attempt: w.attempt,
    backend: w.placement?.backend,
    placement: w.placement,
    vendorRunId: w.run?.vendorRunId,
    sparkUiUrl: w.historyUrl ?? w.latest?.sparkUiUrl ?? w.run?.sparkUiUrl,
    resources: w.resources,
    failureClass: w.failureClass,
    failureMessage: w.failureMessage,
    cancelRequested: w.cancel !== undefined,
  }));
  setHandler(
    cancelUpdate,
    async (request) => {
      w.cancel ??= request;
      await condition(() => isTerminal(w.state));
      return w.state;
    },
    {
      validator: (_request) => {
        if (isTerminal(w.state)) throw new Error(`execution ${w.input.executionId} already finished: ${w.state}`);
      },
    },
  );
}

// ── Steps ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Waits in the team's queue until a slot frees. */
async function admit(w: Run): Promise<Step> {
  const limit = w.input.teamLimit!;
  const outcome = await interruptible(w, () => queue.admit({ execution: w.input, limit }));
  return 'value' in outcome ? { kind: 'submit' } : interrupted(w, outcome.interrupt);
}

/** Places and submits the next attempt, waiting (bounded) while no backend can take it. */
async function submitAttempt(w: Run): Promise<Step> {
  w.attempt += 1;
  w.latest = w.firstRunning = w.run = w.placement = w.unreachableSince = w.appId = w.historyUrl = undefined;
  w.watched = undefined;
  const request = {
    execution: w.input,
    attempt: w.attempt,
    resources: w.resources,
    ...(w.attempt === 1 && w.settings.sizing ? { sizing: w.settings.sizing } : {}),
  };
  let outcome;
  try {
    outcome = await interruptible(w, () => submitter(w.settings, false)(request), { settle: true });
  } catch (err) {
    const rejection = rejectionOf(err);
    if (rejection) return { kind: 'finish', state: 'FAILED', why: { failureClass: 'USER_ERROR', message: rejection } };
    if (!isScheduleToCloseTimeout(err)) throw err;
    // The no-backend bound passed: one last try, which reports why it cannot submit instead of waiting.
    outcome = await interruptible(w, () => submitter(w.settings, true)({ ...request, once: true }), { settle: true });
  }
  if (!('value' in outcome)) {
    // The submit has ended (settled), so whatever it started, if anything, is stopped now and stays stopped.
    await stopRun(
      w,
      outcome.interrupt === 'cancel' ? 'cancelled while submitting' : 'deadline passed while submitting',
    );
    return interrupted(w, outcome.interrupt);
  }
  const result = outcome.value;
  switch (result.kind) {
    case 'submitted':
      w.run = result.run;
      w.placement = result.placement;
      setState(w, 'SUBMITTED', { backend: result.placement.backend });
      return { kind: 'await' };
    case 'unavailable':
      return {
        kind: 'finish',
        state: 'FAILED',
        why: {
          failureClass: 'INFRA',
          message: `no backend could take attempt ${w.attempt} within ${w.settings.noBackendTimeoutMs / 1000} s: ${result.reason}`,
        },
      };
    case 'unreachable':
      await reap(w, result.reason);
      return { kind: 'retry', failure: { reason: 'CLUSTER_UNAVAILABLE', message: result.reason } };
    default:
      return assertNever(result, 'submit outcome');
  }
}

/** Follows the attempt until it ends: signals first, the poll as the safety net, cancel and deadline always. */
async function awaitAttemptEnd(w: Run): Promise<Step> {
  const run = w.run!;
  // A run seen running or ended while the submit was in flight (its signals reach the workflow before the submit's
  // result) is handled at once: waiting for a further change would wait for the safety-net poll. Histories from
  // before this fix waited, and replay without the marker.
  let atOnce =
    (w.firstRunning !== undefined || (w.latest !== undefined && PHASE_RANK[w.latest.phase] === 2)) &&
    patched('early-status');
  for (;;) {
    const seen = atOnce ? undefined : w.latest?.phase;
    const seenUi = atOnce ? undefined : w.latest?.sparkUiUrl;
    const interval = (w.watched && w.settings.watchedPollIntervalMs) || w.settings.pollIntervalMs;
    const wait = Math.max(1, Math.min(interval, w.deadline - Date.now()));
    const woke =
      atOnce ||
      (await condition(
        () => w.cancel !== undefined || w.latest?.phase !== seen || w.latest?.sparkUiUrl !== seenUi,
        wait,
      ));
    atOnce = false;
    if (w.cancel) {
      await stopRun(w, w.cancel.reason ?? 'cancelled by request');
      return { kind: 'close', then: { kind: 'finish', state: 'CANCELLED' } };
    }
    if (Date.now() >= w.deadline) {
      await stopRun(w, 'execution timeout');
      return { kind: 'close', then: interrupted(w, 'deadline') };
    }
    if (!woke) {
      // Histories from before the watched check always read the run.
      const pollOptions = patched('watched-poll') ? { statusSeen: w.latest !== undefined } : undefined;
      const polled = await interruptible(w, () =>
        pollOptions ? polling.pollStatus(run, pollOptions) : polling.pollStatus(run),
      ).catch((err: unknown) => {
        if (!(err instanceof ActivityFailure)) throw err;
        return undefined; // unreachable: counted below
      });
      if (polled && !('value' in polled)) continue; // cancel or deadline: handled at the top
      const answer = polled?.value;
      w.watched = answer !== undefined && 'watched' in answer;
      if (answer && 'watched' in answer) {
        w.unreachableSince = undefined; // its watch is up, so the cluster answers
      } else if (answer) {
        observe(w, answer);
      } else {
        w.unreachableSince ??= Date.now();
        if (Date.now() - w.unreachableSince >= w.settings.unreachableTimeoutMs) {
          const where = `${w.placement?.backend ?? run.backend} ${w.placement?.cluster ?? run.cluster}`;
          const message = `${where} unreachable since ${new Date(w.unreachableSince).toISOString()}`;
          await reap(w, message);
          return { kind: 'retry', failure: { reason: 'CLUSTER_UNAVAILABLE', message } };
        }
      }
    }
    // A run seen running is recorded RUNNING, even when its end was seen in the same breath.
    if (w.firstRunning && w.state !== 'RUNNING') {
      await store.recordRunning({ executionId: w.input.executionId, attempt: w.attempt, status: w.firstRunning });
      setState(w, 'RUNNING');
    } else if (w.state === 'RUNNING' && w.latest?.sparkUiUrl && w.latest.sparkUiUrl !== seenUi) {
      // Some backends learn the Spark UI address a moment after the run starts.
      await store.recordLinks({ executionId: w.input.executionId, sparkUiUrl: w.latest.sparkUiUrl });
    }
    const final = w.latest;
    if (final && PHASE_RANK[final.phase] === 2) {
      if (final.phase === 'SUCCEEDED') return { kind: 'close', then: { kind: 'finish', state: 'SUCCEEDED' } };
      if (final.phase === 'CANCELLED') return { kind: 'close', then: { kind: 'finish', state: 'CANCELLED' } };
      return { kind: 'close', then: { kind: 'retry', failure: final.failure ?? {} } };
    }
  }
}

/**
 * The attempt has ended: one activity archives its driver log and reads its Spark application from the History
 * Server (metrics, and the page that replaces the live UI). Bounded; when it fails, the execution goes on.
 */
async function closeAttempt(w: Run, then: Step): Promise<Step> {
  // Executions that started before this step existed replay without it.
  if (!w.run || !patched('close-attempt')) return then;
  try {
    const closed = await closing.closeAttempt({
      executionId: w.input.executionId,
      team: w.input.team,
      attempt: w.attempt,
      run: w.run,
      ...(w.appId ? { appId: w.appId } : {}),
    });
    if (closed.metrics) w.sparkAttempts.push(closed.metrics);
    w.historyUrl = closed.historyUrl;
    w.sparkUnavailable = closed.unavailable;
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    w.sparkUnavailable = `attempt ${w.attempt} could not be closed: ${err.cause?.message ?? err.message}`;
  }
  return then;
}

/** AR: classifies the failed attempt and either backs off to the next one or fails the execution. */
async function retryOrFail(w: Run, failure: FailureInfo): Promise<Step> {
  const classified = classifyFailure(failure);
  // In local mode the executors live inside the driver JVM: only driver memory can help an OOM there.
  const classification =
    w.placement?.backend === 'local' && classified.oomTarget
      ? { ...classified, oomTarget: 'driver' as const }
      : classified;
  const plan = planRetry({
    spec: w.resources,
    attempt: w.attempt,
    maxAttempts: w.input.spec.retryPolicy.maxAttempts,
    backoffSeconds: w.input.spec.retryPolicy.backoffSeconds,
    classification,
    memoryFactor: w.settings.oomMemoryFactor,
    maxMemoryMb: w.settings.maxMemoryMb,
  });
  if (!plan.retry) {
    return {
      kind: 'finish',
      state: 'FAILED',
      why: { failureClass: classification.failureClass, message: classification.summary },
    };
  }
  const delayMs = Math.min(plan.delayMs, w.settings.maxBackoffMs);
  await store.recordRetry({
    executionId: w.input.executionId,
    attempt: w.attempt,
    nextAttempt: plan.nextAttempt,
    failureClass: classification.failureClass,
    summary: classification.summary,
    delayMs,
    change: plan.change,
    resources: plan.resources,
  });
  w.resources = plan.resources;
  setState(w, 'PENDING');
  const backoff = await interruptible(w, () => sleep(Math.max(1, delayMs)));
  return 'value' in backoff ? { kind: 'submit' } : interrupted(w, backoff.interrupt);
}

async function finish(w: Run, step: Extract<Step, { kind: 'finish' }>): Promise<ExecutionResult> {
  const attempts = Math.max(w.attempt, 1);
  w.failureClass = step.why?.failureClass;
  w.failureMessage = step.why?.message;
  await store.finalize({
    executionId: w.input.executionId,
    attempt: attempts,
    state: step.state,
    failureClass: w.failureClass,
    failureMessage: w.failureMessage,
    durationMs: Date.now() - w.startedAt,
    resources: w.resources,
    backend: w.placement?.backend,
    cancel: w.cancel,
    sparkAttempts: w.sparkAttempts,
    ...(w.latest?.result ? { result: w.latest.result } : {}),
    sparkUnavailable:
      w.sparkAttempts.at(-1)?.attempt === w.attempt
        ? undefined
        : (w.sparkUnavailable ?? (w.attempt === 0 ? 'no attempt ran' : `attempt ${w.attempt} was not closed`)),
  });
  setState(w, step.state);
  upsertMemo({
    summary: `${w.input.jobPath}: ${step.state}${step.why ? ` (${step.why.failureClass}: ${step.why.message})` : ''} after ${attempts} attempt(s)`,
  });
  // Let a pending Cancel Update return its answer before the workflow completes.
  await condition(allHandlersFinished);
  return { state: step.state, attempts, failureClass: w.failureClass, failureMessage: w.failureMessage, run: w.run };
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

type Interrupt = 'cancel' | 'deadline';

/**
 * Runs `work` in a cancellable scope raced against a cancel request and the deadline; the loser is cancelled.
 * A failure of `work` is thrown as is. With `settle`, an interrupted `work` is awaited until it has ended (an
 * activity with WAIT_CANCELLATION_COMPLETED), so nothing it does can happen after this returns.
 */
async function interruptible<T>(
  w: Run,
  work: () => Promise<T>,
  options: { settle?: boolean } = {},
): Promise<{ value: T } | { interrupt: Interrupt }> {
  const workScope = new CancellationScope();
  const waitScope = new CancellationScope();
  const done = workScope.run(work).then((value) => ({ value }));
  const interrupt = waitScope
    .run(() =>
      Number.isFinite(w.deadline)
        ? condition(() => w.cancel !== undefined, Math.max(1, w.deadline - Date.now()))
        : condition(() => w.cancel !== undefined).then(() => true),
    )
    .then((cancelled): { interrupt: Interrupt } => ({ interrupt: cancelled ? 'cancel' : 'deadline' }));
  try {
    const winner = await Promise.race([done, interrupt]);
    if ('interrupt' in winner) {
      workScope.cancel();
      if (options.settle) await done.catch(() => undefined);
    }
    return winner;
  } finally {
    waitScope.cancel();
    done.catch(() => undefined);
    interrupt.catch(() => undefined);
  }
}

/** A cancel request finishes CANCELLED; the deadline FAILED/TIMEOUT. */
function interrupted(w: Run, interrupt: Interrupt): Step {
  if (interrupt === 'cancel') return { kind: 'finish', state: 'CANCELLED' };
  return {
    kind: 'finish',
    state: 'FAILED',
    why: { failureClass: 'TIMEOUT', message: `execution exceeded ${w.input.spec.timeoutSeconds} s` },
  };
}

/**
 * Stops the current attempt's run, found from its recorded placement (nothing placed: nothing to stop); when its
 * backend does not answer in time, the reaper keeps trying.
 */
async function stopRun(w: Run, reason: string): Promise<void> {
  const request = reapInput(w, reason);
  try {
    await CancellationScope.nonCancellable(() => stopping.cancelRun(request));
  } catch (err) {
    if (!(err instanceof ActivityFailure)) throw err;
    await startReaper(request);
  }
}

/** Hands the current attempt to the reaper without waiting: it stops the run once the backend answers. */
async function reap(w: Run, reason: string): Promise<void> {
  await startReaper(reapInput(w, reason));
}

function reapInput(w: Run, reason: string): ReapInput {
  return {
    executionId: w.input.executionId,
    attempt: w.attempt,
    ...(w.run ? { vendorRunId: w.run.vendorRunId } : {}),
    reason,
    ...(w.cancel?.requestedBy ? { requestedBy: w.cancel.requestedBy } : {}),
  };
}

async function startReaper(request: ReapInput): Promise<void> {
  await CancellationScope.nonCancellable(() =>
    startChild(reapAttemptWorkflow, {
      workflowId: reapWorkflowId(request.executionId, request.attempt),
      args: [request],
      parentClosePolicy: ParentClosePolicy.ABANDON,
    }),
  ).catch((err: unknown) => {
    // Already started for this attempt (a cancel after an unreachable abandon): one reaper is enough.
    if (!isCancellation(err) && (err as Error).name !== 'WorkflowExecutionAlreadyStartedError') throw err;
  });
}

function setState(w: Run, next: ExecutionState, also: SearchAttributeValues = {}): void {
  w.state = next;
  upsertSearchAttributes(searchAttributes({ ...also, state: next }));
}

/** The gateway's or a backend's permanent refusal, surfaced by the submit activity as a non-retryable failure. */
function rejectionOf(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable) {
    return err.cause.message;
  }
  return undefined;
}

/**
 * The submit's schedule-to-close bound passed: the last attempt timed out, or it failed (no backend, say) and no
 * time was left for another; either way the retry state is TIMEOUT.
 */
function isScheduleToCloseTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.retryState === 'TIMEOUT';
}
