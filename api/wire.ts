/**
 * The API's wire shapes, declared once as zod schemas. They type the views the routes build (api/views.ts), they
 * are the responses every route declares (api/route.ts), from which the OpenAPI document is generated, and the CLI
 * reads the API's JSON through their types. Field names are the reference's snake_case, except the legacy manifest
 * and schedule views, which kept their first (camelCase) shape (README: "Where the API differs from the reference").
 */
import { z } from 'zod';
import { PENDING_CODES, BACKENDS, EVENT_TYPES, EXECUTION_STATES, FAILURE_CLASSES, TRIGGERS } from '../schema/states.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import { SparkMetrics } from '../schema/metrics-summary.js';
import type { ScheduleConfig } from '../dcp/schedule.js';
import { SESSION_END_REASONS, SESSION_EVENT_TYPES, SESSION_STATES } from '../schema/session-states.js';
import { JOB_EVENT_TYPES } from '../schema/job-event-types.js';

const time = z.string().describe('ISO-8601 time');
const jobId = z.string().describe('the job: <team>.<name>');
const jobPath = z.string().describe('the job path: <team>/<name>');

/** RFC 9457 problem details; `errors` lists each bad field. */
export const Problem = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z
    .array(
      z.object({
        path: z.string(),
        message: z.string(),
        line: z.number().int().optional().describe('manifest problems: the line in the YAML'),
        column: z.number().int().optional().describe('manifest problems: the column in the YAML'),
      }),
    )
    .optional(),
});

export const PendingReason = z.object({
  code: z.enum(PENDING_CODES),
  message: z.string(),
  since: time.optional(),
});

const Resources = z.custom<NormalizedJobSpec['resources']>().describe('the resources of the current attempt');
const Spec = z.custom<NormalizedJobSpec>().describe('the normalized JobSpec (memory in MiB, defaults filled in)');

/** GET /api/v1/jobs/{executionId}, /api/v1/executions/{id}, and each item of the executions list. */
export const Execution = z.object({
  job_id: jobId,
  execution_id: z.uuid(),
  job_path: jobPath,
  team: z.string(),
  status: z.enum(EXECUTION_STATES),
  trigger: z.enum(TRIGGERS).describe('how it was started'),
  attempts: z.number().int(),
  backend: z.enum(BACKENDS).nullable(),
  cluster: z.string().nullable(),
  vendor_run_id: z.string().nullable(),
  spark_version: z.string().nullable().describe('the Spark version the current attempt runs on, once submitted'),
  submit_time: time,
  start_time: time.nullable(),
  end_time: time.nullable(),
  spark_ui_url: z
    .string()
    .nullable()
    .describe('the live Spark UI while the attempt runs; its History Server page once it has ended (null without one)'),
  logs_url: z.string().describe('absolute: the current attempt’s driver log, live and then archived'),
  vendor_webui: z.string().nullable().describe("the vendor's page for the run (EMR: the console), else the Spark UI"),
  vendor_logs_link: z
    .string()
    .nullable()
    .describe("where the vendor keeps the run's logs (EMR: the S3 prefix), else the attempt's archived log"),
  spark_app_id: z.string().nullable().describe("the current attempt's Spark application id"),
  metrics: SparkMetrics.nullable().describe(
    "the last ended attempt's Spark metrics, from its History Server (METRICS_SUMMARY's spark, schema version 1)",
  ),
  error: z.object({ class: z.enum(FAILURE_CLASSES), message: z.string().nullable() }).nullable(),
  pending_reason: PendingReason.nullable().describe('why a PENDING execution is not at a backend yet'),
  resources: Resources,
  workflow_id: z.string().describe('its Temporal workflow (exec-<execution_id>), for the Temporal UI'),
});

export const ExecutionPage = z.object({
  items: z.array(Execution),
  next_cursor: z.string().optional().describe('absent on the last page'),
});

export const Event = z.object({
  event_id: z.string(),
  execution_id: z.string(),
  event_type: z.enum(EVENT_TYPES),
  attempt: z.number().int(),
  timestamp: time,
  payload: z.record(z.string(), z.unknown()),
});
export const EventList = z.object({ items: z.array(Event) });

