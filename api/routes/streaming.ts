/**
 * Streaming jobs through the reference's job routes: `GET /api/v1/jobs/continuous-<team>.<name>` answers with the
 * continuous-job loop's state (spec version, current execution, restarts, last failure, degraded), and
 * `POST …/stop` and `…/resume` control it. Each run is an ordinary execution under /api/v1/executions.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { Router, type Request } from 'express';
import type { Config } from '../../config/index.js';
import { continuousState, continuousWorkflowId, jobPathOfContinuousId } from '../../service/continuous.js';
import { resumeUpdate, stopUpdate, type ContinuousState } from '../../workflows/continuous-job.js';
import { canAccess } from '../auth.js';
import { HttpProblem } from '../problem.js';

export interface StreamingDeps {
  client: Client;
  config: Pick<Config, 'TEMPORAL_TASK_QUEUE'>;
}

function view(id: string, team: string, state: ContinuousState) {
  return {
    job_id: id,
    job_path: state.jobPath,
    team,
    job_type: 'streaming',
    status: state.status,
    spec_version: state.specVersion,
    running_spec_version: state.runningSpecVersion ?? null,
    current_execution_id: state.currentExecutionId ?? null,
    restart_count: state.restartCount,
    consecutive_failures: state.consecutiveFailures,
    last_failure: state.lastFailure ?? null,
    degraded: state.degraded,
    next_restart_at: state.nextRestartAt ?? null,
    recent_execution_ids: state.executionIds,
  };
}

export function streamingRoutes(deps: StreamingDeps): Router {
  const router = Router();

  /** The job path of a continuous id the caller may see; undefined to let other routes handle the id. */
  const jobPathOf = (req: Request): { jobPath: string; team: string } | undefined => {
    const jobPath = jobPathOfContinuousId(String(req.params.id));
    if (!jobPath) return undefined;
    const team = jobPath.split('/')[0]!;
    if (!canAccess(req.principal!, team)) throw new HttpProblem(404, 'Not found', `no job "${String(req.params.id)}"`);
    return { jobPath, team };
  };
  const load = async (req: Request) => {
    const job = jobPathOf(req);
    if (!job) return undefined;
    const state = await continuousState(deps, job.jobPath);
    if (!state) throw new HttpProblem(404, 'Not found', `no streaming job "${String(req.params.id)}"`);
    return { ...job, state };
  };

  router.get('/api/v1/jobs/:id', async (req, res, next) => {
    const job = await load(req);
    if (!job) return next();
    res.json(view(String(req.params.id), job.team, job.state));
  });

  for (const [action, update] of [
    ['stop', stopUpdate],
    ['resume', resumeUpdate],
  ] as const) {
    router.post(`/api/v1/jobs/:id/${action}`, async (req, res, next) => {
      const job = await load(req);
      if (!job) return next();
      const handle = deps.client.workflow.getHandle(continuousWorkflowId(job.jobPath));
      try {
        if (update === stopUpdate)
          await handle.executeUpdate(stopUpdate, { args: [{ reason: `stopped by ${req.principal!.name}` }] });
        else await handle.executeUpdate(resumeUpdate, { args: [] });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError)
          throw new HttpProblem(409, 'Conflict', err.cause?.message ?? err.message);
        // The loop has ended (its manifest was deleted): there is nothing to stop or resume.
        if (err instanceof WorkflowNotFoundError)
          throw new HttpProblem(409, 'Conflict', `streaming job "${String(req.params.id)}" has ended; apply it again`);
        throw err;
      }
      const state = await continuousState(deps, job.jobPath);
      res.json(view(String(req.params.id), job.team, state!));
    });
  }

  return router;
}
