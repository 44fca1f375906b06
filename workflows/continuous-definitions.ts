/**
 * Messages and types of the continuous-job workflow (workflows/continuous-job.ts), shared with the API, the
 * services and tests. Pure: safe to import both inside the workflow sandbox and in Node, so no Node process
 * imports the workflow module itself.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { DcrState, ProgressSample } from '../runner/dcr.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { FailureClass } from '../schema/states.js';

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
  /** DCR's policy state (runner/dcr.ts): the lag streak and the last policy-driven resize. */
  dcr?: DcrState;
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
  /** The live run's last streaming-progress sample (DCR's input), and when it was taken (ISO). */
  lastSample?: ProgressSample & { at: string };
  /** DCR's lag streak (samples in a row below the lag ratio) and its last policy-driven resize (ISO). */
  dcr?: { lagging: number; lastResizeAt?: string };
}

export interface SpecUpdate {
  spec: NormalizedJobSpec;
  /** Must exceed the current version; when absent, current + 1. */
  version?: number;
  /** `resize` when only the resources change (DCR by REST): the loop records RESIZED rather than REDEPLOYED. */
  cause?: 'redeploy' | 'resize';
  /** Why, for the loop's event. */
  reason?: string;
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

/** The wait before the next restart after `consecutiveFailures` failures in a row (counted from 1). */
export function backoffDelayMs(settings: ContinuousSettings, consecutiveFailures: number): number {
  const ms = settings.backoffBaseMs * 2 ** Math.max(0, consecutiveFailures - 1);
  return Math.max(1, Math.min(settings.backoffMaxMs, ms));
}
