/**
 * Activities of the continuous-job workflow (workflows/continuous-job.ts). Thin adapters (STYLE.md §3):
 *
 * - `stopExecution` stops one run by sending its execution workflow the ordinary `cancel` Update, the same path as
 *   the API's DELETE. The execution cancels its backend run (local: SIGTERM to the process group, SIGKILL after
 *   the grace period), finalizes CANCELLED, and only then answers, so when this activity returns the Spark
 *   process is gone. Idempotent: an execution that already finished rejects the Update, which counts as done.
 * - `recordContinuousEvent` records a loop transition or a progress sample in `job_events` (and as a log line).
 *   Its idempotency key is the workflow run id and this activity's id, both fixed in the workflow history, so a
 *   retried (or re-run) activity records the event once.
 * - `dcrPolicy` hands the loop DCR's settings and the team's caps from this worker's configuration, at each run.
 * - `sampleStreamingProgress` reads the live run's Structured Streaming progress from its driver: the metrics
 *   servlet of the driver's UI (`<spark_ui_url>/metrics/json/`), whose `spark.streaming.<query>` gauges
 *   (inputRate-total, processingRate-total, latency) the loop turns on with `spark.sql.streaming.metricsEnabled`.
 *   A run that is not RUNNING, has no live UI, or whose driver does not answer gives `unavailable` with the reason,
 *   not an error: a missed sample is not worth retrying.
 * - `recommendStreamingResources` asks APS (service/sizing.ts) for the job's sizes (the sample says what the run has).
 * - `followResize` makes the jobs row (what GET /api/v1/jobs, the jobs list, the console and a manifest diff read)
 *   follow a resize DCR decided: its resources become the new ones while they are still the old ones, so a spec an
 *   apply or a REST resize wrote meanwhile stays. Idempotent (a retry finds the row already resized).
 *
 * Errors: anything else thrown (Temporal or Postgres unreachable) is transient and retried by the workflow's policy.
 */
import { activityInfo, log } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import { dcrSettings, teamCaps, type DcrConfig } from '../config/index.js';
import type { JobResources, TeamCaps } from '../runner/aps.js';
import type { DcrSettings, ProgressSample } from '../runner/dcr.js';
import type { JobEventType } from '../schema/job-event-types.js';
import { Conflict } from '../service/errors.js';
import { cancelExecution } from '../service/executions.js';
import { recommendFor, type SizingConfig } from '../service/sizing.js';
import type { ExecutionStore } from '../store/executions.js';

export interface ContinuousActivityDeps {
  client: Client;
  store: Pick<ExecutionStore, 'jobEvents' | 'getExecution' | 'getJob' | 'sizingHistory' | 'followJobResize'>;
  config: DcrConfig & SizingConfig;
  /** How long one sample may wait for the driver. */
  sampleTimeoutMs?: number;
}

export type ContinuousEventKind = JobEventType;

export interface ContinuousEventInput {
  jobPath: string;
  kind: ContinuousEventKind;
  specVersion: number;
  executionId?: string;
  detail?: string;
  /** Structured payload (a sample's rates, a resize's old and new resources and rule). */
  data?: Record<string, unknown>;
  /** Workflow time of the transition (ISO); the activity's clock when absent. */
  at?: string;
}

export interface DcrPolicy {
  settings: DcrSettings;
  sampleIntervalMs: number;
  caps: TeamCaps;
}

/** A sample with the resources the run has (what DCR would grow), or why there is none. */
export type SampleOutcome =
  { sample: ProgressSample; sparkUiUrl: string; running: JobResources } | { unavailable: string };

const GAUGE = /\.driver\.spark\.streaming\.(.+)\.(inputRate-total|processingRate-total|latency)$/;

