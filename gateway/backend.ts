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
  /** The full Spark version the run uses, where the backend knows it (recorded on the execution). */
  sparkVersion?: string;
  /** How a `coreEtl` job is run: the builtin runtime (the jar and main class kept, not used) or its jar. */
  coreEtl?: { runtime: 'builtin' | 'jar'; jarPath: string; mainClass: string; note?: string };
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
  /** The live Spark UI, while the run has one. */
  sparkUiUrl?: string;
  /** The Spark application id once the driver has one: its event log and History Server page are named by it. */
  appId?: string;
  /** What the application reported about its work once it ended (the CoreETL runtime: rows read and written). */
  result?: Record<string, unknown>;
}

export interface LogOptions {
  /** Only the last N lines. */
  tail?: number;
}

/** Why a backend can never run a job as asked, with the field to blame (a 422 at submit). */
export interface Unsupported {
  field: string;
  message: string;
}

/** The submitting side of a backend: it drives runs on the placement it is given. */
export interface Backend {
  readonly name: BackendName;
  /**
   * What this backend cannot run, whatever the placement: a Spark version it lacks, a CoreETL runtime it cannot
   * offer. The gateway asks before it places; undefined (or no method) means it can.
   */
  unsupported?(spec: NormalizedJobSpec): Unsupported | undefined;
  /** The payload submit would send, without sending it (for `?dryRun=true`). */
  describeSubmission(attempt: AttemptRequest, placement: Placement): unknown;
  submit(attempt: AttemptRequest, placement: Placement): Promise<VendorRun>;
  status(run: RunRef): Promise<RunStatus>;
  /**
   * True when a healthy watch forwards every status change of `run` as a signal, so the safety-net poll need not
   * read it (no per-run reads while the watch is healthy). No method, or false: poll with status().
   */
  watched?(run: RunRef): Promise<boolean>;
  cancel(target: CancelTarget): Promise<void>;
  logs(run: RunRef, options?: LogOptions): Promise<string>;
  /** Streams log text as it is written, until the run ends or the signal aborts. */
  followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string>;
  /**
   * The whole driver log as it is now, as a byte stream that is never held whole (what the log archive reads
   * when an attempt ends). A backend without it is archived from `logs()`.
   */
  openLog?(run: RunRef, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** The status-watching side of a backend: every status change of every run it manages. */
export interface StatusSource {
  readonly name: BackendName;
  /** Status changes until the signal aborts. */
  watch(signal: AbortSignal): AsyncIterable<RunStatus>;
  /** One of its changes could not be delivered to its workflow (status-forwarder.ts): stop vouching for signals. */
  undelivered?(status: RunStatus): void;
}

/** A permanent rejection by a backend or the gateway: retrying the same request cannot succeed. */
export class BackendRejection extends Error {
  override readonly name = 'BackendRejection';
  /** `field`: the JSON path of the culprit in the JobSpec, when it is not the backend choice itself. */
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export function isFinalPhase(phase: RunPhase): boolean {
  return phase === 'SUCCEEDED' || phase === 'FAILED' || phase === 'CANCELLED';
}
