/**
 * The continuous-job workflow: one long-lived reconcile loop per streaming job (issue 7, the reference's
 * ContinuousJob primitive). Workflow id `continuous-<team>.<name>`, set by service/continuous.ts.
 *
 *              ┌──────────────────────────── updateSpec / resize (new version): redeploy ───────────────┐
 *              ▼                                                                                       │
 *   ──► STARTING ── child execution started ──► RUNNING ── stop the old run (cancel Update), wait ──────┘
 *          ▲                                      │  │
 *          │ backoff elapsed                      │  └── stop ──► cancel the run, wait ──► STOPPED (idle)
 *          │                                      │ run ended on its own (FAILED, or even SUCCEEDED)
 *       BACKOFF ◄── failures in window ≤ N ───────┤   classified by AR (the child's classifyFailure verdict)
 *                                                 └── failures in window > N ──► DEGRADED (idle)
 *
 *   STOPPED / DEGRADED ── resume, or a new spec version (DEGRADED only; STOPPED waits for resume) ──► STARTING
 *
 * Runs: each run is an ordinary execution (`executionWorkflow`, trigger `continuous`) started as a child with id
 * `exec-<uuid4()>`, so its history, events, logs and API view are those of any execution. Its spec is the job's
 * spec with `retryPolicy.maxAttempts: 1`: restarts belong to this loop, not to the execution's AR. The spec (args
 * or sparkConf) carries the checkpoint location, and a restart reuses the identical spec, so the new run resumes
 * from the checkpoint's committed offsets.
 *
 * Stopping a run: the loop calls the `stopExecution` activity, which sends the execution its own `cancel` Update.
 * That path cancels the backend run (local: SIGTERM to the process group, SIGKILL after the grace period) and
 * finalizes the execution CANCELLED. Cancelling the child workflow instead would not do: the execution workflow
 * does not turn workflow cancellation into a backend cancel, so the Spark process would be orphaned.
 *
 * Backoff before restart n (n consecutive failures): min(backoffMaxMs, backoffBaseMs × 2^(n-1)). A run that stayed
 * up for `healthyAfterMs` resets n. More than `crashLoopMaxFailures` failures within `crashLoopWindowMs` →
 * DEGRADED: no restart until the spec changes or someone resumes.
 *
 * Continue-as-new happens only between runs (never with a child running, whose default parent-close policy would
 * terminate it): after `continueAsNewAfterRuns` runs have ended in this workflow run, or when the history passes
 * `continueAsNewAfterEvents` events or the server suggests it. The whole loop state is carried in the input.
 *
 * STOPPED does not complete the workflow: it stays idle (no history growth) so a resume can restart the job under
 * the same workflow id (a spec update while STOPPED is recorded and used on resume).
 *
 * Ending the loop: cancelling this workflow stops the current run (cancel Update, in a non-cancellable scope) and
 * then ends CANCELLED. Children are started with cancellation type and parent-close policy ABANDON, so neither a
 * cancel nor a terminate of the loop reaches the execution as a bare workflow cancel/terminate (which would orphan
 * the Spark process); after a terminate, the run stays alive and can be cancelled through the API.
 */
import {
  CancellationScope,
  ChildWorkflowFailure,
  ParentClosePolicy,
  ChildWorkflowCancellationType,
  isCancellation,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  allHandlersFinished,
  log,
  proxyActivities,
  setHandler,
  startChild,
  upsertMemo,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createContinuousActivities } from '../activities/continuous.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { FailureClass } from '../schema/states.js';
import {
  SA_JOB_PATH,
  SA_STATE,
  SA_TEAM,
  SA_TRIGGER,
  type ExecutionInput,
  type ExecutionResult,
} from './definitions.js';
import { executionWorkflow } from './execution.js';

export const CONTINUOUS_STATUSES = ['STARTING', 'RUNNING', 'BACKOFF', 'DEGRADED', 'STOPPED'] as const;
export type ContinuousStatus = (typeof CONTINUOUS_STATUSES)[number];

/** Loop settings; every one has a default, so tests can shrink just the ones they need. */
export interface ContinuousSettings {
  /** Backoff before the first restart after a failure; doubles with each consecutive failure. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** A run that stayed up this long resets the backoff. */
  healthyAfterMs: number;
  /** More than this many failures within the window → DEGRADED. */
  crashLoopMaxFailures: number;
  crashLoopWindowMs: number;
  /** Continue-as-new once this many runs have ended in one workflow run. */
  continueAsNewAfterRuns: number;
  /** …or once the history has this many events (checked between runs). */
  continueAsNewAfterEvents: number;
}