/** The run's progress from the driver's metrics servlet JSON; undefined when it has no streaming gauges. */
export function progressFromMetrics(json: unknown): ProgressSample | undefined {
  const gauges = (json as { gauges?: Record<string, { value?: unknown }> } | null)?.gauges ?? {};
  const queries = new Map<string, { input: number; processed: number; latency: number }>();
  for (const [name, gauge] of Object.entries(gauges)) {
    const m = GAUGE.exec(name);
    const value = Number(gauge?.value);
    if (!m || !Number.isFinite(value)) continue;
    const q = queries.get(m[1]!) ?? { input: 0, processed: 0, latency: 0 };
    if (m[2] === 'inputRate-total') q.input = value;
    else if (m[2] === 'processingRate-total') q.processed = value;
    else q.latency = value;
    queries.set(m[1]!, q);
  }
  if (queries.size === 0) return undefined;
  const all = [...queries.values()];
  return {
    inputRowsPerSecond: all.reduce((sum, q) => sum + q.input, 0),
    processedRowsPerSecond: all.reduce((sum, q) => sum + q.processed, 0),
    batchDurationMs: Math.max(...all.map((q) => q.latency)),
    queries: queries.size,
  };
}

export function createContinuousActivities({ client, store, config, sampleTimeoutMs = 5_000 }: ContinuousActivityDeps) {
  return {
    /** Cancels a run through its execution's cancel Update and waits until the execution has ended. */
    async stopExecution(input: { executionId: string; reason: string }): Promise<void> {
      try {
        await cancelExecution(
          { client },
          { executionId: input.executionId, state: 'RUNNING' },
          { reason: input.reason, requestedBy: 'continuous-job' },
          { waitFor: 'completed', updateId: `continuous-stop-${input.executionId}` },
        );
      } catch (err) {
        // Already finished (the validator refused), or gone: nothing left to stop.
        if (err instanceof Conflict) return;
        throw err;
      }
    },

    async recordContinuousEvent(input: ContinuousEventInput): Promise<void> {
      const info = activityInfo();
      log.info(`continuous job ${input.jobPath}: ${input.kind}`, { ...input });
      await store.jobEvents.append({
        jobPath: input.jobPath,
        type: input.kind,
        idempotencyKey: `${info.workflowExecution?.runId ?? 'no-workflow'}/${info.activityId}`,
        specVersion: input.specVersion,
        ...(input.executionId ? { executionId: input.executionId } : {}),
        at: input.at ? new Date(input.at) : new Date(),
        payload: { ...(input.detail ? { detail: input.detail } : {}), ...input.data },
      });
    },

    dcrPolicy(input: { team: string }): Promise<DcrPolicy> {
      return Promise.resolve({
        settings: dcrSettings(config),
        sampleIntervalMs: config.STREAMING_SAMPLE_INTERVAL_S * 1000,
        caps: teamCaps(config, input.team),
      });
    },

    async sampleStreamingProgress(input: { executionId: string }): Promise<SampleOutcome> {
      const row = await store.getExecution(input.executionId);
      if (!row) return { unavailable: `no execution ${input.executionId}` };
      if (row.state !== 'RUNNING') return { unavailable: `the run is ${row.state}` };
      if (!row.sparkUiUrl) return { unavailable: 'the run has no live Spark UI yet' };
      const url = `${row.sparkUiUrl.replace(/\/+$/, '')}/metrics/json/`;
      let json: unknown;
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(sampleTimeoutMs) });
        if (!res.ok) return { unavailable: `${url} answered ${res.status}` };
        json = await res.json();
      } catch (err) {
        return { unavailable: `${url}: ${(err as Error).message}` };
      }
      const sample = progressFromMetrics(json);
      return sample
        ? { sample, sparkUiUrl: row.sparkUiUrl, running: row.resources }
        : { unavailable: `${url} has no streaming query gauges (yet)` };
    },

    /** 'diverged': the row holds a spec written since (an apply, a REST resize), which is left as it is. */
    followResize(input: {
      jobPath: string;
      from: JobResources;
      to: JobResources;
    }): Promise<'followed' | 'diverged' | 'no-job'> {
      return store.followJobResize(input.jobPath, input.from, input.to);
    },

    async recommendStreamingResources(input: {
      team: string;
      jobPath: string;
    }): Promise<{ recommended: JobResources; confidence: number } | undefined> {
      const job = await store.getJob(input.jobPath);
      if (!job) return undefined;
      const rec = await recommendFor(
        { store, config },
        { team: input.team, jobPath: input.jobPath, requested: job.spec.resources },
      );
      return { recommended: rec.resources, confidence: rec.confidence };
    },
  };
}
