/**
 * The continuous-job workflow: one long-lived reconcile loop per streaming job (issue 7, the reference's
 * ContinuousJob primitive). Workflow id `continuous-<team>.<name>`, set by service/continuous.ts.
 *
 *              ┌──────────────────────────── updateSpec / resize (new version): redeploy ───────────────┐
 *              ▼                                                                                       │
 *   ──► STARTING ── child execution started ──► RUNNING ── stop the old run (cancel Update), wait ──────┘
 *          ▲                          sample ──►  │  │  (every STREAMING_SAMPLE_INTERVAL_S: SAMPLE; DCR may resize)
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
 * Events and DCR (runner/dcr.ts; histories from before the `dcr-job-events-and-sampling` patch replay without
 * it): every transition (RUN_STARTED, RESTART_SCHEDULED, DEGRADED, REDEPLOYED, RESIZED, STOPPED, RESUMED) is a job
 * event (job_events, read at GET /api/v1/jobs/continuous-<team>.<name>/events). While a run is up the loop waits
 * at most the sample interval (STREAMING_SAMPLE_INTERVAL_S, from the worker's `dcrPolicy` at each run start), then
 * samples the run's Structured Streaming progress from its driver and records it (SAMPLE) with the policy's
 * verdict. A verdict to resize (lag: add executors; `sizing: auto`: APS's drift, at most once per cool-down)
 * becomes a new spec version with new resources: the same controlled restart as a resize by REST, recorded as
 * RESIZED with the rule and the reason. The policy is pure and fed workflow time, so replay decides the same.
 * The jobs row follows a DCR resize (`followResize`, from the `dcr-resize-follows-job-row` patch on), as it follows
 * a REST resize, so the API, the console and a later manifest re-apply see the resources the job runs with.
 *
 * STOPPED does not complete the workflow: it stays idle (no history growth) so a resume can restart the job under
 * the same workflow id (a spec update while STOPPED is recorded and used on resume).
 *
 * Layout (STYLE.md §16): `continuousJobWorkflow` is a short loop that dispatches on the step (reconcile, idle,
 * start, await the run, backoff) to one function each; the loop's mutable state lives in one `Loop` object, whose
 * handlers `installHandlers` sets. The messages are in continuous-definitions.ts.
 *
 * Ending the loop: cancelling this workflow stops the current run (cancel Update, in a non-cancellable scope) and
 * then ends CANCELLED. Children are started with cancellation type and parent-close policy ABANDON, so neither a
 * cancel nor a terminate of the loop reaches the execution as a bare workflow cancel/terminate (which would orphan
 * the Spark process); after a terminate, the run stays alive and can be cancelled through the API.
 */