export const SubmitAccepted = z.object({
  job_id: jobId,
  execution_id: z.uuid(),
  job_path: jobPath,
  status: z.enum(EXECUTION_STATES).describe('PENDING: accepted, not yet at a backend'),
  message: z.string(),
});

export const Placement = z.object({
  backend: z.enum(BACKENDS),
  cluster: z.string().nullable(),
  namespace: z.string().nullable(),
  reason: z.string(),
});

/** POST /api/v1/jobs?dryRun=true. */
/** APS's decision for one submit (`sizing: recommend|auto`): in SUBMIT events (camelCase) and dry-runs (this). */
export const Sizing = z.object({
  mode: z.enum(['recommend', 'auto']),
  applied: z.boolean().describe('true in auto: the run gets `resources`'),
  requested: z.custom<NormalizedJobSpec['resources']>().describe("the spec's own resources"),
  resources: z.custom<NormalizedJobSpec['resources']>().describe("APS's resources"),
  changes: z.array(z.string()).describe('one line per changed field, with its reason'),
  confidence: z.number().min(0).max(1),
  samples: z.number().int().describe('finished executions APS read'),
});

const Advice = <T extends z.ZodType>(value: T) =>
  z.object({ value, requested: value, reason: z.string().describe('the rule that decided it (runner/aps.ts)') });

/**
 * APS's recommendation for a job's next run (GET /api/v1/jobs/{id}/recommendation). A stable contract: the MCP
 * server's `get_recommendation` returns it as is.
 */
export const Recommendation = z.object({
  job_id: jobId,
  job_path: jobPath,
  sizing: z.enum(['manual', 'recommend', 'auto']).describe("the job's sizing mode"),
  confidence: z.number().min(0).max(1).describe('min(1, measured successful runs / 10)'),
  samples: z.number().int().describe('finished executions read (at most APS_HISTORY_LIMIT, within APS_HISTORY_DAYS)'),
  measured: z.number().int().describe('of which succeeded with Spark metrics'),
  driver_memory_mb: Advice(z.number().int()),
  driver_cores: Advice(z.number().int()),
  executor_memory_mb: Advice(z.number().int()),
  executor_cores: Advice(z.number().int()),
  executor_instances: Advice(z.number().int()),
  dynamic_allocation: Advice(z.object({ min_executors: z.number().int(), max_executors: z.number().int() })).nullable(),
  resources: z.custom<NormalizedJobSpec['resources']>().describe('the recommendation in the JobSpec shape (MiB)'),
});

export const DryRun = z.object({
  dry_run: z.literal(true),
  execution_id: z.uuid().describe("the submit's execution id when an Idempotency-Key is given"),
  job_path: jobPath,
  backend: z.enum(BACKENDS).nullable().describe('null while no backend can take the job'),
  placement: Placement.nullable(),
  pending_reason: PendingReason.nullable(),
  spec: Spec,
  sizing: Sizing.nullable().describe("APS's decision; null in `sizing: manual`"),
  payload: z.unknown().describe('what the backend would be sent'),
});

export const CancelAccepted = z.object({
  job_id: jobId,
  execution_id: z.uuid(),
  status: z.literal('CANCEL_REQUESTED'),
});

/** A streaming job's continuous-job loop (GET /api/v1/jobs/continuous-<team>.<name>, stop, resume). */
export const StreamingJob = z.object({
  job_id: z.string().describe('the id it was addressed by'),
  job_path: jobPath,
  team: z.string(),
  job_type: z.literal('streaming'),
  status: z.enum(['STARTING', 'RUNNING', 'BACKOFF', 'DEGRADED', 'STOPPED']),
  spec_version: z.number().int(),
  running_spec_version: z.number().int().nullable(),
  current_execution_id: z.string().nullable(),
  restart_count: z.number().int(),
  consecutive_failures: z.number().int(),
  last_failure: z
    .object({
      executionId: z.string(),
      state: z.string(),
      failureClass: z.enum(FAILURE_CLASSES).optional(),
      message: z.string().optional(),
      at: time,
    })
    .nullable(),
  degraded: z.boolean(),
  next_restart_at: time.nullable(),
  recent_execution_ids: z.array(z.string()),
  last_sample: z
    .object({
      input_rows_per_second: z.number(),
      processed_rows_per_second: z.number(),
      batch_duration_ms: z.number(),
      at: time,
    })
    .nullable()
    .optional()
    .describe("DCR's last streaming-progress sample of the live run (null before the first)"),
  lagging_samples: z.number().int().optional().describe('DCR: samples in a row whose processing rate lagged'),
});

