/**
 * The Spark History Server, read over its REST API at the end of an attempt
 * (https://spark.apache.org/docs/latest/monitoring.html#rest-api). The driver's own UI and REST API are gone by
 * then, so the History Server is where the application's page and its real metrics are:
 *
 * - `GET /api/v1/applications/<id>`: listed, and `completed` once the driver has closed its event log;
 * - `GET /history/<id>/`: the Spark UI after the run (what `spark_ui_url` links to, once it answers 200);
 * - `GET /api/v1/applications/<id>/stages` and `/allexecutors`: what METRICS_SUMMARY's `spark` is summed from.
 *
 * `awaitApplication` waits (bounded) for the server to list the application as completed, because it only scans
 * its event-log directory every `spark.history.fs.update.interval`. Nothing here throws for a missing server or
 * application: the answer says why there is no page, and the attempt ends without one.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { SparkMetrics } from '../schema/metrics-summary.js';

/** A History Server: its base URL, which serves both the REST API and the pages people open. */
export interface HistoryServer {
  url: string;
}

/** The parts of `/applications/<id>` read here. */
export interface ShsApplication {
  id: string;
  name?: string;
  attempts: { attemptId?: string; duration: number; completed: boolean }[];
}

/** The parts of one `/stages` entry read here (one per stage attempt). */
export interface ShsStage {
  status: string;
  numCompleteTasks: number;
  numFailedTasks: number;
  numKilledTasks: number;
  executorRunTime: number;
  /** Nanoseconds. */
  executorCpuTime: number;
  jvmGcTime?: number;
  memoryBytesSpilled: number;
  diskBytesSpilled: number;
  inputBytes: number;
  inputRecords: number;
  outputBytes: number;
  outputRecords: number;
  shuffleReadBytes: number;
  shuffleReadRecords: number;
  shuffleWriteBytes: number;
  shuffleWriteRecords: number;
}

/** The parts of one `/allexecutors` entry read here. */
export interface ShsExecutor {
  id: string;
  maxMemory: number;
  peakMemoryMetrics?: Partial<Record<'JVMHeapMemory' | 'OnHeapUnifiedMemory' | 'OffHeapUnifiedMemory', number>>;
}

export type HistoryOutcome =
  { kind: 'ready'; pageUrl: string; metrics: SparkMetrics } | { kind: 'unavailable'; reason: string };

export interface AwaitOptions {
  /** The execution's attempt the application ran as (recorded in the metrics). */
  attempt: number;
  /** How long to wait for the server to list the application as completed. */
  timeoutMs: number;
  pollMs?: number;
  signal?: AbortSignal;
}

const REQUEST_TIMEOUT_MS = 5_000;

function base(server: HistoryServer): string {
  return server.url.replace(/\/+$/, '');
}

/** The application's page on the History Server: `<base>/history/<appId>/` (plus the attempt id, if it has one). */
export function historyPageUrl(server: HistoryServer, appId: string, attemptId?: string): string {
  const attempt = attemptId ? `${encodeURIComponent(attemptId)}/` : '';
  return `${base(server)}/history/${encodeURIComponent(appId)}/${attempt}`;
}

const sum = <T>(items: readonly T[], of: (item: T) => number | undefined) =>
  items.reduce((total, item) => total + (of(item) ?? 0), 0);
const max = <T>(items: readonly T[], of: (item: T) => number | undefined) =>
  items.reduce((most, item) => Math.max(most, of(item) ?? 0), 0);

/**
 * METRICS_SUMMARY's Spark metrics from the History Server's answers (pure). Executors are the non-driver ones;
 * in local mode there are none and the driver, which runs the tasks, counts as the one executor.
 */
