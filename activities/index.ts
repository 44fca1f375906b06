/**
 * Activities: thin adapters between the execution workflow and the gateway/store (STYLE.md §3). Every one is
 * idempotent: placement is recorded once per (execution, attempt), backend submit is keyed by (execution,
 * attempt), and every event id is deterministic, so Temporal may retry any of them, or a restarted worker may run
 * them again, without duplicating anything.
 *
 * Errors: a permanent refusal (the gateway or a backend) is a non-retryable `BackendRejection` failure; waiting
 * for a team slot or for a backend is a benign retryable failure whose retry comes after a set delay (those
 * retries leave no trace in the workflow history); anything else is transient and retried.
 */
import { activityInfo, heartbeat } from '@temporalio/activity';
import { ApplicationFailure, ApplicationFailureCategory } from '@temporalio/common';
import {
  BackendRejection,
  type AttemptRequest,
  type Placement,
  type RunStatus,
  type VendorRun,
} from '../gateway/backend.js';
import type { SparkGateway } from '../gateway/index.js';
import { executionLog } from '../observability/log-context.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import { METRICS_SCHEMA_VERSION, type MetricsSummaryV1, type SparkMetrics } from '../schema/metrics-summary.js';
import type { FailureClass, TerminalState } from '../schema/states.js';
import type { SizingDecision } from '../runner/aps.js';
import { decideSizing, type SizingConfig } from '../service/sizing.js';
import { executionRecord, type ExecutionStore } from '../store/executions.js';
import type {
  CancelRequest,
  ExecutionInput,
  PolledStatus,
  ReapInput,
  WorkflowSettings,
} from '../workflows/definitions.js';

export interface ActivityDeps {
  gateway: SparkGateway;
  store: ExecutionStore;
  clock: { now(): Date };
  settings: WorkflowSettings;
  /** APS (service/sizing.ts) for `sizing: recommend|auto` jobs; without it every job runs as written. */
  sizing?: SizingConfig;
}

/** What one submit activity achieved. `unavailable` and `unreachable` come only from a `once` call. */
export type SubmitOutcome =
  | { kind: 'submitted'; run: VendorRun; placement: Placement }
  /** No backend can take the attempt now. */
  | { kind: 'unavailable'; reason: string }
  /** The attempt was placed, but its backend does not accept it. */
  | { kind: 'unreachable'; reason: string };

export interface SubmitInput {
  execution: ExecutionInput;
  attempt: number;
  resources: NormalizedJobSpec['resources'];
  /** Try once and report why it could not submit, instead of waiting for a backend. */
  once?: boolean;
  /** APS's decision, recorded in the first attempt's SUBMIT event. */
  sizing?: SizingDecision;
}

/** How often a running submit heartbeats; the workflow's heartbeat timeout is a few of these. */
export const SUBMIT_HEARTBEAT_MS = 5_000;

function where(placement: Placement): string {
  return placement.cluster && placement.cluster !== placement.backend
    ? `${placement.backend} cluster ${placement.cluster}`
    : placement.backend;
}

function rejected(err: unknown): never {
  if (err instanceof BackendRejection) throw ApplicationFailure.nonRetryable(err.message, 'BackendRejection');
  throw err;
}

/** METRICS_SUMMARY's payload, schema version 1: the execution's figures and its attempts' Spark metrics. */
function metricsSummary(input: {
  attempt: number;
  durationMs: number;
  backend?: string;
  resources: NormalizedJobSpec['resources'];
  sparkAttempts?: SparkMetrics[];
  sparkUnavailable?: string;
}): MetricsSummaryV1 {
  const attempts = input.sparkAttempts ?? [];
  const last = attempts.at(-1);
  const spark = last?.attempt === input.attempt ? last : null;
  return {
    schema_version: METRICS_SCHEMA_VERSION,
    duration_ms: input.durationMs,
    attempts: input.attempt,
    backend: input.backend ?? null,
    resources: input.resources,
    spark,
    spark_unavailable: spark ? null : (input.sparkUnavailable ?? 'no Spark metrics were read'),
    spark_attempts: attempts,
  };
}

