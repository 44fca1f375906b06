/**
 * Rows and service results turned into the wire shapes of api/wire.ts; the schemas type every view, so a field
 * the document promises cannot go missing here.
 */
import type { z } from 'zod';
import type { Recommendation } from '../runner/aps.js';
import type { DryRun as DryRunResult } from '../service/submit.js';
import type { JobOverview, JobView } from '../service/manifests.js';
import { jobIdOf, teamOfJobPath } from '../schema/vocabulary.js';
import type { EventRow, ExecutionRow } from '../store/executions.js';
import type { JobEventRow } from '../store/job-events.js';
import type { SessionEventRow, SessionRow } from '../store/sessions.js';
import type { ContinuousState } from '../workflows/continuous-definitions.js';
import { executionLogsUrl } from '../observability/links.js';
import type * as wire from './wire.js';

type In<S extends z.ZodType> = z.input<S>;

/**
 * GET /api/v1/jobs/{executionId}: the reference's status shape, plus attempts, placement, links and the error if
 * any. `apiUrl` is this API's public base (API_PUBLIC_URL), which makes the links absolute.
 */
export function executionView(row: ExecutionRow, apiUrl: string): In<typeof wire.Execution> {
  return {
    job_id: jobIdOf(row.jobPath),
    execution_id: row.executionId,
    job_path: row.jobPath,
    team: row.team,
    status: row.state,
    trigger: row.trigger,
    attempts: row.attempt,
    backend: row.backend,
    cluster: row.cluster,
    vendor_run_id: row.vendorRunId,
    spark_version: row.sparkVersion,
    submit_time: row.createdAt.toISOString(),
    start_time: row.startTime?.toISOString() ?? null,
    end_time: row.endTime?.toISOString() ?? null,
    spark_ui_url: row.sparkUiUrl,
    logs_url: executionLogsUrl(apiUrl, row.executionId),
    vendor_webui: row.vendorWebui,
    vendor_logs_link: row.vendorLogsLink,
    spark_app_id: row.sparkAppId,
    metrics: row.metrics,
    error: row.failureClass ? { class: row.failureClass, message: row.failureMessage } : null,
    pending_reason: row.state === 'PENDING' && row.pendingReason ? row.pendingReason : null,
    resources: row.resources,
    workflow_id: row.workflowId,
  };
}

export function eventView(row: EventRow): In<typeof wire.Event> {
  return {
    event_id: row.eventId,
    execution_id: row.executionId,
    event_type: row.eventType,
    attempt: row.attempt,
    timestamp: row.timestamp.toISOString(),
    payload: row.payload,
  };
}

/** POST /api/v1/jobs?dryRun=true: the placement a submit would get now, with its reason, and its payload. */
export function dryRunView(dry: DryRunResult): In<typeof wire.DryRun> {
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
    sizing: dry.sizing ?? null,
    payload: dry.payload ?? null,
  };
}

/** APS's recommendation for a job, on the wire (wire.Recommendation). */
export function recommendationView(
  jobPath: string,
  sizing: 'manual' | 'recommend' | 'auto',
  rec: Recommendation,
): In<typeof wire.Recommendation> {
  const da = rec.dynamicAllocation;
  const bounds = (b: { minExecutors: number; maxExecutors: number }) => ({
    min_executors: b.minExecutors,
    max_executors: b.maxExecutors,
  });
  return {
    job_id: jobIdOf(jobPath),
    job_path: jobPath,
    sizing,
    confidence: rec.confidence,
    samples: rec.samples,
    measured: rec.measured,
    driver_memory_mb: rec.driverMemoryMb,
    driver_cores: rec.driverCores,
    executor_memory_mb: rec.executorMemoryMb,
    executor_cores: rec.executorCores,
    executor_instances: rec.executorInstances,
    dynamic_allocation: da ? { value: bounds(da.value), requested: bounds(da.requested), reason: da.reason } : null,
    resources: rec.resources,
  };
}

