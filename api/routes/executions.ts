/**
 * One execution as a resource, reachable as /api/v1/jobs/{id} (the reference's routes) and as
 * /api/v1/executions/{id}: status (Check), events, logs (tail or follow) and DELETE (Cancel); plus the
 * filtered, cursor-paged list at /api/v1/executions. Another team's execution answers 404, as if it did not
 * exist.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import type { SparkGateway } from '../../gateway/index.js';
import { EXECUTION_STATES, isTerminal } from '../../schema/states.js';
import { decodeCursor, type ExecutionRow, type ExecutionStore } from '../../store/executions.js';
import { executionHandle } from '../../service/handles.js';
import { cancelUpdate } from '../../workflows/definitions.js';
import { canAccess } from '../auth.js';
import { HttpProblem, validationProblem } from '../problem.js';
import { eventView, jobStatusView } from '../views.js';

export interface ExecutionRoutesDeps {
  client: Client;
  store: ExecutionStore;
  gateway: SparkGateway;
}

export const ListQuery = z
  .object({
    team: z.string().optional(),
    job: z.string().optional().describe('job path, <team>/<name>'),
    state: z.enum(EXECUTION_STATES).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    until: z.iso.datetime({ offset: true }).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
    cursor: z
      .string()
      .refine((c) => {
        try {
          decodeCursor(c);
          return true;
        } catch {
          return false;
        }
      }, 'is not a cursor returned by this API')
      .optional(),
  })
  .strict();

export const LogsQuery = z
  .object({
    tail: z.coerce.number().int().min(1).max(100_000).optional(),
    follow: z.enum(['true', 'false']).optional(),
  })
  .strict();

const FOLLOW_POLL_MS = 500;

export function executionRoutes({ client, store, gateway }: ExecutionRoutesDeps): Router {
  const router = Router();

  const load = async (req: Request): Promise<ExecutionRow> => {
    const raw = String(req.params.id);
    const id = z.uuid().safeParse(raw);
    const row = id.success ? await store.getExecution(id.data) : undefined;
    if (!row || !canAccess(req.principal!, row.team)) throw new HttpProblem(404, 'Not found', `no execution "${raw}"`);
    return row;
  };

  router.get('/api/v1/executions', async (req, res) => {
    const query = ListQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(query.error, 'query');
    const q = query.data;
    const principal = req.principal!;
    // A member's list is always its own team's; asking for another team just finds nothing.
    if (principal.role !== 'admin' && q.team && q.team !== principal.team) return void res.json({ items: [] });
    const team = principal.role === 'admin' ? q.team : principal.team;
    const page = await store.listExecutions({
      team,
      jobPath: q.job,
      state: q.state,
      since: q.since ? new Date(q.since) : undefined,
      until: q.until ? new Date(q.until) : undefined,
      limit: q.limit,
      cursor: q.cursor,
    });
    res.json({ items: page.items.map(jobStatusView), ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}) });
  });

  for (const base of ['/api/v1/jobs/:id', '/api/v1/executions/:id']) {
    router.get(base, async (req, res) => {
      res.json(jobStatusView(await load(req)));
    });

    router.get(`${base}/events`, async (req, res) => {
      const row = await load(req);
      res.json({ items: (await store.listEvents(row.executionId)).map(eventView) });
    });

    router.delete(base, async (req, res) => {
      const row = await load(req);
      const finished = () =>
        new HttpProblem(409, 'Conflict', `execution ${row.executionId} already finished: ${row.state}`);
      if (isTerminal(row.state)) throw finished();
      try {
        await executionHandle(client, row.executionId).startUpdate(cancelUpdate, {
          args: [{ reason: 'cancelled through the API', requestedBy: req.principal!.name }],
          waitForStage: 'ACCEPTED',
        });
      } catch (err) {
        if (err instanceof WorkflowUpdateFailedError || err instanceof WorkflowNotFoundError) throw finished();
        throw err;
      }
      res.status(202).json({ job_id: row.executionId, execution_id: row.executionId, status: 'CANCEL_REQUESTED' });
    });

    router.get(`${base}/logs`, async (req, res) => {
      const row = await load(req);
      const query = LogsQuery.safeParse(req.query);
      if (!query.success) throw validationProblem(query.error, 'query');
      res.type('text/plain; charset=utf-8');
      if (query.data.follow === 'true') return followLogs(res, row, query.data.tail);
      if (!row.backend || !row.vendorRunId) return void res.send('');
      const ref = { executionId: row.executionId, attempt: row.attempt, vendorRunId: row.vendorRunId };
      res.send(await gateway.backend(row.backend).logs(ref, { tail: query.data.tail }));
    });
  }

  /** Streams each attempt's log as it is written, moving on to a retry's attempt, until the execution ends. */
  async function followLogs(res: Response, initial: ExecutionRow, tail?: number): Promise<void> {
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.flushHeaders();
    let row: ExecutionRow | undefined = initial;
    let followed = 0;
    while (row && !abort.signal.aborted) {
      if (row.vendorRunId && row.backend && row.attempt > followed) {
        followed = row.attempt;
        const ref = { executionId: row.executionId, attempt: row.attempt, vendorRunId: row.vendorRunId };
        const backend = gateway.backend(row.backend);
        // With tail=N, start where the last N lines written so far begin, rather than at the beginning.
        let skip = 0;
        if (tail !== undefined) {
          const [full, last] = await Promise.all([backend.logs(ref), backend.logs(ref, { tail })]);
          skip = Math.max(0, full.lastIndexOf(last.trimEnd()));
        }
        for await (const chunk of backend.followLogs(ref, abort.signal)) {
          if (skip >= chunk.length) {
            skip -= chunk.length;
            continue;
          }
          res.write(chunk.slice(skip));
          skip = 0;
        }
      } else if (isTerminal(row.state)) {
        break;
      } else {
        await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
      }
      row = await store.getExecution(initial.executionId);
    }
    res.end();
  }

  return router;
}
