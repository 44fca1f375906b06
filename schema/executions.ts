import { index, integer, jsonb, pgTable, text, timestamp, uuid } from 'drizzle-orm/pg-core';
import { executionStateEnum } from './enums.js';
import type { NormalizedJobSpec } from './job-spec.js';
import type { SparkMetrics } from './metrics-summary.js';
import type { BackendName, FailureClass, PendingReason, Trigger } from './states.js';

/**
 * One row per execution: the reference's Taulu Execution message plus attempt, placement, resources, failure
 * and Temporal ids. The row is a snapshot; its history is in execution_events.
 */
export const executions = pgTable(
  'executions',
  {
    executionId: uuid('execution_id').primaryKey(),
    jobPath: text('job_path').notNull(),
    team: text('team').notNull(),
    owner: text('owner'),
    trigger: text('trigger').$type<Trigger>().notNull(),
    state: executionStateEnum('state').notNull().default('PENDING'),
    attempt: integer('attempt').notNull().default(0),
    /** The backend the gateway chose (`vendor` in the reference). */
    backend: text('backend').$type<BackendName>(),
    cluster: text('cluster'),
    namespace: text('namespace'),
    vendorRunId: text('vendor_run_id'),
    vendorWebui: text('vendor_webui'),
    vendorLogsLink: text('vendor_logs_link'),
    /** The full Spark version the current attempt runs on, as its backend reported it at submit. */
    sparkVersion: text('spark_version'),
    /** The Spark UI: the live one while the attempt runs, its History Server page once it has ended (or null). */
    sparkUiUrl: text('spark_ui_url'),
    /** The current attempt's Spark application id (its event log and History Server page). */
    sparkAppId: text('spark_app_id'),
    /** The last attempt's Spark metrics (METRICS_SUMMARY's `spark`, schema/metrics-summary.ts). */
    metrics: jsonb('metrics').$type<SparkMetrics>(),
    spec: jsonb('spec').$type<NormalizedJobSpec>().notNull(),
    /** Resources of the current attempt; an OOM retry raises them. */
    resources: jsonb('resources').$type<NormalizedJobSpec['resources']>().notNull(),
    idempotencyKey: text('idempotency_key'),
    /** sha256 of the canonical request; a repeated idempotency key with another body is a conflict. */
    requestHash: text('request_hash').notNull(),
    failureClass: text('failure_class').$type<FailureClass>(),
    failureMessage: text('failure_message'),
    workflowId: text('workflow_id').notNull(),
    runId: text('run_id'),
    scheduledTime: timestamp('scheduled_time', { withTimezone: true }),
    /** Why a PENDING execution is not at a backend yet (`{code, message}`); null once submitted. */
    pendingReason: jsonb('pending_reason').$type<PendingReason>(),
    /** When the team's concurrency limit let this execution through to a backend (null while queued). */
    admittedAt: timestamp('admitted_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    submittedAt: timestamp('submitted_at', { withTimezone: true }),
    startTime: timestamp('start_time', { withTimezone: true }),
    endTime: timestamp('end_time', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    index('executions_team_created_idx').on(t.team, t.createdAt.desc()),
    index('executions_state_idx').on(t.state, t.createdAt.desc()),
    index('executions_job_created_idx').on(t.jobPath, t.createdAt.desc()),
    index('executions_created_idx').on(t.createdAt.desc()),
  ],
);
