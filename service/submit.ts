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
import { ConfigSchema, teamCaps, teamLimit, type Config } from '../config/index.js';
import { BackendRejection } from '../gateway/backend.js';
import type { PlacementDecision, SparkGateway } from '../gateway/index.js';
import { overCaps } from '../runner/aps.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import { decideSizing, type SizingConfig, type SizingDecision } from './sizing.js';
import type { Trigger } from '../schema/states.js';
import { executionRecord, type ExecutionRow, type ExecutionStore } from '../store/executions.js';
import { canonicalHash, executionIdFor } from '../store/ids.js';
import { executionWorkflowId, formatJobPath, searchAttributes } from '../schema/vocabulary.js';
import { EXECUTION_WORKFLOW, type ExecutionInput } from '../workflows/definitions.js';

export interface SubmitDeps {
  client: Client;
  store: ExecutionStore;
  /** Answers whether this deployment could ever place the job (a backend it has, EMR able to reach the files). */
  gateway: Pick<SparkGateway, 'assertPlaceable'>;
  config: Pick<
    Config,
    'TEMPORAL_TASK_QUEUE' | 'ENGINE_VERSIONS' | 'TEAM_CONCURRENCY_LIMITS' | 'DEFAULT_TEAM_CONCURRENCY'
  > &
    Partial<SizingConfig>;
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

/**
 * Everything that makes a well-formed job unacceptable here, checked before anything is written: an engine version
 * this deployment does not offer (422 on `engineVersion`), or no backend that could ever take it (422 on
 * `backend`: one that is not configured, or EMR asked for files it cannot reach; or on the field the backend
 * blames: a Spark version local Spark has not installed, a CoreETL runtime the backend cannot offer).
 */
export function assertAcceptable(
  deps: Pick<SubmitDeps, 'config' | 'gateway'>,
  spec: NormalizedJobSpec,
  team?: string,
): void {
  assertEngineSupported(deps.config, spec);
  if (team !== undefined) assertWithinCaps(deps.config, team, spec);
  try {
    deps.gateway.assertPlaceable(spec);
  } catch (err) {
    if (err instanceof BackendRejection) throw new SubmitRejected(err.message, 422, err.field ?? 'backend');
    throw err;
  }
}

/** Rejects resources over the team's caps (TEAM_RESOURCE_LIMITS), naming the first field over them (422). */
export function assertWithinCaps(config: Partial<SizingConfig>, team: string, spec: NormalizedJobSpec): void {
  const over = overCaps(spec.resources, teamCaps({ TEAM_RESOURCE_LIMITS: config.TEAM_RESOURCE_LIMITS ?? {} }, team));
  if (over) throw new SubmitRejected(`${over.field}: ${over.message}`, 422, over.field);
}

/** The execution id a submit gets: derived from (team, key) when keyed, so a repeat finds the same execution. */
function executionIdOf(team: string, idempotencyKey: string | undefined): string {
  return idempotencyKey ? executionIdFor(team, idempotencyKey) : crypto.randomUUID();
}

export async function submitExecution(deps: SubmitDeps, request: SubmitRequest): Promise<Submitted> {
  const { spec, team } = request;
  assertAcceptable(deps, spec, team);
  const executionId = executionIdOf(team, request.idempotencyKey);
  const requestHash = canonicalHash({ team, owner: request.owner ?? null, spec });
  // Only a keyed submit can repeat; a fresh random id cannot exist yet.
  const existing = request.idempotencyKey ? await deps.store.getExecution(executionId) : undefined;
  if (existing) return { execution: assertSameRequest(existing, requestHash), created: false };

  const jobPath = formatJobPath(team, spec.name);
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
  const workflowId = executionWorkflowId(executionId);
  let runId: string | undefined;
  try {
    const handle = await deps.client.workflow.start(EXECUTION_WORKFLOW, {
      workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      typedSearchAttributes: searchAttributes({ team, jobPath, state: 'PENDING', trigger: request.trigger }),
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

export interface DryRun {
  executionId: string;
  jobPath: string;
  spec: NormalizedJobSpec;
  /** APS's decision (`sizing: recommend|auto`): in `auto`, `spec.resources` and the payload carry its sizes. */
  sizing?: SizingDecision;
  /** Where the first attempt would go now, or why it would wait. */
  decision: PlacementDecision;
  /** The backend payload for that placement; absent while no backend can take it. */
  payload?: unknown;
}

/**
 * A dry-run: the checks a submit makes, then the placement its first attempt would get now and the payload for
 * that backend. Creates nothing. With an idempotency key it derives the submit's own execution id, so the seeded
 * choice between clusters is the one the submit that follows it gets.
 */
export async function previewSubmission(
  deps: Pick<SubmitDeps, 'config'> & {
    gateway: Pick<SparkGateway, 'assertPlaceable' | 'preview' | 'describe'>;
    /** For APS (`sizing: recommend|auto`); without it the dry-run shows the spec as written. */
    store?: Pick<ExecutionStore, 'sizingHistory'>;
  },
  request: Omit<SubmitRequest, 'trigger'>,
): Promise<DryRun> {
  const { team } = request;
  assertAcceptable(deps, request.spec, team);
  const executionId = executionIdOf(team, request.idempotencyKey);
  const jobPath = formatJobPath(team, request.spec.name);
  const sizing = deps.store
    ? await decideSizing(
        { store: deps.store, config: sizingConfig(deps.config) },
        { team, jobPath, spec: request.spec },
      )
    : undefined;
  const spec = sizing?.applied ? { ...request.spec, resources: sizing.resources } : request.spec;
  const attempt = { executionId, attempt: 1, team, jobPath, spec };
  const decision = await deps.gateway.preview(attempt);
  return {
    executionId,
    jobPath,
    spec,
    ...(sizing ? { sizing } : {}),
    decision,
    ...(decision.kind === 'placed' ? { payload: deps.gateway.describe(attempt, decision.placement) } : {}),
  };
}

/** The APS settings out of a submit's config, with the schema's defaults for any it lacks. */
function sizingConfig(config: Partial<SizingConfig>): SizingConfig {
  return { ...ConfigSchema.parse({}), ...config };
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
