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
import type { NormalizedJobSpec } from '../schema/job-spec.js';
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

/** Starts the job's loop, or hands a running loop the new spec (a controlled redeploy on the same checkpoint). */
export async function deployContinuousJob(
  deps: ContinuousDeps,
  job: { jobPath: string; team: string; owner?: string; spec: NormalizedJobSpec },
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
  await deps.client.workflow.getHandle(workflowId).executeUpdate(updateSpecUpdate, { args: [{ spec: job.spec }] });
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
  try {
    return await deps.client.workflow.getHandle(continuousWorkflowId(jobPath)).query(continuousStateQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    if ((err as { cause?: { code?: unknown } }).cause?.code === 9) {
      throw new Unavailable(
        `streaming job "${continuousWorkflowId(jobPath)}" does not answer: no worker polls its task queue`,
      );
    }
    throw err;
  }
}

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
