/** The API's JSON, as the CLI reads it (the wire contract of /api/v1; see api/views.ts on the server side). */
import type { ExecutionState } from '../schema/states.js';

/** GET /api/v1/jobs/{id}, and each item of GET /api/v1/executions. */
export interface JobStatus {
  job_id: string;
  execution_id: string;
  job_path: string;
  team: string;
  status: ExecutionState;
  attempts: number;
  backend: string | null;
  cluster: string | null;
  vendor_run_id: string | null;
  submit_time: string;
  start_time: string | null;
  end_time: string | null;
  spark_ui_url: string | null;
  logs_url: string;
  error: { class: string; message: string | null } | null;
  resources: unknown;
}

/** POST /api/v1/jobs → 202. */
export interface SubmitAccepted {
  job_id: string;
  execution_id: string;
  job_path: string;
  status: ExecutionState;
  message: string;
}

/** POST /api/v1/jobs?dryRun=true → 200. */
export interface DryRunResult {
  dry_run: true;
  execution_id: string;
  job_path: string;
  /** Null while no backend can take the job; `pending_reason` then says why. */
  backend: string | null;
  placement: { backend: string; cluster: string | null; namespace: string | null; reason: string } | null;
  pending_reason: { code: string; message: string } | null;
  payload: unknown;
}

/** DELETE /api/v1/jobs/{id} → 202. */
export interface CancelAccepted {
  job_id: string;
  execution_id: string;
  status: 'CANCEL_REQUESTED';
}

/** GET /api/v1/executions. */
export interface ExecutionPage {
  items: JobStatus[];
  next_cursor?: string;
}

/** GET /api/v1/executions/{id}/events. */
export interface ExecutionEvents {
  items: {
    event_id: string | number;
    execution_id: string;
    event_type: string;
    attempt: number;
    timestamp: string;
    payload: unknown;
  }[];
}

/** A `team/name` job's schedule as GET /api/v1/manifests/jobs shows it (service/manifests.ts JobView). */
export interface ManifestJobSchedule {
  scheduleId: string;
  /** Absent when the Temporal Schedule exists but its applied config is not recorded. */
  config?: {
    cron?: string;
    everyMs?: number;
    timezone: string;
    overlap: string;
    catchupWindowMs: number;
    jitterMs: number;
  };
  paused: boolean;
  nextRunTime?: string;
}

/** GET /api/v1/manifests/jobs/{team}/{name}, and each item of GET /api/v1/manifests/jobs. */
export interface ManifestJobView {
  jobPath: string;
  team: string;
  owner: string | null;
  jobType: 'batch' | 'streaming';
  /** The normalized JobSpec (memory in MiB, defaults filled in). */
  spec: {
    name: string;
    engineVersion: string;
    application:
      | { type: 'jvm'; mainClass: string; jar: string }
      | { type: 'python'; file: string; pyFiles: string[] }
      | { type: 'coreEtl'; jarPath: string; mainClass: string; jobSpec: Record<string, unknown> };
    args: string[];
    sparkConf: Record<string, string>;
    resources: {
      driver: { cores: number; memoryMb: number };
      executor: { cores: number; memoryMb: number; instances: number };
      dynamicAllocation?: { enabled: boolean; minExecutors: number; maxExecutors: number };
    };
    backend: string;
    retryPolicy: { maxAttempts: number; backoffSeconds: number };
    timeoutSeconds?: number;
    labels: Record<string, string>;
  };
  schedule?: ManifestJobSchedule;
  lastExecution?: {
    executionId: string;
    state: ExecutionState;
    trigger: string;
    createdAt: string;
    endTime: string | null;
    scheduledTime: string | null;
  };
}

/** GET /api/v1/manifests/jobs. */
export interface ManifestJobList {
  items: ManifestJobView[];
}

/** GET /api/v1/jobs/continuous-<team>.<name>, and POST …/stop and …/resume: a streaming job's loop. */
export interface StreamingJobStatus {
  job_type: 'streaming';
  job_id: string;
  job_path: string;
  team: string;
  status: 'STARTING' | 'RUNNING' | 'BACKOFF' | 'DEGRADED' | 'STOPPED';
  spec_version: number;
  running_spec_version: number | null;
  current_execution_id: string | null;
  restart_count: number;
  consecutive_failures: number;
  degraded: boolean;
  last_failure: { executionId?: string; failureClass?: string; message?: string } | null;
  next_restart_at: string | null;
  recent_execution_ids: string[];
}