export const DEFAULT_CONTINUOUS_SETTINGS: ContinuousSettings = {
  backoffBaseMs: 10_000,
  backoffMaxMs: 5 * 60_000,
  healthyAfterMs: 10 * 60_000,
  crashLoopMaxFailures: 5,
  crashLoopWindowMs: 30 * 60_000,
  continueAsNewAfterRuns: 50,
  continueAsNewAfterEvents: 5_000,
};

export interface RunFailure {
  executionId: string;
  /** The execution's final state: FAILED, or SUCCEEDED/CANCELLED when it ended without being asked to. */
  state: string;
  failureClass?: FailureClass;
  message?: string;
  at: string;
}

/** Everything the loop must remember; carried across continue-as-new. */
export interface ContinuousCarried {
  spec: NormalizedJobSpec;
  specVersion: number;
  restartCount: number;
  consecutiveFailures: number;
  /** Epoch ms of recent failures, for the crash-loop window. */
  failureTimes: number[];
  lastFailure?: RunFailure;
  degraded: boolean;
  stopped: boolean;
  /** Every run's execution id, newest last (the last 20). */
  executionIds: string[];
  continuedAsNew: number;
}

export interface ContinuousJobInput {
  team: string;
  jobPath: string;
  owner?: string;
  spec: NormalizedJobSpec;
  /** The version of `spec`; 1 when absent. */
  specVersion?: number;
  settings?: Partial<ContinuousSettings>;
  /** Set only by continue-as-new. */
  carried?: ContinuousCarried;
}

export interface ContinuousState {
  jobPath: string;
  status: ContinuousStatus;
  specVersion: number;
  /** The spec version of the current run (undefined when no run is up). */
  runningSpecVersion?: number;
  currentExecutionId?: string;
  restartCount: number;
  consecutiveFailures: number;
  lastFailure?: RunFailure;
  degraded: boolean;
  executionIds: string[];
  continuedAsNew: number;
  /** When status is BACKOFF: the restart time (ISO). */
  nextRestartAt?: string;
}

export interface SpecUpdate {
  spec: NormalizedJobSpec;
  /** Must exceed the current version; when absent, current + 1. */
  version?: number;
}

/** The live state of the loop. */
export const continuousStateQuery = defineQuery<ContinuousState>('continuousState');
/** Controlled redeploy onto the same checkpoint; resolves with the accepted version. Rejects stale versions. */
export const updateSpecUpdate = defineUpdate<number, [SpecUpdate]>('updateSpec');
/** Stops the current run (no process left) and idles in STOPPED; resolves once STOPPED. */
export const stopUpdate = defineUpdate<ContinuousStatus, [{ reason?: string }]>('stop');
/** Leaves STOPPED or DEGRADED and starts a run; resolves with the status after it was accepted. */
export const resumeUpdate = defineUpdate<ContinuousStatus, []>('resume');
/** DCR / APS resize: a redeploy with new resources (a new spec version). */
export const resizeSignal = defineSignal<[NormalizedJobSpec['resources']]>('resize');

export const CONTINUOUS_JOB_WORKFLOW = 'continuousJobWorkflow';

type Activities = ReturnType<typeof createContinuousActivities>;

const control = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/** The spec a run gets: the job's, with auto-retry off (the loop owns restarts). */
function runSpec(spec: NormalizedJobSpec): NormalizedJobSpec {
  return { ...spec, jobType: 'streaming', retryPolicy: { ...spec.retryPolicy, maxAttempts: 1 } };
}

/** The wait before the next restart after `consecutiveFailures` failures in a row (counted from 1). */
export function backoffDelayMs(settings: ContinuousSettings, consecutiveFailures: number): number {
  const ms = settings.backoffBaseMs * 2 ** Math.max(0, consecutiveFailures - 1);
  return Math.max(1, Math.min(settings.backoffMaxMs, ms));
}