/** A streaming job's loop, under the id it was addressed by. */
export function streamingView(id: string, state: ContinuousState): In<typeof wire.StreamingJob> {
  return {
    job_id: id,
    job_path: state.jobPath,
    team: teamOfJobPath(state.jobPath),
    job_type: 'streaming',
    status: state.status,
    spec_version: state.specVersion,
    running_spec_version: state.runningSpecVersion ?? null,
    current_execution_id: state.currentExecutionId ?? null,
    restart_count: state.restartCount,
    consecutive_failures: state.consecutiveFailures,
    last_failure: state.lastFailure ?? null,
    degraded: state.degraded,
    next_restart_at: state.nextRestartAt ?? null,
    recent_execution_ids: state.executionIds,
    ...(state.dcr
      ? {
          last_sample: state.lastSample
            ? {
                input_rows_per_second: state.lastSample.inputRowsPerSecond,
                processed_rows_per_second: state.lastSample.processedRowsPerSecond,
                batch_duration_ms: state.lastSample.batchDurationMs,
                at: state.lastSample.at,
              }
            : null,
          lagging_samples: state.dcr.lagging,
        }
      : {}),
  };
}

/** A job event row on the wire. */
export function jobEventView(row: JobEventRow): In<typeof wire.JobEvent> {
  return {
    seq: row.seq,
    event_id: row.eventId,
    job_path: row.jobPath,
    event_type: row.eventType,
    execution_id: row.executionId,
    spec_version: row.specVersion,
    timestamp: row.timestamp.toISOString(),
    payload: row.payload,
  };
}

/** The manifest view of a job (legacy camelCase). */
export function manifestJobView(view: JobView): In<typeof wire.ManifestJob> {
  const { lastExecution: e, ...rest } = view;
  return {
    ...rest,
    ...(e
      ? {
          lastExecution: {
            ...e,
            createdAt: e.createdAt.toISOString(),
            endTime: e.endTime?.toISOString() ?? null,
            scheduledTime: e.scheduledTime?.toISOString() ?? null,
          },
        }
      : {}),
  };
}

/** GET /api/v1/jobs/{team}.{name}: the job, its schedule or loop, and its latest execution. */
export function jobView(job: JobOverview, apiUrl: string): In<typeof wire.Job> {
  const last = job.lastExecution ? executionView(job.lastExecution, apiUrl) : null;
  const view = manifestJobView(job.view);
  return {
    job_id: jobIdOf(job.view.jobPath),
    job_path: job.view.jobPath,
    team: job.view.team,
    name: job.view.spec.name,
    job_type: job.view.jobType,
    owner: job.view.owner,
    spec: job.view.spec,
    schedule: view.schedule ?? null,
    streaming: job.continuous ? streamingView(jobIdOf(job.view.jobPath), job.continuous) : null,
    last_execution: last,
    execution_id: last?.execution_id ?? null,
    status: last?.status ?? null,
    start_time: last?.start_time ?? null,
    spark_ui_url: last?.spark_ui_url ?? null,
    logs_url: last?.logs_url ?? null,
  };
}

/** A session as GET /api/v1/sessions/{id} shows it; its token is never in a row, so never in a view. */
export function sessionView(row: SessionRow): In<typeof wire.Session> {
  const iso = (d: Date | null) => d?.toISOString() ?? null;
  return {
    session_id: row.sessionId,
    team: row.team,
    owner: row.owner,
    state: row.state,
    spark_version: row.sparkVersion,
    pool: row.pool,
    idle_timeout_s: row.idleTimeoutS,
    max_lifetime_s: row.maxLifetimeS,
    created_at: row.createdAt.toISOString(),
    ready_at: iso(row.readyAt),
    expires_at: row.expiresAt.toISOString(),
    last_activity_at: iso(row.lastActivityAt),
    ended_at: iso(row.endedAt),
    ended_reason: row.endedReason,
    ended_message: row.endedMessage,
    workflow_id: row.workflowId,
  };
}

export function sessionEventView(row: SessionEventRow): In<typeof wire.SessionEvent> {
  return { event_type: row.eventType, timestamp: row.timestamp.toISOString(), payload: row.payload };
}
