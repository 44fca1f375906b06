import type { DryRun } from '../service/submit.js';
import type { EventRow, ExecutionRow } from '../store/executions.js';

/** GET /api/v1/jobs/{id}: the reference's status shape, plus attempts, placement and the error if any. */
export function jobStatusView(row: ExecutionRow) {
  return {
    job_id: row.executionId,
    execution_id: row.executionId,
    job_path: row.jobPath,
    team: row.team,
    status: row.state,
    attempts: row.attempt,
    backend: row.backend,
    cluster: row.cluster,
    vendor_run_id: row.vendorRunId,
    submit_time: row.createdAt.toISOString(),
    start_time: row.startTime?.toISOString() ?? null,
    end_time: row.endTime?.toISOString() ?? null,
    spark_ui_url: row.vendorWebui,
    logs_url: `/api/v1/jobs/${row.executionId}/logs`,
    error: row.failureClass ? { class: row.failureClass, message: row.failureMessage } : null,
    pending_reason: row.state === 'PENDING' && row.pendingReason ? row.pendingReason : null,
    resources: row.resources,
  };
}

/** POST /api/v1/jobs?dryRun=true: the placement a submit would get now, with its reason, and its payload. */
export function dryRunView(dry: DryRun) {
  const placed = dry.decision.kind === 'placed' ? dry.decision.placement : undefined;
  return {
    dry_run: true,
    execution_id: dry.executionId,
    job_path: dry.jobPath,
    backend: placed?.backend ?? null,
    placement: placed
      ? {
          backend: placed.backend,
          cluster: placed.cluster ?? null,
          namespace: placed.namespace ?? null,
          reason: placed.reason,
        }
      : null,
    pending_reason: dry.decision.kind === 'unavailable' ? { code: 'NO_BACKEND', message: dry.decision.reason } : null,
    spec: dry.spec,
    payload: dry.payload ?? null,
  };
}

export function eventView(row: EventRow) {
  return {
    event_id: row.eventId,
    execution_id: row.executionId,
    event_type: row.eventType,
    attempt: row.attempt,
    timestamp: row.timestamp.toISOString(),
    payload: row.payload,
  };
}
