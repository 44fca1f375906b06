/**
 * The backend contract (DESIGN.md, "The backend contract"). The workflow, the gateway and the tests depend only
 * on this interface; each compute backend (kubernetes, emr, local, sim) implements it.
 *
 * Error contract for implementations (STYLE.md §6):
 * - submit is idempotent per (executionId, attempt): a second call returns the run the first one created and
 *   never starts a second one.
 * - cancel is idempotent and safe on a run that already ended.
 * - Permanent errors (bad input the backend rejects) are thrown as `BackendRejection`; anything else thrown is
 *   treated as transient and retried by the calling activity.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { BackendName } from '../schema/states.js';

export interface SubmitRequest {
  executionId: string;
  attempt: number;
  team: string;
  jobPath: string;
  spec: NormalizedJobSpec;
}

/** Identifies one attempt's run on a backend. */
export interface RunRef {
  executionId: string;
  attempt: number;
  vendorRunId: string;
}

/** What submit returns: the vendor run plus where people can look at it. */
export interface VendorRun extends RunRef {
  backend: BackendName;
  cluster: string;
  namespace?: string;
  sparkUiUrl?: string;
  logsUrl?: string;
}

export interface FailureInfo {
  exitCode?: number;
  reason?: string;
  message?: string;
  /** The last lines of the driver log, used by the AR classifier. */
  logTail?: string;
}

export const RUN_PHASES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

/** One observation of a run, from status() or watch(). */
export interface RunStatus extends RunRef {
  phase: RunPhase;
  /** The backend's own state name, e.g. "RunningHealthy" or "exited(1)". */
  backendState: string;
  /** ISO-8601 time the change was observed. */
  observedAt: string;
  failure?: FailureInfo;
  sparkUiUrl?: string;
}

export interface LogOptions {
  /** Only the last N lines. */
  tail?: number;
}

export interface Backend {
  readonly name: BackendName;
  /** The payload submit would send, without sending it (for `?dryRun=true`). */
  describeSubmission(req: SubmitRequest): unknown;
  submit(req: SubmitRequest): Promise<VendorRun>;
  status(run: RunRef): Promise<RunStatus>;
  cancel(run: RunRef): Promise<void>;
  logs(run: RunRef, options?: LogOptions): Promise<string>;
  /** Streams log text as it is written, until the run ends or the signal aborts. */
  followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string>;
  /** Every status change of every run this backend manages, until the signal aborts. */
  watch(signal: AbortSignal): AsyncIterable<RunStatus>;
}

/** A permanent rejection by a backend: retrying the same request cannot succeed. */
export class BackendRejection extends Error {
  override readonly name = 'BackendRejection';
}

export function isFinalPhase(phase: RunPhase): boolean {
  return phase === 'SUCCEEDED' || phase === 'FAILED' || phase === 'CANCELLED';
}