export async function continuousJobWorkflow(input: ContinuousJobInput): Promise<void> {
  const settings: ContinuousSettings = { ...DEFAULT_CONTINUOUS_SETTINGS, ...input.settings };
  const s: ContinuousCarried = input.carried ?? {
    spec: input.spec,
    specVersion: input.specVersion ?? 1,
    restartCount: 0,
    consecutiveFailures: 0,
    failureTimes: [],
    degraded: false,
    stopped: false,
    executionIds: [],
    continuedAsNew: 0,
  };
  let status: ContinuousStatus = s.stopped ? 'STOPPED' : s.degraded ? 'DEGRADED' : 'STARTING';
  let running: { executionId: string; specVersion: number } | undefined;
  let nextRestartAt: string | undefined;
  // Objects, so TypeScript does not narrow them across awaits (handlers change them in between).
  const requested: { stop?: { reason?: string }; resume?: boolean } = {};
  const stopRequest = () => requested.stop;
  let endedThisRun = 0;

  const snapshot = (): ContinuousState => ({
    jobPath: input.jobPath,
    status,
    specVersion: s.specVersion,
    runningSpecVersion: running?.specVersion,
    currentExecutionId: running?.executionId,
    restartCount: s.restartCount,
    consecutiveFailures: s.consecutiveFailures,
    lastFailure: s.lastFailure,
    degraded: s.degraded,
    executionIds: s.executionIds,
    continuedAsNew: s.continuedAsNew,
    nextRestartAt: status === 'BACKOFF' ? nextRestartAt : undefined,
  });
  const setStatus = (next: ContinuousStatus) => {
    status = next;
    upsertMemo({
      continuous: { status, specVersion: s.specVersion, degraded: s.degraded, restartCount: s.restartCount },
      summary: `${input.jobPath}: ${status} (spec v${s.specVersion}, ${s.restartCount} restart(s))`,
    });
  };
  const acceptSpec = (spec: NormalizedJobSpec, version?: number) => {
    s.spec = spec;
    s.specVersion = version ?? s.specVersion + 1;
    // A new spec is a fresh start: the crash-loop record was about the old one.
    s.degraded = false;
    s.consecutiveFailures = 0;
    s.failureTimes = [];
  };

  setHandler(continuousStateQuery, snapshot);
  setHandler(
    updateSpecUpdate,
    (update) => {
      acceptSpec(update.spec, update.version);
      return s.specVersion;
    },
    {
      validator: (update: SpecUpdate) => {
        if (update.version !== undefined && update.version <= s.specVersion) {
          throw new Error(`spec version ${update.version} is not newer than the current version ${s.specVersion}`);
        }
      },
    },
  );
  setHandler(resizeSignal, (resources) => acceptSpec({ ...s.spec, resources }));
  setHandler(stopUpdate, async (request) => {
    if (!s.stopped) requested.stop ??= request;
    await condition(() => status === 'STOPPED');
    return status;
  });
  setHandler(
    resumeUpdate,
    () => {
      requested.resume = true;
      return status;
    },
    {
      validator: () => {
        if (!s.stopped && !s.degraded) throw new Error(`job ${input.jobPath} is not stopped or degraded`);
      },
    },
  );

  const stopRun = async (executionId: string, reason: string) => {
    await control.stopExecution({ executionId, reason });
  };

  try {
    for (;;) {
      if (requested.stop) {
        requested.stop = undefined;
        s.stopped = true;
        await control.recordContinuousEvent({ jobPath: input.jobPath, kind: 'STOPPED', specVersion: s.specVersion });
      }
      // Idle: STOPPED waits for resume; DEGRADED for resume or a new spec version (acceptSpec clears `degraded`).
      while (s.stopped || s.degraded) {
        const version = s.specVersion;
        setStatus(s.stopped ? 'STOPPED' : 'DEGRADED');
        await condition(
          () => requested.resume === true || requested.stop !== undefined || (!s.stopped && s.specVersion !== version),
        );
        if (requested.resume) {
          requested.resume = undefined;
          s.stopped = false;
          s.degraded = false;
          s.consecutiveFailures = 0;
          s.failureTimes = [];
          await control.recordContinuousEvent({ jobPath: input.jobPath, kind: 'RESUMED', specVersion: s.specVersion });
        } else if (requested.stop) {
          requested.stop = undefined;
          s.stopped = true;
          s.degraded = false;
        }
      }

      const info = workflowInfo();
      if (
        endedThisRun >= settings.continueAsNewAfterRuns ||
        info.historyLength >= settings.continueAsNewAfterEvents ||
        info.continueAsNewSuggested
      ) {
        await condition(allHandlersFinished);
        await continueAsNew<typeof continuousJobWorkflow>({
          ...input,
          carried: { ...s, continuedAsNew: s.continuedAsNew + 1 },
        });
      }

      // Start a run of the desired spec.
      setStatus('STARTING');
      const executionId = uuid4();
      const version = s.specVersion;
      const execution: ExecutionInput = {
        executionId,
        team: input.team,
        jobPath: input.jobPath,
        owner: input.owner,
        trigger: 'continuous',
        spec: runSpec(s.spec),
        requestHash: `continuous:${input.jobPath}:v${version}`,
      };
      const child = await startChild(executionWorkflow, {
        workflowId: `exec-${executionId}`,
        args: [execution],
        typedSearchAttributes: [
          { key: SA_TEAM, value: input.team },
          { key: SA_JOB_PATH, value: input.jobPath },
          { key: SA_STATE, value: 'PENDING' },
          { key: SA_TRIGGER, value: 'continuous' },
        ],
        memo: { summary: `${input.jobPath} (streaming, spec v${version}): continuous run` },
        // The loop stops runs itself (cancel Update), which really stops Spark; a workflow-level cancel of the
        // execution would not. A terminated loop leaves its run alive and cancellable through the API.
        cancellationType: ChildWorkflowCancellationType.ABANDON,
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      running = { executionId, specVersion: version };
      s.executionIds = [...s.executionIds, executionId].slice(-20);
      const startedAt = Date.now();
      setStatus('RUNNING');

      const outcome: { ended?: Pick<ExecutionResult, 'state' | 'failureClass' | 'failureMessage'> } = {};
      const result = child.result().then(
        (r) => (outcome.ended = r),
        (err: unknown) =>
          (outcome.ended = {
            state: 'FAILED',
            failureClass: 'INFRA',
            failureMessage: err instanceof ChildWorkflowFailure ? `${err.message}: ${err.cause?.message}` : String(err),
          }),
      );
      await condition(() => outcome.ended !== undefined || requested.stop !== undefined || s.specVersion !== version);
      endedThisRun += 1;

      const ended = outcome.ended;
      if (ended === undefined) {
        // Asked to stop or redeploy: stop the old run first, so two runs never share the checkpoint.
        const stop = stopRequest();
        await stopRun(executionId, stop ? (stop.reason ?? 'stop requested') : `redeploy to spec v${s.specVersion}`);
        await result;
        running = undefined;
        if (!stop) {
          await control.recordContinuousEvent({
            jobPath: input.jobPath,
            kind: 'REDEPLOYED',
            specVersion: s.specVersion,
            executionId,
          });
        }
        continue;
      }

      // The run ended without being asked to: classify, then restart with backoff or degrade.
      running = undefined;
      const finished = ended;
      const now = Date.now();
      s.lastFailure = {
        executionId,
        state: finished.state,
        failureClass: finished.failureClass,
        message: finished.failureMessage ?? `the run ended on its own (${finished.state})`,
        at: new Date(now).toISOString(),
      };
      if (now - startedAt >= settings.healthyAfterMs) s.consecutiveFailures = 0;
      s.consecutiveFailures += 1;
      s.failureTimes = [...s.failureTimes.filter((t) => now - t < settings.crashLoopWindowMs), now];
      log.warn('continuous run ended unexpectedly', { jobPath: input.jobPath, ...s.lastFailure });

      if (s.failureTimes.length > settings.crashLoopMaxFailures) {
        s.degraded = true;
        await control.recordContinuousEvent({
          jobPath: input.jobPath,
          kind: 'DEGRADED',
          specVersion: s.specVersion,
          executionId,
          detail: `${s.failureTimes.length} failures within ${settings.crashLoopWindowMs} ms (cap ${settings.crashLoopMaxFailures}); last: ${s.lastFailure.failureClass ?? s.lastFailure.state}: ${s.lastFailure.message}`,
        });
        continue;
      }

      const delayMs = backoffDelayMs(settings, s.consecutiveFailures);
      nextRestartAt = new Date(now + delayMs).toISOString();
      setStatus('BACKOFF');
      await control.recordContinuousEvent({
        jobPath: input.jobPath,
        kind: 'RESTART_SCHEDULED',
        specVersion: s.specVersion,
        executionId,
        detail: `${s.lastFailure.failureClass ?? s.lastFailure.state}: ${s.lastFailure.message}; restart in ${delayMs} ms`,
      });
      // Backoff, cut short by a stop or a new spec (a redeploy needs no backoff).
      const interrupted = await condition(() => requested.stop !== undefined || s.specVersion !== version, delayMs);
      // A restart after a failure counts; a redeploy or stop that cut the backoff short does not.
      if (!interrupted) s.restartCount += 1;
    }
  } catch (err) {
    // The loop itself was cancelled (client cancel): stop the current run first, so no Spark process outlives it.
    if (isCancellation(err) && running) {
      const current = running.executionId;
      await CancellationScope.nonCancellable(() => stopRun(current, 'continuous job cancelled'));
    }
    throw err;
  }
}