export function summarizeMetrics(
  app: ShsApplication,
  stages: readonly ShsStage[],
  executors: readonly ShsExecutor[],
  attempt: number,
): SparkMetrics {
  const workers = executors.filter((e) => e.id !== 'driver');
  const counted = workers.length > 0 ? workers : executors;
  const last = app.attempts.at(-1);
  return {
    app_id: app.id,
    attempt,
    duration_ms: last?.duration ?? 0,
    executor_count: counted.length,
    total_executor_memory_bytes: sum(counted, (e) => e.maxMemory),
    peak_executor_memory_bytes: max(
      counted,
      (e) => (e.peakMemoryMetrics?.OnHeapUnifiedMemory ?? 0) + (e.peakMemoryMetrics?.OffHeapUnifiedMemory ?? 0),
    ),
    peak_jvm_heap_bytes: max(counted, (e) => e.peakMemoryMetrics?.JVMHeapMemory),
    stage_count: stages.length,
    failed_stage_count: stages.filter((s) => s.status === 'FAILED').length,
    task_count: sum(stages, (s) => s.numCompleteTasks + s.numFailedTasks + s.numKilledTasks),
    failed_task_count: sum(stages, (s) => s.numFailedTasks),
    killed_task_count: sum(stages, (s) => s.numKilledTasks),
    executor_run_time_ms: sum(stages, (s) => s.executorRunTime),
    executor_cpu_time_ms: Math.round(sum(stages, (s) => s.executorCpuTime) / 1e6),
    gc_time_ms: sum(stages, (s) => s.jvmGcTime),
    shuffle_read_bytes: sum(stages, (s) => s.shuffleReadBytes),
    shuffle_read_records: sum(stages, (s) => s.shuffleReadRecords),
    shuffle_write_bytes: sum(stages, (s) => s.shuffleWriteBytes),
    shuffle_write_records: sum(stages, (s) => s.shuffleWriteRecords),
    memory_spill_bytes: sum(stages, (s) => s.memoryBytesSpilled),
    disk_spill_bytes: sum(stages, (s) => s.diskBytesSpilled),
    input_bytes: sum(stages, (s) => s.inputBytes),
    input_records: sum(stages, (s) => s.inputRecords),
    output_bytes: sum(stages, (s) => s.outputBytes),
    output_records: sum(stages, (s) => s.outputRecords),
  };
}

async function get(url: string, signal?: AbortSignal): Promise<Response> {
  const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
  return fetch(url, { signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const res = await get(url, signal);
  if (!res.ok) throw new Error(`GET ${url} answered ${res.status}`);
  return (await res.json()) as T;
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

/**
 * Waits until the History Server lists `appId` as completed and serves its page (200), then reads its metrics.
 * Bounded by `timeoutMs`; an answer of `unavailable` says why (no server, not listed, not completed in time).
 */
export async function awaitApplication(
  server: HistoryServer,
  appId: string,
  options: AwaitOptions,
): Promise<HistoryOutcome> {
  const api = `${base(server)}/api/v1/applications/${encodeURIComponent(appId)}`;
  const deadline = Date.now() + options.timeoutMs;
  let last = 'not asked yet';
  for (;;) {
    if (options.signal?.aborted) return { kind: 'unavailable', reason: 'stopped while waiting for the History Server' };
    try {
      const res = await get(api, options.signal);
      if (res.status === 404) last = `application ${appId} not listed yet`;
      else if (!res.ok) last = `${api} answered ${res.status}`;
      else {
        const app = (await res.json()) as ShsApplication;
        const attempt = app.attempts.at(-1);
        if (!attempt?.completed) last = `application ${appId} not completed yet`;
        else {
          const pageUrl = historyPageUrl(server, appId, attempt.attemptId);
          // The first request for an application makes the server load it and redirect back to the same page.
          const page = await get(pageUrl, options.signal);
          if (page.ok) {
            const scope = attempt.attemptId ? `${api}/${encodeURIComponent(attempt.attemptId)}` : api;
            const [stages, executors] = await Promise.all([
              getJson<ShsStage[]>(`${scope}/stages`, options.signal),
              getJson<ShsExecutor[]>(`${scope}/allexecutors`, options.signal),
            ]);
            return { kind: 'ready', pageUrl, metrics: summarizeMetrics(app, stages, executors, options.attempt) };
          }
          last = `${pageUrl} answered ${page.status}`;
        }
      }
    } catch (err) {
      last = `${base(server)} did not answer: ${describe(err)}`;
    }
    if (Date.now() >= deadline) {
      return {
        kind: 'unavailable',
        reason: `the History Server had no completed application ${appId} within ${Math.round(options.timeoutMs / 1000)} s (${last})`,
      };
    }
    await sleep(Math.min(options.pollMs ?? 500, Math.max(1, deadline - Date.now())));
  }
}