/** One job-level event (job_events): a streaming job's loop transition or progress sample. */
export const JobEvent = z.object({
  seq: z.number().int().describe('append order; page with ?after=<seq>'),
  event_id: z.string(),
  job_path: jobPath,
  event_type: z.enum(JOB_EVENT_TYPES),
  execution_id: z.string().nullable().describe('the run it is about'),
  spec_version: z.number().int().nullable(),
  timestamp: time,
  payload: z.record(z.string(), z.unknown()),
});
export const JobEventList = z.object({
  items: z.array(JobEvent),
  next_after: z.number().int().optional().describe('absent on the last page: pass as ?after= for the next'),
});

const ScheduleConfigShape = z
  .custom<ScheduleConfig>()
  .describe('the schedule as applied (cron or every, timezone, overlap, …)');

/** A job as its manifest view shows it (legacy camelCase: GET /api/v1/manifests/jobs[/{team}/{name}]). */
export const ManifestJob = z.object({
  jobPath,
  team: z.string(),
  owner: z.string().nullable(),
  jobType: z.enum(['batch', 'streaming']),
  spec: Spec,
  schedule: z
    .object({
      scheduleId: z.string(),
      config: ScheduleConfigShape.optional(),
      paused: z.boolean(),
      nextRunTime: time.optional(),
    })
    .optional(),
  lastExecution: z
    .object({
      executionId: z.string(),
      state: z.enum(EXECUTION_STATES),
      trigger: z.enum(TRIGGERS),
      createdAt: time,
      endTime: time.nullable(),
      scheduledTime: time.nullable(),
    })
    .optional(),
});
export const ManifestJobList = z.object({ items: z.array(ManifestJob) });

/** GET /api/v1/jobs/{team}.{name}: the job itself, with the reference's status fields of its latest execution. */
export const Job = z.object({
  job_id: jobId,
  job_path: jobPath,
  team: z.string(),
  name: z.string(),
  job_type: z.enum(['batch', 'streaming']),
  owner: z.string().nullable(),
  spec: Spec,
  schedule: ManifestJob.shape.schedule.unwrap().nullable(),
  streaming: StreamingJob.nullable().describe(
    "a streaming job's loop; null for batch jobs, and for a streaming job with no loop (never deployed, or past retention)",
  ),
  last_execution: Execution.nullable(),
  execution_id: z.uuid().nullable().describe('the latest execution (the reference: its status fields follow)'),
  status: z.enum(EXECUTION_STATES).nullable(),
  start_time: time.nullable(),
  spark_ui_url: z.string().nullable(),
  logs_url: z.string().nullable(),
});

const JobPlan = z.object({
  jobPath,
  jobType: z.enum(['batch', 'streaming']),
  scheduleId: z.string().optional(),
  action: z.enum(['create', 'update', 'unchanged']),
  changes: z.array(z.object({ field: z.string(), from: z.unknown(), to: z.unknown() })),
});
const PoolPlan = z.object({
  pool: z.string().describe('<team>.<name>'),
  team: z.string(),
  action: z.enum(['create', 'update', 'unchanged']),
  changes: z.array(z.object({ field: z.string(), from: z.unknown(), to: z.unknown() })),
});
export const ManifestApplied = z.object({
  dry_run: z.boolean(),
  changed: z.boolean(),
  jobs: z.array(JobPlan),
  pools: z.array(PoolPlan).optional().describe('the kind: SessionPool documents, when the manifest has any'),
});
export const ManifestDeleted = z.object({
  jobs: z.array(z.object({ jobPath, scheduleDeleted: z.boolean(), continuousStopped: z.boolean() })),
  pools: z.array(z.object({ pool: z.string(), deleted: z.boolean() })).optional(),
});

