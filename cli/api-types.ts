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
  backend: string;
  job_path?: string;
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
