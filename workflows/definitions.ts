/**
 * Messages of the execution workflow, shared by the workflow, the worker's status forwarder, the API and tests.
 * Pure: safe to import both inside the workflow sandbox and in Node.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Placement, RunStatus, VendorRun } from '../gateway/backend.js';
import type { SizingDecision } from '../runner/aps.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { ExecutionState, FailureClass, Trigger } from '../schema/states.js';

export interface ExecutionInput {
  executionId: string;
  team: string;
  jobPath: string;
  owner?: string;
  trigger: Trigger;
  spec: NormalizedJobSpec;
  requestHash: string;
  idempotencyKey?: string;
  /** For scheduled runs: the time the schedule meant this run for. */
  scheduledTime?: string;
  /** The team's concurrency limit when one applies: the execution queues until a slot is free. */
  teamLimit?: number;
}

/** Worker-side settings the workflow needs; returned by the first activity so replays see the same values. */
/** The safety-net poll's answer: the run's status as read, or that a healthy watch forwards its changes. */
export type PolledStatus = RunStatus | { watched: true };

export interface WorkflowSettings {
  pollIntervalMs: number;
  /**
   * The safety-net check's interval while the run's watch is healthy (it then reads nothing from the backend).
   * Absent in histories from before it existed: pollIntervalMs.
   */
  watchedPollIntervalMs?: number;
  oomMemoryFactor: number;
  maxMemoryMb: number;
  maxBackoffMs: number;
  teamQueuePollMs: number;
  /** How long an attempt may wait for a backend to take it before the execution ends FAILED/INFRA. */
  noBackendTimeoutMs: number;
  /** How long a running attempt's backend may stay unreachable before the attempt ends INFRA. */
  unreachableTimeoutMs: number;
  /** How often an attempt that no backend can take is placed again. */
  placementRetryMs: number;
  /** APS's decision for this execution (`sizing: recommend|auto`), made once by the first activity. */
  sizing?: SizingDecision;
}

export interface ExecutionSnapshot {
  executionId: string;
  state: ExecutionState;
  attempt: number;
  backend?: string;
  placement?: Placement;
  vendorRunId?: string;
  sparkUiUrl?: string;
  resources: NormalizedJobSpec['resources'];
  failureClass?: FailureClass;
  failureMessage?: string;
  cancelRequested: boolean;
}

export interface CancelRequest {
  reason?: string;
  requestedBy?: string;
}

export interface ExecutionResult {
  state: ExecutionState;
  attempts: number;
  failureClass?: FailureClass;
  failureMessage?: string;
  run?: VendorRun;
}

/** The execution workflow's signature, for typed client handles. */
export type ExecutionWorkflow = (input: ExecutionInput) => Promise<ExecutionResult>;

/** A status observation pushed by a backend's watch(); ignored unless it is about the current attempt. */
export const statusSignal = defineSignal<[RunStatus]>('status');
/** Check: the workflow's live view (the store holds the durable one). */
export const checkQuery = defineQuery<ExecutionSnapshot>('check');
/** Cancel: rejected by its validator once the execution has finished; resolves with the final state. */
export const cancelUpdate = defineUpdate<ExecutionState, [CancelRequest]>('cancel');

export const EXECUTION_WORKFLOW = 'executionWorkflow';

/** What the reaper stops: an attempt given up on while its backend may still run it. */
export interface ReapInput {
  executionId: string;
  attempt: number;
  vendorRunId?: string;
  reason: string;
  requestedBy?: string;
}
