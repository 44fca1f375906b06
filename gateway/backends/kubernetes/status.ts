/**
 * Maps a SparkApplication (its `.status`) to a `RunStatus` (DESIGN.md "Status: push first";
 * reference/apache-spark-operator.md §3). Pure.
 *
 * | operator state (currentStateSummary)                              | phase                          |
 * |-------------------------------------------------------------------|--------------------------------|
 * | none yet (operator has not reconciled)                            | PENDING (FAILED `NO_STATUS`    |
 * |                                                                   | after statusTimeoutMs)         |
 * | Submitted, ScheduledToRestart, DriverRequested                    | PENDING                        |
 * | DriverStarted, DriverReady, InitializedBelowThresholdExecutors,   | RUNNING (the driver runs user  |
 * | RunningHealthy, RunningWithPartialCapacity, RunningWith…Below…    | code)                          |
 * | Succeeded, Failed, *TimedOut, SchedulingFailure, DriverEvicted    | RUNNING: stopping, not final;  |
 * |                                                                   | cleanup (or a restart) follows |
 * | ResourceReleased, TerminatedWithoutReleaseResources (final)       | from the state before it:      |
 * |                                                                   | Succeeded → SUCCEEDED; a       |
 * |                                                                   | failure state → FAILED with    |
 * |                                                                   | `reason` = that state; anything|
 * |                                                                   | else (deleted mid-run) →       |
 * |                                                                   | CANCELLED                      |
 *
 * Failure detail comes from the deciding history entry: its `message`, and its `lastObservedDriverStatus`
 * (a core/v1 PodStatus: the driver container's `state.terminated.{exitCode,reason,message}`, and the pod's
 * `reason`/`message`, e.g. Evicted). Those are folded into `message` so the AR classifier's text rules (OOMKilled,
 * Evicted, …) see them.
 */
import type { FailureInfo, RunPhase, RunRef, RunStatus } from '../../backend.js';
import { expandUiTemplate } from '../../../observability/links.js';
import { DRIVER_CONTAINER, LABELS } from './build.js';

export const FINAL_STATES = ['ResourceReleased', 'TerminatedWithoutReleaseResources'] as const;
export const FAILURE_STATES = [
  'Failed',
  'SchedulingFailure',
  'DriverStartTimedOut',
  'DriverReadyTimedOut',
  'ExecutorsStartTimedOut',
  'DriverEvicted',
] as const;
const PENDING_STATES = ['Submitted', 'ScheduledToRestart', 'DriverRequested'];
const RUNNING_STATES = [
  'DriverStarted',
  'DriverReady',
  'InitializedBelowThresholdExecutors',
  'RunningHealthy',
  'RunningWithPartialCapacity',
  'RunningWithBelowThresholdExecutors',
];

interface ContainerStatus {
  name?: string;
  state?: { terminated?: { exitCode?: number; reason?: string; message?: string } };
}
/** The subset of core/v1 PodStatus read here. */
export interface DriverPodStatus {
  phase?: string;
  reason?: string;
  message?: string;
  containerStatuses?: ContainerStatus[];
}
export interface ApplicationState {
  currentStateSummary?: string;
  lastTransitionTime?: string;
  message?: string;
  lastObservedDriverStatus?: DriverPodStatus;
}
/** The parts of a SparkApplication this module reads. */
export interface ObservedSparkApplication {
  metadata?: {
    name?: string;
    namespace?: string;
    creationTimestamp?: string | Date;
    deletionTimestamp?: string | Date;
    labels?: Record<string, string>;
  };
  status?: {
    currentState?: ApplicationState;
    stateTransitionHistory?: Record<string, ApplicationState>;
    currentAttemptSummary?: { attemptInfo?: { id?: number } };
  };
}

/** The outcome of a final status, read from the history entry before the final one. */
export function finalOutcome(app: ObservedSparkApplication): { phase: RunPhase; via?: ApplicationState } {
  const history = Object.entries(app.status?.stateTransitionHistory ?? {})
    .sort((a, b) => Number(a[0]) - Number(b[0]))
    .map(([, state]) => state);
  // The last entry is the final state itself; a retained app may pass TerminatedWithoutReleaseResources first.
  for (let i = history.length - 2; i >= 0; i--) {
    const entry = history[i]!;
    const state = entry.currentStateSummary;
    if (state === 'TerminatedWithoutReleaseResources') continue;
    if (state === 'Succeeded') return { phase: 'SUCCEEDED', via: entry };
    if ((FAILURE_STATES as readonly (string | undefined)[]).includes(state)) return { phase: 'FAILED', via: entry };
    return { phase: 'CANCELLED', via: entry };
  }
  return { phase: 'FAILED' };
}

function failureFrom(entry: ApplicationState | undefined, fallback: ApplicationState | undefined): FailureInfo {
  const driver = entry?.lastObservedDriverStatus ?? fallback?.lastObservedDriverStatus;
  const containers = driver?.containerStatuses ?? [];
  const container =
    containers.find((c) => c.name === DRIVER_CONTAINER && c.state?.terminated) ??
    containers.find((c) => c.state?.terminated);
  const terminated = container?.state?.terminated;
  const parts = [
    entry?.message ?? fallback?.message,
    driver?.reason || driver?.message
      ? `driver pod: ${[driver.reason, driver.message].filter(Boolean).join(': ')}`
      : '',
    terminated?.reason || terminated?.message
      ? `driver container: ${[terminated.reason, terminated.message].filter(Boolean).join(': ')}`
      : '',
  ].filter(Boolean);
  return {
    reason: entry?.currentStateSummary ?? 'UNKNOWN_OUTCOME',
    ...(terminated?.exitCode !== undefined ? { exitCode: terminated.exitCode } : {}),
    ...(parts.length ? { message: parts.join('; ') } : {}),
  };
}