export function createActivities({ gateway, store, clock, settings, sizing }: ActivityDeps) {
  /** Places the attempt (recorded once) and submits it on that placement; see `submitAttempt`. */
  async function submit(input: SubmitInput): Promise<SubmitOutcome> {
    const { execution, attempt, resources, once } = input;
    const request: AttemptRequest = {
      executionId: execution.executionId,
      attempt,
      team: execution.team,
      jobPath: execution.jobPath,
      spec: { ...execution.spec, resources },
    };
    const decision = await gateway.place(request).catch(rejected);
    if (decision.kind === 'unavailable') {
      executionLog().info({ reason: decision.reason }, 'no backend can take the attempt yet');
      await store.setPending(execution.executionId, 'NO_BACKEND', decision.reason, clock.now());
      if (once) return { kind: 'unavailable', reason: decision.reason };
      throw ApplicationFailure.create({
        type: 'NoBackend',
        message: decision.reason,
        nextRetryDelay: settings.placementRetryMs,
        category: ApplicationFailureCategory.BENIGN,
      });
    }
    const { placement } = decision;
    let run: VendorRun;
    try {
      run = await gateway.backend(placement.backend).submit(request, placement);
    } catch (err) {
      if (err instanceof BackendRejection) rejected(err);
      const reason = `${where(placement)} did not accept attempt ${attempt}: ${(err as Error).message}`;
      executionLog().warn({ backend: placement.backend, cluster: placement.cluster, err }, 'submit not accepted');
      await store.setPending(execution.executionId, 'SUBMITTING', reason, clock.now());
      if (once) return { kind: 'unreachable', reason };
      throw err;
    }
    await store.recordEvent({
      executionId: execution.executionId,
      attempt,
      type: 'SUBMIT',
      at: clock.now(),
      payload: { ...run, placement, resources, ...(input.sizing ? { sizing: input.sizing } : {}) },
      patch: {
        state: 'SUBMITTED',
        attempt,
        backend: run.backend,
        cluster: run.cluster,
        namespace: run.namespace,
        vendorRunId: run.vendorRunId,
        vendorWebui: run.sparkUiUrl,
        vendorLogsLink: run.logsUrl,
        ...(run.sparkVersion ? { sparkVersion: run.sparkVersion } : {}),
        resources,
        pendingReason: null,
        runId: activityInfo().workflowExecution?.runId,
        submittedAt: clock.now(),
      },
    });
    executionLog().info(
      { backend: run.backend, cluster: run.cluster, vendorRunId: run.vendorRunId },
      `attempt submitted to ${where(placement)}`,
    );
    return { kind: 'submitted', run, placement };
  }

  return {
    /** The first step: writes the execution row unless the API already did, and hands the workflow its settings. */
    async begin(execution: ExecutionInput): Promise<WorkflowSettings> {
      await store.createExecution(executionRecord(execution, activityInfo().workflowExecution?.runId));
      const decision = sizing
        ? await decideSizing(
            { store, config: sizing, now: () => clock.now() },
            { team: execution.team, jobPath: execution.jobPath, spec: execution.spec },
          )
        : undefined;
      return decision ? { ...settings, sizing: decision } : settings;
    },

    /** Waits for a free slot under the team's concurrency limit (pending_reason TEAM_QUEUE while it waits). */
    async admit(input: { execution: ExecutionInput; limit: number }): Promise<void> {
      const { execution, limit } = input;
      if (await store.admit(execution.executionId, execution.team, limit)) return;
      const message = `team ${execution.team} is at its limit of ${limit} concurrent executions; queued`;
      executionLog().info({ team: execution.team, limit }, message);
      await store.setPending(execution.executionId, 'TEAM_QUEUE', message, clock.now());
      throw ApplicationFailure.create({
        type: 'TeamQueueFull',
        message,
        nextRetryDelay: settings.teamQueuePollMs,
        category: ApplicationFailureCategory.BENIGN,
      });
    },

    /**
     * Places the attempt through the gateway (recorded once) and submits it on that placement. While no backend
     * can take it, fails benignly and is retried every `placementRetryMs` (pending_reason NO_BACKEND); the
     * workflow bounds that wait. With `once`, it tries once and reports why it could not submit instead.
     */
    async submitAttempt(input: SubmitInput): Promise<SubmitOutcome> {
      // Heartbeats let Temporal retry a submit on another worker seconds after this one dies, not minutes.
      const beat = setInterval(() => heartbeat(), SUBMIT_HEARTBEAT_MS);
      try {
        return await submit(input);
      } finally {
        clearInterval(beat);
      }
    },

    /**
     * The polling safety net: one status read, unless the run has reported a status before and its backend's watch
     * is healthy (then every change arrives as a signal and nothing is read: `{ watched: true }`). A run that has
     * reported nothing yet is always read, which is how a run the operator never picks up ends NO_STATUS.
     */
    async pollStatus(run: VendorRun, options: { statusSeen?: boolean } = {}): Promise<PolledStatus> {
      const backend = gateway.backend(run.backend);
      if (options.statusSeen && (await backend.watched?.(run))) {
        executionLog().debug('status check: the watch is healthy, nothing read');
        return { watched: true };
      }
      const status = await backend.status(run);
      executionLog().debug({ phase: status.phase, backendState: status.backendState }, 'status read');
      return status;
    },

    /**
     * Stops an attempt's run, wherever it was placed: records CANCEL_REQUESTED, then asks the backend to cancel
     * (idempotent there, and safe before submit returned a run id). An attempt never placed has nothing to stop.
     */
    async cancelRun(input: ReapInput): Promise<void> {
      const placement = await store.recordedPlacement(input.executionId, input.attempt);
      if (!placement) return;
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'CANCEL_REQUESTED',
        at: clock.now(),
        payload: { reason: input.reason, requestedBy: input.requestedBy ?? null },
      });
      executionLog().info({ backend: placement.backend, reason: input.reason }, 'cancelling the attempt');
      await gateway
        .backend(placement.backend)
        .cancel({
          executionId: input.executionId,
          attempt: input.attempt,
          placement,
          ...(input.vendorRunId ? { vendorRunId: input.vendorRunId } : {}),
        })
        .catch(rejected);
    },

    async recordRunning(input: { executionId: string; attempt: number; status: RunStatus }): Promise<void> {
      const observed = new Date(input.status.observedAt);
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'RUNNING',
        at: clock.now(),
        payload: { backendState: input.status.backendState, observedAt: input.status.observedAt },
        patch: {
          state: 'RUNNING',
          ...(input.attempt === 1 ? { startTime: observed } : {}),
          ...(input.status.sparkUiUrl
            ? { vendorWebui: input.status.sparkUiUrl, sparkUiUrl: input.status.sparkUiUrl }
            : {}),
        },
      });
    },

    /** Links that arrive after RUNNING (no event: the snapshot just gains the URL). */
    async recordLinks(input: { executionId: string; sparkUiUrl: string }): Promise<void> {
      await store.patchExecution(input.executionId, { vendorWebui: input.sparkUiUrl, sparkUiUrl: input.sparkUiUrl });
    },

    async recordRetry(input: {
      executionId: string;
      attempt: number;
      nextAttempt: number;
      failureClass: FailureClass;
      summary: string;
      delayMs: number;
      change?: string;
      resources: NormalizedJobSpec['resources'];
    }): Promise<void> {
      const at = clock.now();
      executionLog().warn(
        { failureClass: input.failureClass, nextAttempt: input.nextAttempt, delayMs: input.delayMs },
        `attempt failed (${input.failureClass}): ${input.summary}; retrying`,
      );
      await store.recordEvent({
        executionId: input.executionId,
        attempt: input.attempt,
        type: 'RETRY',
        at,
        payload: {
          failureClass: input.failureClass,
          summary: input.summary,
          nextAttempt: input.nextAttempt,
          delayMs: input.delayMs,
          change: input.change ?? null,
          resources: input.resources,
        },
        // Between attempts the execution is accepted but not at a backend: PENDING.
        patch: {
          state: 'PENDING',
          failureClass: input.failureClass,
          failureMessage: input.summary,
          pendingReason: {
            code: 'RETRY_BACKOFF',
            message: `attempt ${input.nextAttempt} starts after a ${Math.round(input.delayMs / 1000)} s backoff (${input.failureClass}: ${input.summary})`,
            since: at.toISOString(),
          },
        },
      });
    },

    /**
     * Writes TERMINAL and METRICS_SUMMARY (schema version 1, schema/metrics-summary.ts); the snapshot row takes the
     * final state.
     */
    async finalize(input: {
      executionId: string;
      attempt: number;
      state: TerminalState;
      failureClass?: FailureClass;
      failureMessage?: string;
      durationMs: number;
      resources: NormalizedJobSpec['resources'];
      backend?: string;
      cancel?: CancelRequest;
      /** Every closed attempt's Spark metrics, oldest first (activities/attempt-end.ts). */
      sparkAttempts?: SparkMetrics[];
      /** Why the last attempt has none. */
      sparkUnavailable?: string;
      /** What the last attempt's application reported (the CoreETL runtime's rows read and written). */
      result?: Record<string, unknown>;
    }): Promise<void> {
      const at = clock.now();
      // One transaction: whoever sees the final state also finds its METRICS_SUMMARY.
      await store.recordEvents([
        {
          executionId: input.executionId,
          attempt: input.attempt,
          type: 'TERMINAL',
          at,
          payload: {
            state: input.state,
            failureClass: input.failureClass ?? null,
            failureMessage: input.failureMessage ?? null,
            ...(input.cancel ? { cancel: input.cancel } : {}),
          },
          patch: {
            state: input.state,
            endTime: at,
            pendingReason: null,
            failureClass: input.failureClass ?? null,
            failureMessage: input.failureMessage ?? null,
          },
        },
        {
          executionId: input.executionId,
          attempt: input.attempt,
          type: 'METRICS_SUMMARY',
          at,
          payload: {
            ...(metricsSummary(input) as unknown as Record<string, unknown>),
            ...(input.result ? { core_etl: input.result } : {}),
          },
        },
      ]);
      executionLog().info(
        { state: input.state, failureClass: input.failureClass ?? null, durationMs: input.durationMs },
        `execution ended ${input.state}`,
      );
    },
  };
}