/** A Temporal Schedule of a manifest job (legacy camelCase). */
export const Schedule = z.object({
  scheduleId: z.string(),
  jobPath,
  team: z.string(),
  schedule: ScheduleConfigShape.optional(),
  paused: z.boolean(),
  note: z.string().optional(),
  nextRunTimes: z.array(time),
  recentRuns: z.array(
    z.object({
      scheduledAt: time,
      takenAt: time,
      workflowId: z.string(),
      executionId: z.string().optional(),
      state: z.enum(EXECUTION_STATES).optional(),
    }),
  ),
  runningWorkflowIds: z.array(z.string()),
  numActionsTaken: z.number().int(),
  numActionsSkippedOverlap: z.number().int(),
  numActionsMissedCatchupWindow: z.number().int(),
});
export const ScheduleSummary = z.object({
  scheduleId: z.string(),
  jobPath,
  paused: z.boolean(),
  nextRunTimes: z.array(time),
});
export const ScheduleList = z.object({ items: z.array(ScheduleSummary) });
export const ScheduleTriggered = z.object({ schedule_id: z.string(), triggered: z.literal(true) });
export const BackfillAccepted = z.object({ schedule_id: z.string(), backfill: z.object({ start: time, end: time }) });

/** GET /api/v1/me: who the bearer token belongs to. */
export const Principal = z.object({
  name: z.string(),
  team: z.string().describe('the team of a member; * for an admin'),
  role: z.enum(['member', 'admin']).describe('a member sees only its team; an admin sees every team'),
});

const Check = z.union([
  z.object({ status: z.literal('up') }),
  z.object({ status: z.literal('down'), error: z.string() }),
  z.object({ status: z.literal('disabled') }),
]);
export const Health = z.object({
  status: z.enum(['up', 'down']),
  components: z.object({ temporal: Check, postgres: Check, spark: Check }),
});

export type Execution = z.infer<typeof Execution>;
export type ExecutionPage = z.infer<typeof ExecutionPage>;
export type Event = z.infer<typeof Event>;
export type EventList = z.infer<typeof EventList>;
export type SubmitAccepted = z.infer<typeof SubmitAccepted>;
export type DryRun = z.infer<typeof DryRun>;
export type Recommendation = z.infer<typeof Recommendation>;
export type CancelAccepted = z.infer<typeof CancelAccepted>;
export type StreamingJob = z.infer<typeof StreamingJob>;
export type ManifestJob = z.infer<typeof ManifestJob>;
export type ManifestJobList = z.infer<typeof ManifestJobList>;
export type ManifestApplied = z.infer<typeof ManifestApplied>;
export type Job = z.infer<typeof Job>;
export type Schedule = z.infer<typeof Schedule>;
export type ScheduleList = z.infer<typeof ScheduleList>;
export type Principal = z.infer<typeof Principal>;

/** An interactive Spark Connect session (GET /api/v1/sessions/{id}, and each item of the list). */
export const Session = z.object({
  session_id: z.uuid(),
  team: z.string(),
  owner: z.string().nullable(),
  state: z.enum(SESSION_STATES).describe('READY and IDLE accept RPCs; ENDED says why in ended_reason'),
  spark_version: z.string(),
  pool: z.string().nullable().describe('the warm pool it leased from or asked for; null: a cold start'),
  idle_timeout_s: z.number().int(),
  max_lifetime_s: z.number().int(),
  created_at: time,
  ready_at: time.nullable(),
  expires_at: time.describe('the end of its maximum lifetime'),
  last_activity_at: time.nullable().describe('the last RPC the proxy saw open'),
  ended_at: time.nullable(),
  ended_reason: z.enum(SESSION_END_REASONS).nullable(),
  ended_message: z.string().nullable(),
  workflow_id: z.string().describe('its Temporal workflow (session-<session_id>)'),
});

/** POST /api/v1/sessions: the session, and the only copy of its token, inside `connect_url`. */
export const SessionCreated = Session.extend({
  connect_url: z
    .string()
    .describe(
      'sc://<host>:<port>/;token=<session token>;x-spark-runner-session=<id>: give it to SparkSession.builder.remote()',
    ),
});

export const SessionList = z.object({ items: z.array(Session) });

export const SessionEvent = z.object({
  event_type: z.enum(SESSION_EVENT_TYPES),
  timestamp: time,
  payload: z.record(z.string(), z.unknown()),
});
export const SessionEventList = z.object({ items: z.array(SessionEvent) });

export type Session = z.infer<typeof Session>;
export type SessionCreated = z.infer<typeof SessionCreated>;
export type SessionList = z.infer<typeof SessionList>;
export type SessionEventList = z.infer<typeof SessionEventList>;