/**
 * The Spark application id of the CR's current attempt: the operator sets `spark.app.id` to
 * `<name>-<attemptId>` (names of up to 46 characters, which ours always are), and Spark on Kubernetes keeps it.
 */
export function sparkAppIdOf(app: ObservedSparkApplication, run: RunRef): string {
  const name = app.metadata?.name ?? parseVendorRunId(run.vendorRunId).name;
  return `${name}-${app.status?.currentAttemptSummary?.attemptInfo?.id ?? 0}`;
}

/** How a status shows the live Spark UI: the cluster's template, if it has one (observability/links.ts). */
export interface StatusLinks {
  uiUrlTemplate?: string;
}

/** The `RunStatus` for a SparkApplication as read now. */
export function runStatusOf(
  app: ObservedSparkApplication,
  run: RunRef,
  observedAt: string,
  links: StatusLinks = {},
): RunStatus {
  const current = app.status?.currentState;
  const state = current?.currentStateSummary;
  const appId = sparkAppIdOf(app, run);
  const base = { executionId: run.executionId, attempt: run.attempt, vendorRunId: run.vendorRunId, observedAt, appId };
  if (!state) return { ...base, phase: 'PENDING', backendState: 'NoStatus' };
  if ((FINAL_STATES as readonly string[]).includes(state)) {
    const { phase, via } = finalOutcome(app);
    const backendState = `${state}(${via?.currentStateSummary ?? 'unknown'})`;
    if (phase === 'FAILED') return { ...base, phase, backendState, failure: failureFrom(via, current) };
    return { ...base, phase, backendState };
  }
  if (PENDING_STATES.includes(state)) return { ...base, phase: 'PENDING', backendState: state };
  if (RUNNING_STATES.includes(state)) {
    const { namespace, name } = parseVendorRunId(run.vendorRunId);
    const ui = links.uiUrlTemplate
      ? { sparkUiUrl: expandUiTemplate(links.uiUrlTemplate, { namespace, name, appId }) }
      : {};
    return { ...base, phase: 'RUNNING', backendState: state, ...ui };
  }
  // A stopping state (Succeeded, Failed, timeouts…) or one this version does not know: not final yet.
  return { ...base, phase: 'RUNNING', backendState: state };
}

/** The status of a SparkApplication that no longer exists: its last final state if it had one, else CANCELLED. */
export function deletedRunStatus(
  app: ObservedSparkApplication | undefined,
  run: RunRef,
  observedAt: string,
): RunStatus {
  const state = app?.status?.currentState?.currentStateSummary;
  if (app && state && (FINAL_STATES as readonly string[]).includes(state)) return runStatusOf(app, run, observedAt);
  return { ...run, phase: 'CANCELLED', backendState: 'Deleted', observedAt };
}

/**
 * FAILED with reason `NO_STATUS` when the operator has written no status `statusTimeoutMs` after creation,
 * which almost always means it does not watch the namespace; undefined otherwise.
 */
export function noStatusTimeout(
  app: ObservedSparkApplication,
  run: RunRef,
  now: Date,
  statusTimeoutMs: number,
): RunStatus | undefined {
  if (app.status?.currentState?.currentStateSummary) return undefined;
  const created = app.metadata?.creationTimestamp;
  if (created === undefined) return undefined;
  const ageMs = now.getTime() - new Date(created).getTime();
  if (ageMs < statusTimeoutMs) return undefined;
  const ns = app.metadata?.namespace ?? '?';
  return {
    ...run,
    phase: 'FAILED',
    backendState: 'NoStatus',
    observedAt: now.toISOString(),
    failure: {
      reason: 'NO_STATUS',
      message:
        `the Spark operator wrote no status on SparkApplication ${ns}/${app.metadata?.name ?? '?'} ` +
        `${Math.round(ageMs / 1000)} s after it was created: namespace "${ns}" is probably not watched by the ` +
        `operator (spark.kubernetes.operator.watchedNamespaces), or the operator is down`,
    },
  };
}

/** The RunRef a watched object belongs to, from its labels; undefined if the labels are not ours. */
export function runRefOf(app: ObservedSparkApplication, cluster: string): RunRef | undefined {
  const labels = app.metadata?.labels ?? {};
  const executionId = labels[LABELS.executionId];
  const attempt = Number(labels[LABELS.attempt]);
  const { name, namespace } = app.metadata ?? {};
  if (!executionId || !Number.isInteger(attempt) || !name || !namespace) return undefined;
  return { executionId, attempt, vendorRunId: vendorRunIdOf(cluster, namespace, name) };
}

/** `<cluster>/<namespace>/<name>`: enough to find the object again with no other state. */
export function vendorRunIdOf(cluster: string, namespace: string, name: string): string {
  return `${cluster}/${namespace}/${name}`;
}

export function parseVendorRunId(vendorRunId: string): { cluster: string; namespace: string; name: string } {
  const parts = vendorRunId.split('/');
  const name = parts.pop();
  const namespace = parts.pop();
  const cluster = parts.join('/');
  if (!name || !namespace || !cluster) throw new Error(`not a Kubernetes vendor run id: "${vendorRunId}"`);
  return { cluster, namespace, name };
}