import {
  CancellationScope,
  ChildWorkflowCancellationType,
  ChildWorkflowFailure,
  ParentClosePolicy,
  allHandlersFinished,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  startChild,
  upsertMemo,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { createContinuousActivities, DcrPolicy, SampleOutcome } from '../activities/continuous.js';
import { coolingUntil, decideDcr, INITIAL_DCR_STATE, type DcrRule } from '../runner/dcr.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import { assertNever, executionWorkflowId, searchAttributes } from '../schema/vocabulary.js';
import {
  DEFAULT_CONTINUOUS_SETTINGS,
  backoffDelayMs,
  continuousStateQuery,
  resizeSignal,
  resumeUpdate,
  stopUpdate,
  updateSpecUpdate,
  type ContinuousCarried,
  type ContinuousJobInput,
  type ContinuousSettings,
  type ContinuousState,
  type ContinuousStatus,
  type SpecUpdate,
} from './continuous-definitions.js';
import type { ExecutionInput, ExecutionResult } from './definitions.js';
import { executionWorkflow } from './execution.js';

type Activities = ReturnType<typeof createContinuousActivities>;

const control = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

/**
 * The spec a run gets: the job's, with auto-retry off (the loop owns restarts), and, with DCR, the driver's
 * streaming-query gauges on (the progress samples read them), unless the job's sparkConf says otherwise.
 */
function runSpec(spec: NormalizedJobSpec, dcr: boolean): NormalizedJobSpec {
  return {
    ...spec,
    jobType: 'streaming',
    retryPolicy: { ...spec.retryPolicy, maxAttempts: 1 },
    ...(dcr ? { sparkConf: { [STREAMING_METRICS_CONF]: 'true', ...spec.sparkConf } } : {}),
  };
}

/** Makes the driver publish each streaming query's progress (input and processing rates, latency) as gauges. */
const STREAMING_METRICS_CONF = 'spark.sql.streaming.metricsEnabled';

/** The patch id of DCR (job events, progress sampling, the policy): histories from before it replay without it. */
const DCR_PATCH = 'dcr-job-events-and-sampling';
/** The patch id of DCR's resizes writing the jobs row (`followResize`): older histories replay without it. */
const DCR_JOB_ROW_PATCH = 'dcr-resize-follows-job-row';

/** Why the spec changed, for the redeploy's event. */
interface SpecChange {
  cause: 'redeploy' | 'resize';
  reason: string;
  from: NormalizedJobSpec['resources'];
  rule?: DcrRule;
}

/** The run the loop has up, and how it ended (set when it does). */
interface CurrentRun {
  executionId: string;
  specVersion: number;
  startedAt: number;
  /** Settles when the execution ends; `outcome.ended` then says how. */
  result: Promise<unknown>;
  outcome: { ended?: Pick<ExecutionResult, 'state' | 'failureClass' | 'failureMessage'> };
}

type Step =
  | { kind: 'reconcile' }
  | { kind: 'idle' }
  | { kind: 'start' }
  | { kind: 'run'; run: CurrentRun }
  | { kind: 'backoff'; delayMs: number; version: number };

/** The loop's mutable state, in one place. */
interface Loop {
  readonly input: ContinuousJobInput;
  readonly settings: ContinuousSettings;
  /** What continue-as-new carries over. */
  s: ContinuousCarried;
  status: ContinuousStatus;
  running?: CurrentRun;
  nextRestartAt?: string;
  requested: { stop?: { reason?: string }; resume?: boolean };
  endedThisRun: number;
  /** DCR on (the patch): job events for every transition, progress samples, the policy. */
  readonly dcr: boolean;
  /** This run's DCR settings and caps, from the worker (set at each run start). */
  policy?: DcrPolicy;
  /** The last accepted spec change, until the redeploy that applies it records it. */
  change?: SpecChange;
  lastSample?: ContinuousState['lastSample'];
}

export async function continuousJobWorkflow(input: ContinuousJobInput): Promise<void> {
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
  const loop: Loop = {
    input,
    settings: { ...DEFAULT_CONTINUOUS_SETTINGS, ...input.settings },
    s,
    status: s.stopped ? 'STOPPED' : s.degraded ? 'DEGRADED' : 'STARTING',
    requested: {},
    endedThisRun: 0,
    dcr: patched(DCR_PATCH),
  };
  installHandlers(loop);

  let step: Step = { kind: 'reconcile' };
  try {
    for (;;) {
      switch (step.kind) {
        case 'reconcile':
          step = await reconcile(loop);
          break;
        case 'idle':
          step = await idle(loop);
          break;
        case 'start':
          step = await startRun(loop);
          break;
        case 'run':
          step = await awaitRun(loop, step.run);
          break;
        case 'backoff':
          step = await backoff(loop, step);
          break;
        default:
          return assertNever(step, 'step');
      }
    }
  } catch (err) {
    // The loop itself was cancelled (client cancel): stop the current run first, so no Spark process outlives it.
    if (isCancellation(err) && loop.running) {
      const current = loop.running.executionId;
      await CancellationScope.nonCancellable(() => stopRun(current, 'continuous job cancelled'));
    }
    throw err;
  }
}

/** Takes a new spec version; the run (if any) is replaced by awaitRun, which records why (`loop.change`). */
function acceptSpec(
  loop: Loop,
  spec: NormalizedJobSpec,
  version: number | undefined,
  change: Omit<SpecChange, 'from'>,
) {
  const { s } = loop;
  // Several changes before one redeploy: the event compares with what the run had.
  loop.change = { ...change, from: loop.change?.from ?? s.spec.resources };
  s.spec = spec;
  s.specVersion = version ?? s.specVersion + 1;
  // A new spec is a fresh start: the crash-loop record was about the old one.
  s.degraded = false;
  s.consecutiveFailures = 0;
  s.failureTimes = [];
}

function installHandlers(loop: Loop): void {
  const { s } = loop;
  setHandler(continuousStateQuery, (): ContinuousState => snapshot(loop));
  setHandler(
    updateSpecUpdate,
    (update) => {
      acceptSpec(loop, update.spec, update.version, {
        cause: update.cause ?? 'redeploy',
        reason: update.reason ?? (update.cause === 'resize' ? 'resources changed' : 'spec updated'),
      });
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
  setHandler(resizeSignal, (resources) =>
    acceptSpec(loop, { ...s.spec, resources }, undefined, { cause: 'resize', reason: 'resize signal' }),
  );
  setHandler(stopUpdate, async (request) => {
    if (!s.stopped) loop.requested.stop ??= request;
    await condition(() => loop.status === 'STOPPED');
    return loop.status;
  });
  setHandler(
    resumeUpdate,
    () => {
      loop.requested.resume = true;
      return loop.status;
    },
    {
      validator: () => {
        if (!s.stopped && !s.degraded) throw new Error(`job ${loop.input.jobPath} is not stopped or degraded`);
      },
    },
  );
}

// ── Steps ───────────────────────────────────────────────────────────────────────────────────────────────────

/** Takes a stop request; then idles when stopped or degraded, or starts a run. */
async function reconcile(loop: Loop): Promise<Step> {
  if (loop.requested.stop) {
    loop.requested.stop = undefined;
    loop.s.stopped = true;
    await event(loop, 'STOPPED');
  }
  return loop.s.stopped || loop.s.degraded ? { kind: 'idle' } : { kind: 'start' };
}

/** STOPPED waits for resume; DEGRADED for resume or a new spec version (acceptSpec clears `degraded`). */
async function idle(loop: Loop): Promise<Step> {
  const { s, requested } = loop;
  const version = s.specVersion;
  setStatus(loop, s.stopped ? 'STOPPED' : 'DEGRADED');
  await condition(
    () => requested.resume === true || requested.stop !== undefined || (!s.stopped && s.specVersion !== version),
  );
  if (requested.resume) {
    requested.resume = undefined;
    s.stopped = false;
    s.degraded = false;
    s.consecutiveFailures = 0;
    s.failureTimes = [];
    await event(loop, 'RESUMED');
  } else if (requested.stop) {
    requested.stop = undefined;
    s.stopped = true;
    s.degraded = false;
  }
  return s.stopped || s.degraded ? { kind: 'idle' } : { kind: 'start' };
}

/** Continues as new when due (only between runs); else starts a run of the desired spec. */
async function startRun(loop: Loop): Promise<Step> {
  const { s, input, settings } = loop;
  const info = workflowInfo();
  if (
    loop.endedThisRun >= settings.continueAsNewAfterRuns ||
    info.historyLength >= settings.continueAsNewAfterEvents ||
    info.continueAsNewSuggested
  ) {
    await condition(allHandlersFinished);
    await continueAsNew<typeof continuousJobWorkflow>({
      ...input,
      carried: { ...s, continuedAsNew: s.continuedAsNew + 1 },
    });
  }
  setStatus(loop, 'STARTING');
  if (loop.dcr) loop.policy = await control.dcrPolicy({ team: input.team });
  const executionId = uuid4();
  const version = s.specVersion;
  const execution: ExecutionInput = {
    executionId,
    team: input.team,
    jobPath: input.jobPath,
    owner: input.owner,
    trigger: 'continuous',
    spec: runSpec(s.spec, loop.dcr),
    requestHash: `continuous:${input.jobPath}:v${version}`,
  };
  const child = await startChild(executionWorkflow, {
    workflowId: executionWorkflowId(executionId),
    args: [execution],
    typedSearchAttributes: searchAttributes({
      team: input.team,
      jobPath: input.jobPath,
      state: 'PENDING',
      trigger: 'continuous',
    }),
    memo: { summary: `${input.jobPath} (streaming, spec v${version}): continuous run` },
    // The loop stops runs itself (cancel Update), which really stops Spark; a workflow-level cancel of the
    // execution would not. A terminated loop leaves its run alive and cancellable through the API.
    cancellationType: ChildWorkflowCancellationType.ABANDON,
    parentClosePolicy: ParentClosePolicy.ABANDON,
  });
  const outcome: CurrentRun['outcome'] = {};
  const result = child.result().then(
    (r) => (outcome.ended = r),
    (err: unknown) =>
      (outcome.ended = {
        state: 'FAILED',
        failureClass: 'INFRA',
        failureMessage: err instanceof ChildWorkflowFailure ? `${err.message}: ${err.cause?.message}` : String(err),
      }),
  );
  const run: CurrentRun = { executionId, specVersion: version, startedAt: Date.now(), result, outcome };
  loop.running = run;
  s.executionIds = [...s.executionIds, executionId].slice(-20);
  setStatus(loop, 'RUNNING');
  if (loop.dcr) {
    // A new run starts a new lag streak: the samples were about the old one.
    s.dcr = { ...(s.dcr ?? INITIAL_DCR_STATE), lagging: 0 };
    loop.lastSample = undefined;
    const change = loop.change;
    loop.change = undefined;
    await event(loop, 'RUN_STARTED', executionId, `run ${s.executionIds.length} of spec v${version}`, {
      resources: s.spec.resources,
      restartCount: s.restartCount,
      ...(change ? { change: { cause: change.cause, reason: change.reason } } : {}),
    });
  }
  return { kind: 'run', run };
}

/**
 * Waits for the run to end, or for a stop or a new spec. A stop or redeploy stops the old run first, so two runs
 * never share the checkpoint; a run that ended on its own is counted, then restarted after a backoff or degraded.
 */
async function awaitRun(loop: Loop, run: CurrentRun): Promise<Step> {
  const { s, settings, requested } = loop;
  const woken = () =>
    run.outcome.ended !== undefined || requested.stop !== undefined || s.specVersion !== run.specVersion;
  if (loop.policy) {
    // Every sample interval without news: one progress sample, and DCR's verdict on it. Continue-as-new waits for
    // the run to end, so a run that stays up stops being sampled once the history is as long as continue-as-new
    // allows (about 700 samples): the history stays bounded, and the next run samples again.
    const roomLeft = () =>
      workflowInfo().historyLength < settings.continueAsNewAfterEvents && !workflowInfo().continueAsNewSuggested;
    while (roomLeft() && !(await condition(woken, loop.policy.sampleIntervalMs))) await sampleRun(loop, run);
  }
  await condition(woken);
  loop.endedThisRun += 1;
  const ended = run.outcome.ended;
  if (ended === undefined) {
    const stop = requested.stop;
    const change = loop.change;
    const why = change?.cause === 'resize' ? 'resize' : 'redeploy';
    await stopRun(run.executionId, stop ? (stop.reason ?? 'stop requested') : `${why} to spec v${s.specVersion}`);
    await run.result;
    loop.running = undefined;
    if (!stop && loop.dcr && change) {
      // The change stays set for the next run's RUN_STARTED, which clears it.
      await event(loop, change.cause === 'resize' ? 'RESIZED' : 'REDEPLOYED', run.executionId, change.reason, {
        from: change.from,
        to: s.spec.resources,
        source: change.rule ? `dcr:${change.rule}` : 'request',
      });
    } else if (!stop) await event(loop, 'REDEPLOYED', run.executionId);
    return { kind: 'reconcile' };
  }

  loop.running = undefined;
  const now = Date.now();
  s.lastFailure = {
    executionId: run.executionId,
    state: ended.state,
    failureClass: ended.failureClass,
    message: ended.failureMessage ?? `the run ended on its own (${ended.state})`,
    at: new Date(now).toISOString(),
  };
  if (now - run.startedAt >= settings.healthyAfterMs) s.consecutiveFailures = 0;
  s.consecutiveFailures += 1;
  s.failureTimes = [...s.failureTimes.filter((t) => now - t < settings.crashLoopWindowMs), now];
  log.warn('continuous run ended unexpectedly', { jobPath: loop.input.jobPath, ...s.lastFailure });
  const last = `${s.lastFailure.failureClass ?? s.lastFailure.state}: ${s.lastFailure.message}`;

  if (s.failureTimes.length > settings.crashLoopMaxFailures) {
    s.degraded = true;
    await event(
      loop,
      'DEGRADED',
      run.executionId,
      `${s.failureTimes.length} failures within ${settings.crashLoopWindowMs} ms (cap ${settings.crashLoopMaxFailures}); last: ${last}`,
    );
    return { kind: 'reconcile' };
  }
  const delayMs = backoffDelayMs(settings, s.consecutiveFailures);
  loop.nextRestartAt = new Date(now + delayMs).toISOString();
  setStatus(loop, 'BACKOFF');
  await event(loop, 'RESTART_SCHEDULED', run.executionId, `${last}; restart in ${delayMs} ms`);
  return { kind: 'backoff', delayMs, version: s.specVersion };
}

/** Backoff, cut short by a stop or a new spec (a redeploy needs no backoff). */
async function backoff(loop: Loop, step: Extract<Step, { kind: 'backoff' }>): Promise<Step> {
  const interrupted = await condition(
    () => loop.requested.stop !== undefined || loop.s.specVersion !== step.version,
    step.delayMs,
  );
  // A restart after a failure counts; a redeploy or stop that cut the backoff short does not.
  if (!interrupted) loop.s.restartCount += 1;
  return { kind: 'reconcile' };
}

/**
 * One DCR step: samples the live run's streaming progress, records the sample, and asks the policy
 * (runner/dcr.ts) about it; a resize it decides becomes a new spec version, which awaitRun then applies.
 */
async function sampleRun(loop: Loop, run: CurrentRun): Promise<void> {
  const { s, input } = loop;
  const policy = loop.policy!;
  const outcome: SampleOutcome = await control.sampleStreamingProgress({ executionId: run.executionId });
  if ('unavailable' in outcome) {
    log.info('no streaming progress sample', { jobPath: input.jobPath, reason: outcome.unavailable });
    return;
  }
  const now = Date.now();
  const state = s.dcr ?? INITIAL_DCR_STATE;
  const advice =
    s.spec.sizing === 'auto' && coolingUntil(state, policy.settings, now) === undefined
      ? await control.recommendStreamingResources({ team: input.team, jobPath: input.jobPath })
      : undefined;
  const decision = decideDcr({
    state,
    sample: outcome.sample,
    running: outcome.running,
    caps: policy.caps,
    sizing: s.spec.sizing ?? 'manual',
    ...(advice ? { recommended: advice.recommended } : {}),
    settings: policy.settings,
    now,
  });
  s.dcr = decision.state;
  loop.lastSample = { ...outcome.sample, at: new Date(now).toISOString() };
  await event(loop, 'SAMPLE', run.executionId, decision.reason, {
    ...outcome.sample,
    lagging: decision.lagging,
    laggingStreak: decision.state.lagging,
    verdict: decision.kind,
  });
  if (decision.kind === 'resize' && s.specVersion === run.specVersion) {
    const from = s.spec.resources;
    acceptSpec(loop, { ...s.spec, resources: decision.resources }, undefined, {
      cause: 'resize',
      reason: `DCR (${decision.rule}): ${decision.reason}`,
      rule: decision.rule,
    });
    // The jobs row follows (GET /api/v1/jobs, lists, the console, a manifest diff), as after a REST resize.
    if (patched(DCR_JOB_ROW_PATCH)) await control.followResize({ jobPath: input.jobPath, from, to: s.spec.resources });
  }
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────────────────────

function snapshot(loop: Loop): ContinuousState {
  const { s } = loop;
  return {
    jobPath: loop.input.jobPath,
    status: loop.status,
    specVersion: s.specVersion,
    runningSpecVersion: loop.running?.specVersion,
    currentExecutionId: loop.running?.executionId,
    restartCount: s.restartCount,
    consecutiveFailures: s.consecutiveFailures,
    lastFailure: s.lastFailure,
    degraded: s.degraded,
    executionIds: s.executionIds,
    continuedAsNew: s.continuedAsNew,
    nextRestartAt: loop.status === 'BACKOFF' ? loop.nextRestartAt : undefined,
    ...(loop.lastSample ? { lastSample: loop.lastSample } : {}),
    ...(s.dcr
      ? {
          dcr: {
            lagging: s.dcr.lagging,
            ...(s.dcr.lastResizeAt !== undefined ? { lastResizeAt: new Date(s.dcr.lastResizeAt).toISOString() } : {}),
          },
        }
      : {}),
  };
}

function setStatus(loop: Loop, next: ContinuousStatus): void {
  const { s } = loop;
  loop.status = next;
  upsertMemo({
    continuous: { status: next, specVersion: s.specVersion, degraded: s.degraded, restartCount: s.restartCount },
    summary: `${loop.input.jobPath}: ${next} (spec v${s.specVersion}, ${s.restartCount} restart(s))`,
  });
}

/** Records a loop transition (or a sample) as a job event, job_events, at workflow time. */
function event(
  loop: Loop,
  kind: Parameters<Activities['recordContinuousEvent']>[0]['kind'],
  executionId?: string,
  detail?: string,
  data?: Record<string, unknown>,
): Promise<void> {
  return control.recordContinuousEvent({
    jobPath: loop.input.jobPath,
    kind,
    specVersion: loop.s.specVersion,
    ...(executionId ? { executionId } : {}),
    ...(detail ? { detail } : {}),
    ...(data ? { data } : {}),
    ...(loop.dcr ? { at: new Date(Date.now()).toISOString() } : {}),
  });
}

function stopRun(executionId: string, reason: string): Promise<void> {
  return control.stopExecution({ executionId, reason });
}
