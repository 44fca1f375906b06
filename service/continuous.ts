/**
 * Streaming jobs: one continuous-job workflow per job, with the fixed id `continuous-<team>.<name>`, deployed by
 * a manifest apply (started, or sent a spec update when the spec changed) and stopped by a manifest delete.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import type { Config } from '../config/index.js';
import { GRPC, grpcCodeOf } from '../config/temporal.js';
import { z } from 'zod';
import { Resources, type NormalizedJobSpec } from '../schema/job-spec.js';
import type { ExecutionStore } from '../store/executions.js';
import type { SizingConfig } from './sizing.js';
import { assertWithinCaps, SubmitRejected } from './submit.js';
import {
  CONTINUOUS_JOB_WORKFLOW,
  continuousStateQuery,
  resumeUpdate,
  stopUpdate,
  updateSpecUpdate,
  type ContinuousJobInput,
  type ContinuousState,
} from '../workflows/continuous-definitions.js';
import { continuousWorkflowId, searchAttributes } from '../schema/vocabulary.js';
import { Conflict, NotFound, Unavailable } from './errors.js';

export interface ContinuousDeps {
  client: Client;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
}

/**
 * Starts the job's loop, or hands a running loop the new spec (a controlled redeploy on the same checkpoint).
 * `change` says why, for the loop's event: a `resize` (only the resources changed) is recorded as RESIZED.
 */
