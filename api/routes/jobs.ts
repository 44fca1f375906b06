/**
 * The reference's job routes: POST /api/v1/jobs (Submit), GET /api/v1/jobs/{id} (Check), DELETE (Cancel) and
 * GET /api/v1/jobs/{id}/logs, plus the execution's event history. `{id}` is an execution id.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import type { SparkGateway } from '../../gateway/index.js';
import { JobSpec } from '../../schema/job-spec.js';
import { isTerminal } from '../../schema/states.js';
import type { ExecutionRow, ExecutionStore } from '../../store/executions.js';
import { workflowIdFor } from '../../store/ids.js';
import { submitExecution, SubmitRejected } from '../../service/submit.js';
import { cancelUpdate } from '../../workflows/definitions.js';
import { HttpProblem, validationProblem } from '../problem.js';
import { eventView, jobStatusView } from '../views.js';

export interface JobRoutesDeps {
  client: Client;
  store: ExecutionStore;
  gateway: SparkGateway;
  config: Config;
}

/** A submit body: the full JobSpec plus who submits it. */
export const SubmitBody = JobSpec.extend({
  team: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase DNS label'),
  user: z.string().min(1).optional(),
  idempotency_key: z.string().min(1).max(200).optional(),
});

const ExecutionId = z.uuid({ message: 'must be an execution id (a UUID)' });
const LogsQuery = z.object({ tail: z.coerce.number().int().min(1).max(100_000).optional() }).strict();

export function jobRoutes({ client, store, gateway, config }: JobRoutesDeps): Router {
  const router = Router();

  const load = async (req: Request): Promise<ExecutionRow> => {
    const id = ExecutionId.safeParse(req.params.id);
    if (!id.success) throw new HttpProblem(404, 'Not found', `no execution "${String(req.params.id)}"`);
    const row = await store.getExecution(id.data);
    if (!row) throw new HttpProblem(404, 'Not found', `no execution ${id.data}`);
    return row;
  };

  router.post('/api/v1/jobs', async (req, res) => {
    const body = SubmitBody.safeParse(req.body);
    if (!body.success) throw validationProblem(body.error);
    const { team, user, idempotency_key, ...spec } = body.data;
    const key = req.get('Idempotency-Key') ?? idempotency_key;
    try {
      const { execution, created } = await submitExecution(
        { client, store, config },
        { team, owner: user, trigger: 'api', spec, idempotencyKey: key },
      );
      res.status(202).json({
        job_id: execution.executionId,
        execution_id: execution.executionId,
        job_path: execution.jobPath,
        status: execution.state,
        message: created ? 'Job submitted successfully' : 'Job already submitted with this idempotency key',
      });
    } catch (err) {
      if (err instanceof SubmitRejected) {
        throw new HttpProblem(
          err.status,
          err.status === 409 ? 'Conflict' : 'Unprocessable request',
          err.message,
          err.field ? [{ path: err.field, message: err.message }] : undefined,
        );
      }
      throw err;
    }
  });

  router.get('/api/v1/jobs/:id', async (req, res) => {
    res.json(jobStatusView(await load(req)));
  });

  router.get('/api/v1/jobs/:id/events', async (req, res) => {
    const row = await load(req);
    res.json({ items: (await store.listEvents(row.executionId)).map(eventView) });
  });

  router.delete('/api/v1/jobs/:id', async (req, res) => {
    const row = await load(req);
    const finished = () =>
      new HttpProblem(409, 'Conflict', `execution ${row.executionId} already finished: ${row.state}`);
    if (isTerminal(row.state)) throw finished();
    try {
      await client.workflow.getHandle(workflowIdFor(row.executionId)).startUpdate(cancelUpdate, {
        args: [{ reason: 'cancelled through the API', requestedBy: row.owner ?? undefined }],
        waitForStage: 'ACCEPTED',
      });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw finished();
      throw err;
    }
    res.status(202).json({ job_id: row.executionId, execution_id: row.executionId, status: 'CANCEL_REQUESTED' });
  });

  router.get('/api/v1/jobs/:id/logs', async (req, res) => {
    const row = await load(req);
    const query = LogsQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(query.error, 'query');
    if (!row.backend || !row.vendorRunId) {
      res.type('text/plain').send('');
      return;
    }
    const ref = { executionId: row.executionId, attempt: row.attempt, vendorRunId: row.vendorRunId };
    res.type('text/plain').send(await gateway.get(row.backend).logs(ref, { tail: query.data.tail }));
  });

  return router;
}
