/**
 * Submit: the one path by which an execution comes into being, shared by the REST API, the CLI (through the
 * API) and the tests. Idempotent: with an idempotency key the execution id is uuidv5(team, key), the workflow
 * id follows from it, and a repeat returns the same execution; a repeat with a different spec is a conflict.
 *
 * Crash safety: the workflow is started before the row is written, and the workflow's first activity writes
 * the same row, so dying at any point here leaves either nothing or a workflow that completes the record.
 */
import crypto from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Config } from '../config/index.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { Trigger } from '../schema/states.js';
import type { ExecutionRow, ExecutionStore, NewExecution } from '../store/executions.js';
import { canonicalHash, executionIdFor, workflowIdFor } from '../store/ids.js';
import {
  EXECUTION_WORKFLOW,
  SA_JOB_PATH,
  SA_STATE,
  SA_TEAM,
  SA_TRIGGER,
  type ExecutionInput,
} from '../workflows/definitions.js';

export interface SubmitDeps {
  client: Client;
  store: ExecutionStore;
  config: Pick<
    Config,
    'TEMPORAL_TASK_QUEUE' | 'ENGINE_VERSIONS' | 'TEAM_CONCURRENCY_LIMITS' | 'DEFAULT_TEAM_CONCURRENCY'
  >;
}

export interface SubmitRequest {
  team: string;
  owner?: string;
  trigger: Trigger;
  spec: NormalizedJobSpec;
  idempotencyKey?: string;
  scheduledTime?: Date;
}

export interface Submitted {
  execution: ExecutionRow;
  /** False when an idempotent repeat returned an existing execution. */
  created: boolean;
}

/** A request that is well-formed but cannot be accepted; `field` is the JSON path of the culprit. */
export class SubmitRejected extends Error {
  override readonly name = 'SubmitRejected';
  constructor(
    message: string,
    readonly status: 409 | 422,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Rejects an engine version this deployment does not offer ("4.0" allows "4.0.1"). */
export function assertEngineSupported(config: Pick<Config, 'ENGINE_VERSIONS'>, spec: NormalizedJobSpec): void {
  if (!config.ENGINE_VERSIONS.some((v) => spec.engineVersion === v || spec.engineVersion.startsWith(`${v}.`))) {
    throw new SubmitRejected(
      `engine version "${spec.engineVersion}" is not supported; supported versions: ${config.ENGINE_VERSIONS.join(', ')}`,
      422,
      'engineVersion',
    );
  }
}

export async function submitExecution(deps: SubmitDeps, request: SubmitRequest): Promise<Submitted> {
  const { spec, team } = request;
  assertEngineSupported(deps.config, spec);
  const executionId = request.idempotencyKey ? executionIdFor(team, request.idempotencyKey) : crypto.randomUUID();
  const requestHash = canonicalHash({ team, owner: request.owner ?? null, spec });
  // Only a keyed submit can repeat; a fresh random id cannot exist yet.
  const existing = request.idempotencyKey ? await deps.store.getExecution(executionId) : undefined;
  if (existing) return { execution: assertSameRequest(existing, requestHash), created: false };

  const jobPath = `${team}/${spec.name}`;
  const input: ExecutionInput = {
    executionId,
    team,
    jobPath,
    owner: request.owner,
    trigger: request.trigger,
    spec,
    requestHash,
    idempotencyKey: request.idempotencyKey,
    scheduledTime: request.scheduledTime?.toISOString(),
    teamLimit: teamLimit(deps.config, team),
  };
  const workflowId = workflowIdFor(executionId);
  let runId: string | undefined;
  try {
    const handle = await deps.client.workflow.start(EXECUTION_WORKFLOW, {
      workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: [
        { key: SA_TEAM, value: team },
        { key: SA_JOB_PATH, value: jobPath },
        { key: SA_STATE, value: 'PENDING' },
        { key: SA_TRIGGER, value: request.trigger },
      ],
      memo: { summary: memoSummary(jobPath, spec) },
    });
    runId = handle.firstExecutionRunId;
  } catch (err) {
    // A finished workflow with this id: an earlier identical submit already ran to the end.
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  const [{ row, created }] = await Promise.all([
    deps.store.createExecution(executionRecord(input, runId)),
    deps.store.upsertJob({ jobPath, team, name: spec.name, owner: request.owner, spec }),
  ]);
  return { execution: assertSameRequest(row, requestHash), created };
}

/**
 * The executions row for a workflow input. The API writes it at submit; the workflow's first activity writes the
 * same row (schedule- and loop-started executions have no API call), so both go through here.
 */
export function executionRecord(input: ExecutionInput, runId?: string): NewExecution {
  return {
    executionId: input.executionId,
    jobPath: input.jobPath,
    team: input.team,
    owner: input.owner,
    trigger: input.trigger,
    spec: input.spec,
    resources: input.spec.resources,
    idempotencyKey: input.idempotencyKey,
    requestHash: input.requestHash,
    workflowId: workflowIdFor(input.executionId),
    runId,
    scheduledTime: input.scheduledTime ? new Date(input.scheduledTime) : undefined,
  };
}

/** The team's concurrency limit, or undefined when it may run any number of executions at once. */
export function teamLimit(
  config: Pick<Config, 'TEAM_CONCURRENCY_LIMITS' | 'DEFAULT_TEAM_CONCURRENCY'>,
  team: string,
): number | undefined {
  const limit = config.TEAM_CONCURRENCY_LIMITS[team] ?? config.DEFAULT_TEAM_CONCURRENCY;
  return limit > 0 ? limit : undefined;
}

function assertSameRequest(row: ExecutionRow, requestHash: string): ExecutionRow {
  if (row.requestHash !== requestHash) {
    throw new SubmitRejected(
      `idempotency key "${row.idempotencyKey}" was already used for a different request (execution ${row.executionId})`,
      409,
    );
  }
  return row;
}

/** The one-line memo shown in the Temporal UI. */
function memoSummary(jobPath: string, spec: NormalizedJobSpec): string {
  const { driver, executor } = spec.resources;
  const app = spec.application.type === 'python' ? spec.application.file : spec.application.mainClass;
  return `${jobPath} (${spec.jobType}, Spark ${spec.engineVersion}): ${app}; driver ${driver.cores}c/${driver.memoryMb}MiB, ${executor.instances}x executor ${executor.cores}c/${executor.memoryMb}MiB`;
}