export async function deployContinuousJob(
  deps: ContinuousDeps,
  job: { jobPath: string; team: string; owner?: string; spec: NormalizedJobSpec },
  change?: { cause: 'redeploy' | 'resize'; reason: string },
): Promise<'started' | 'updated'> {
  const workflowId = continuousWorkflowId(job.jobPath);
  const input: ContinuousJobInput = { team: job.team, jobPath: job.jobPath, owner: job.owner, spec: job.spec };
  try {
    await deps.client.workflow.start(CONTINUOUS_JOB_WORKFLOW, {
      workflowId,
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      typedSearchAttributes: searchAttributes({ team: job.team, jobPath: job.jobPath, trigger: 'continuous' }),
    });
    return 'started';
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
  await deps.client.workflow
    .getHandle(workflowId)
    .executeUpdate(updateSpecUpdate, { args: [{ spec: job.spec, ...(change ?? {}) }] });
  return 'updated';
}

/** Stops the job's current run and ends its loop; false when there was no loop. */
export async function removeContinuousJob(deps: ContinuousDeps, jobPath: string): Promise<boolean> {
  const handle = deps.client.workflow.getHandle(continuousWorkflowId(jobPath));
  try {
    const { status } = await handle.describe();
    if (status.name !== 'RUNNING') return false;
    await handle.executeUpdate(stopUpdate, { args: [{ reason: 'manifest deleted' }] });
    await handle.cancel();
    return true;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return false;
    throw err;
  }
}

/**
 * The loop's live state (a query, which needs a worker); undefined without a loop. `Unavailable` when no worker
 * polls the loop's task queue (gRPC FAILED_PRECONDITION), so the caller can say so instead of failing.
 */
export async function continuousState(deps: ContinuousDeps, jobPath: string): Promise<ContinuousState | undefined> {
  const handle = deps.client.workflow.getHandle(continuousWorkflowId(jobPath));
  try {
    // A query waits for a worker; with none (all stopped a moment ago) it would hang the caller until the RPC gave up.
    return await deps.client.withDeadline(Date.now() + STATE_QUERY_TIMEOUT_MS, () =>
      handle.query(continuousStateQuery),
    );
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    const code = grpcCodeOf(err);
    if (code === GRPC.FAILED_PRECONDITION || code === GRPC.DEADLINE_EXCEEDED) {
      throw new Unavailable(
        `streaming job "${continuousWorkflowId(jobPath)}" does not answer: ` +
          (code === GRPC.FAILED_PRECONDITION
            ? 'no worker polls its task queue'
            : `no worker answered within ${STATE_QUERY_TIMEOUT_MS / 1000} s`),
      );
    }
    throw err;
  }
}

/** How long a streaming job's live state may take: a worker answers a query in milliseconds when there is one. */
const STATE_QUERY_TIMEOUT_MS = 10_000;

/**
 * Stops a streaming job's current run and idles its loop in STOPPED, or resumes a stopped or degraded one; returns
 * the loop's state afterwards. `NotFound` without a loop; `Conflict` when the loop refuses (resume of a running
 * job) or has ended (its manifest was deleted).
 */
export async function controlContinuousJob(
  deps: ContinuousDeps,
  jobPath: string,
  action: { stop: { reason: string } } | { resume: true },
): Promise<ContinuousState> {
  const handle = deps.client.workflow.getHandle(continuousWorkflowId(jobPath));
  if (!(await continuousState(deps, jobPath)))
    throw new NotFound(`no streaming job "${continuousWorkflowId(jobPath)}"`);
  try {
    if ('stop' in action) await handle.executeUpdate(stopUpdate, { args: [action.stop] });
    else await handle.executeUpdate(resumeUpdate, { args: [] });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new Conflict(err.cause?.message ?? err.message);
    if (err instanceof WorkflowNotFoundError)
      throw new Conflict(`streaming job "${continuousWorkflowId(jobPath)}" has ended; apply it again`);
    throw err;
  }
  return (await continuousState(deps, jobPath))!;
}

/** A resize: any of the resources, in the JobSpec's own input shape ("2g", cores, instances). */
export const ResourcesPatch = z
  .object({
    driver: z
      .object({ cores: z.number().optional(), memory: z.union([z.string(), z.number()]).optional() })
      .strict()
      .optional(),
    executor: z
      .object({
        cores: z.number().optional(),
        memory: z.union([z.string(), z.number()]).optional(),
        instances: z.number().optional(),
      })
      .strict()
      .optional(),
    dynamicAllocation: z.unknown().optional(),
  })
  .strict()
  .refine((p) => p.driver !== undefined || p.executor !== undefined || p.dynamicAllocation !== undefined, {
    message: 'name at least one of driver, executor, dynamicAllocation',
  })
  // The refinement as the OpenAPI document can say it (an empty patch is refused).
  .meta({ minProperties: 1 });
export type ResourcesPatch = z.infer<typeof ResourcesPatch>;

/**
 * DCR by controlled restart: gives a streaming job new resources. The loop stops the current run (cancel Update:
 * the Spark process is gone when it returns), then starts the new spec version on the same checkpoint, so no
 * input is lost or processed twice. The jobs row records the new spec, so a manifest re-apply shows the change.
 * `NotFound` without a loop; a batch job or resources over the team's caps are a 422 naming the field.
 */
export async function resizeContinuousJob(
  deps: ContinuousDeps & { store: Pick<ExecutionStore, 'getJob' | 'upsertJob'>; config: Partial<SizingConfig> },
  jobPath: string,
  patch: ResourcesPatch,
): Promise<ContinuousState> {
  const job = await deps.store.getJob(jobPath);
  if (!job || job.spec.jobType !== 'streaming' || !(await continuousState(deps, jobPath))) {
    throw new NotFound(`no streaming job "${continuousWorkflowId(jobPath)}"`);
  }
  const current = job.spec.resources;
  const merged = Resources.safeParse({
    driver: { cores: current.driver.cores, memory: current.driver.memoryMb, ...patch.driver },
    executor: {
      cores: current.executor.cores,
      memory: current.executor.memoryMb,
      instances: current.executor.instances,
      ...patch.executor,
    },
    ...(patch.dynamicAllocation !== undefined
      ? { dynamicAllocation: patch.dynamicAllocation }
      : current.dynamicAllocation
        ? { dynamicAllocation: current.dynamicAllocation }
        : {}),
  });
  if (!merged.success) {
    const issue = merged.error.issues[0]!;
    const field = ['resources', ...issue.path.map(String)].join('.');
    throw new SubmitRejected(`${field}: ${issue.message}`, 422, field);
  }
  const spec: NormalizedJobSpec = { ...job.spec, resources: merged.data };
  assertWithinCaps(deps.config, job.team, spec);
  try {
    await deps.client.workflow.getHandle(continuousWorkflowId(jobPath)).executeUpdate(updateSpecUpdate, {
      args: [{ spec, cause: 'resize', reason: `resized through the API (${describePatch(patch)})` }],
    });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) throw new Conflict(err.cause?.message ?? err.message);
    if (err instanceof WorkflowNotFoundError)
      throw new Conflict(`streaming job "${continuousWorkflowId(jobPath)}" has ended; apply it again`);
    throw err;
  }
  await deps.store.upsertJob({ jobPath, team: job.team, name: job.name, owner: job.owner ?? undefined, spec });
  return (await continuousState(deps, jobPath))!;
}

/** A patch as one line, for the loop's RESIZED event: `driver.memory=1536m executor.instances=2`. */
function describePatch(patch: ResourcesPatch): string {
  const parts: string[] = [];
  for (const side of ['driver', 'executor'] as const) {
    for (const [k, v] of Object.entries(patch[side] ?? {})) parts.push(`${side}.${k}=${String(v)}`);
  }
  if (patch.dynamicAllocation !== undefined) parts.push(`dynamicAllocation=${JSON.stringify(patch.dynamicAllocation)}`);
  return parts.join(' ');
}
