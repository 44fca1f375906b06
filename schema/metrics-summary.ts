/**
 * The METRICS_SUMMARY event's payload, a versioned contract: APS (issue 18) sizes jobs from it, and the README
 * ("After the run") documents it field by field. A change that renames, drops or re-means a field bumps
 * `schema_version`; adding a field does not.
 *
 * The Spark numbers are real: read at the end of each attempt from the History Server's REST API
 * (`/applications/<id>`, `/stages`, `/allexecutors`; observability/history-server.ts), never parsed from a log.
 */
import { z } from 'zod';

export const METRICS_SCHEMA_VERSION = 1;

const count = z.number().int().min(0);

/** One Spark application's metrics (one attempt), all snake_case, bytes in bytes and times in milliseconds. */
export const SparkMetrics = z.object({
  app_id: z.string().describe('the Spark application id, as the History Server knows it'),
  attempt: count.describe("the execution's attempt this application ran as"),
  duration_ms: count.describe("the application's wall time, SparkContext start to stop"),
  executor_count: count.describe('executors that were added (local mode: the driver, which runs the tasks)'),
  total_executor_memory_bytes: count.describe("sum over those executors of Spark's unified memory (maxMemory)"),
  peak_executor_memory_bytes: count.describe(
    'largest peak of unified memory used (execution + storage) on one executor',
  ),
  peak_jvm_heap_bytes: count.describe('largest peak JVM heap on one executor'),
  stage_count: count,
  failed_stage_count: count,
  task_count: count.describe('tasks that ran to an end: completed + failed + killed, over every stage attempt'),
  failed_task_count: count,
  killed_task_count: count,
  executor_run_time_ms: count.describe('sum of task run times'),
  executor_cpu_time_ms: count.describe('sum of task CPU times'),
  gc_time_ms: count.describe('sum of task JVM GC times'),
  shuffle_read_bytes: count,
  shuffle_read_records: count,
  shuffle_write_bytes: count,
  shuffle_write_records: count,
  memory_spill_bytes: count.describe('bytes spilled, as their in-memory size'),
  disk_spill_bytes: count.describe('bytes spilled, as written to disk'),
  input_bytes: count,
  input_records: count,
  output_bytes: count,
  output_records: count,
});
export type SparkMetrics = z.infer<typeof SparkMetrics>;

/** METRICS_SUMMARY, schema version 1: one per execution, written when it finishes. */
export interface MetricsSummaryV1 {
  schema_version: typeof METRICS_SCHEMA_VERSION;
  /** Submit to finish, across attempts and backoffs. */
  duration_ms: number;
  attempts: number;
  backend: string | null;
  /** The last attempt's resources, in the JobSpec's own (camelCase, MiB) shape. */
  resources: unknown;
  /** The last attempt's Spark metrics; null when they could not be read (`spark_unavailable` says why). */
  spark: SparkMetrics | null;
  spark_unavailable: string | null;
  /** Every attempt's metrics that could be read, oldest first (the last one is `spark`). */
  spark_attempts: SparkMetrics[];
}
