/**
 * The backend contract (DESIGN.md, "The backend contract"). The workflow, the gateway and the tests depend only
 * on these interfaces; each compute backend (kubernetes, emr, local, sim) implements them.
 *
 * The gateway decides where an attempt runs (`Placement`) and records it; a backend only drives what it was
 * placed on. Its submitting side (`Backend`) and its status-watching side (`StatusSource`) are separate objects,
 * so a process builds only what its role needs: the API describes payloads and reads logs, the worker submits,
 * the watcher watches.
 *
 * Error contract for implementations (STYLE.md §6):
 * - submit is idempotent per (executionId, attempt): a second call returns the run the first one created and
 *   never starts a second one, even when the first call died before it returned.
 * - cancel is idempotent, safe on a run that already ended, and safe on an attempt whose submit may never have
 *   happened (it finds the run from the attempt and its placement when `vendorRunId` is unknown).
 * - Permanent errors (bad input the backend rejects) are thrown as `BackendRejection`; anything else thrown is
 *   treated as transient and retried by the calling activity.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { BackendName } from '../schema/states.js';

/** One attempt of an execution, as the gateway and the backends see it. */
export interface AttemptRequest {
  executionId: string;
  attempt: number;
  team: string;
  jobPath: string;
  /** The spec with this attempt's resources (an OOM retry raises them). */
  spec: NormalizedJobSpec;
}

/** Where the gateway placed an attempt: decided once per attempt and recorded, so a retried submit never moves. */
export interface Placement {
  backend: BackendName;
  /** The Kubernetes cluster's name, the EMR virtual cluster id, or `local` / `sim`. */
  cluster?: string;
  /** The team's namespace, `sjns-<domain>`, on Kubernetes. */
  namespace?: string;
  /** Why the gateway chose it, for people: shown in dry-runs, SUBMIT events and `placements`. */
  reason: string;
}

/** Identifies one attempt's run on a backend. */
export interface RunRef {
  executionId: string;
  attempt: number;
  vendorRunId: string;
}

/** What cancel needs: the attempt and its placement, plus the run id when submit returned one. */
export interface CancelTarget {
  executionId: string;
  attempt: number;
  placement: Placement;
  vendorRunId?: string;
}

/** What submit returns: the vendor run plus where people can look at it. */
export interface VendorRun extends RunRef {
  backend: BackendName;
  cluster: string;
  namespace?: string;
  /** The vendor's own UI for the run (`vendor_webui`). */
  sparkUiUrl?: string;
  /** Where the vendor keeps the run's logs (`vendor_logs_link`). */
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

/** The submitting side of a backend: it drives runs on the placement it is given. */
export interface Backend {
  readonly name: BackendName;
  /** The payload submit would send, without sending it (for `?dryRun=true`). */
  describeSubmission(attempt: AttemptRequest, placement: Placement): unknown;
  submit(attempt: AttemptRequest, placement: Placement): Promise<VendorRun>;
  status(run: RunRef): Promise<RunStatus>;
  cancel(target: CancelTarget): Promise<void>;
  logs(run: RunRef, options?: LogOptions): Promise<string>;
  /** Streams log text as it is written, until the run ends or the signal aborts. */
  followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string>;
}

/** The status-watching side of a backend: every status change of every run it manages. */
export interface StatusSource {
  readonly name: BackendName;
  /** Status changes until the signal aborts. */
  watch(signal: AbortSignal): AsyncIterable<RunStatus>;
}

/** A permanent rejection by a backend or the gateway: retrying the same request cannot succeed. */
export class BackendRejection extends Error {
  override readonly name = 'BackendRejection';
}

export function isFinalPhase(phase: RunPhase): boolean {
  return phase === 'SUCCEEDED' || phase === 'FAILED' || phase === 'CANCELLED';
}
