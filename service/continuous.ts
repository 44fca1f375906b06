/**
 * Streaming jobs: one continuous-job workflow per job, with the fixed id `continuous-<team>.<name>`, deployed by
 * a manifest apply (started, or sent a spec update when the spec changed) and stopped by a manifest delete.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config/index.js';
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import {
  CONTINUOUS_JOB_WORKFLOW,
  continuousStateQuery,
  stopUpdate,
  updateSpecUpdate,
  type ContinuousJobInput,
  type ContinuousState,
} from '../workflows/continuous-job.js';
import { SA_JOB_PATH, SA_TEAM, SA_TRIGGER } from '../workflows/definitions.js';

export interface ContinuousDeps {
  client: Client;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
}

const PREFIX = 'continuous-';

/** `team/name` -> `continuous-team.name` (team and name are DNS labels, so neither holds a dot). */
export function continuousWorkflowId(jobPath: string): string {
  return `${PREFIX}${jobPath.replace('/', '.')}`;
}

/** The job path of a continuous workflow id, or undefined when `id` is not one. */
export function jobPathOfContinuousId(id: string): string | undefined {
  if (!id.startsWith(PREFIX)) return undefined;
  const [team, name, ...rest] = id.slice(PREFIX.length).split('.');
  return team && name && rest.length === 0 ? `${team}/${name}` : undefined;
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
      typedSearchAttributes: [
        { key: SA_TEAM, value: job.team },
        { key: SA_JOB_PATH, value: job.jobPath },
        { key: SA_TRIGGER, value: 'continuous' },
      ],
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

export async function continuousState(deps: ContinuousDeps, jobPath: string): Promise<ContinuousState | undefined> {
  try {
    return await deps.client.workflow.getHandle(continuousWorkflowId(jobPath)).query(continuousStateQuery);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}
