/**
 * One execution as a resource, under the reference's `/api/v1/jobs/{id}` (where `{id}` is the execution id; the
 * job forms of the id are in jobs.ts) and under `/api/v1/executions/{id}`: status (Check), events, logs (tail or
 * follow) and DELETE (Cancel); plus the filtered, cursor-paged list at `/api/v1/executions`. Another team's
 * execution answers 404, as if it did not exist.
 */
import type { Client } from '@temporalio/client';
import type { Response } from 'express';
import { z } from 'zod';
import type { SparkGateway } from '../../gateway/index.js';
import { EXECUTION_STATES, isTerminal } from '../../schema/states.js';
import { jobIdOf } from '../../schema/vocabulary.js';
import { cancelExecution } from '../../service/executions.js';
import { decodeCursor, type ExecutionRow, type ExecutionStore } from '../../store/executions.js';
import { canAccess } from '../auth.js';
import { defineRoute, reply, type Route } from '../route.js';
import { eventView, executionView } from '../views.js';
import * as wire from '../wire.js';
import { visibleExecution } from './jobs.js';

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

const IdParams = z.object({ id: z.string() });
const FOLLOW_POLL_MS = 500;

export function executionRoutes({ client, store, gateway }: ExecutionRoutesDeps): Route[] {
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

  const perExecution = (base: string): Route[] => [
    ...(base === '/api/v1/executions'
      ? [
          defineRoute({
            method: 'get',
            path: `${base}/{id}`,
            summary: 'Check an execution',
            params: IdParams,
            responses: { 200: wire.Execution, 404: 'problem' },
            async handler({ params, principal }) {
              return reply(200, wire.Execution, executionView(await visibleExecution(store, principal, params.id)));
            },
          }),
        ]
      : []),
    defineRoute({
      method: 'get',
      path: `${base}/{id}/events`,
      summary: 'Event history of an execution, oldest first',
      params: IdParams,
      responses: { 200: wire.EventList, 404: 'problem' },
      async handler({ params, principal }) {
        const row = await visibleExecution(store, principal, params.id);
        return reply(200, wire.EventList, { items: (await store.listEvents(row.executionId)).map(eventView) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: `${base}/{id}`,
      summary: 'Cancel an execution',
      params: IdParams,
      responses: { 202: wire.CancelAccepted, 404: 'problem', 409: 'problem' },
      async handler({ params, principal }) {
        const row = await visibleExecution(store, principal, params.id);
        await cancelExecution(
          { client },
          row,
          { reason: 'cancelled through the API', requestedBy: principal.name },
          { waitFor: 'accepted' },
        );
        return reply(202, wire.CancelAccepted, {
          job_id: jobIdOf(row.jobPath),
          execution_id: row.executionId,
          status: 'CANCEL_REQUESTED',
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: `${base}/{id}/logs`,
      summary: 'Driver logs (text); follow=true streams until the execution ends',
      params: IdParams,
      query: LogsQuery,
      responses: { 200: { text: 'the driver log' }, 400: 'problem', 404: 'problem' },
      async handler({ params, query, principal, res }) {
        const row = await visibleExecution(store, principal, params.id);
        res.type('text/plain; charset=utf-8');
        if (query.follow === 'true') {
          await followLogs(res, row, query.tail);
          return undefined;
        }
        if (!row.backend || !row.vendorRunId) return { status: 200, body: '' };
        const ref = { executionId: row.executionId, attempt: row.attempt, vendorRunId: row.vendorRunId };
        return { status: 200, body: await gateway.backend(row.backend).logs(ref, { tail: query.tail }) };
      },
    }),
  ];

  return [
    defineRoute({
      method: 'get',
      path: '/api/v1/executions',
      summary: 'List executions, newest first',
      query: ListQuery,
      responses: { 200: wire.ExecutionPage, 400: 'problem' },
      async handler({ query: q, principal }) {
        // A member's list is always its own team's; asking for another team just finds nothing.
        if (q.team && !canAccess(principal, q.team)) return reply(200, wire.ExecutionPage, { items: [] });
        const page = await store.listExecutions({
          team: principal.role === 'admin' ? q.team : principal.team,
          jobPath: q.job,
          state: q.state,
          since: q.since ? new Date(q.since) : undefined,
          until: q.until ? new Date(q.until) : undefined,
          limit: q.limit,
          cursor: q.cursor,
        });
        return reply(200, wire.ExecutionPage, {
          items: page.items.map(executionView),
          ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}),
        });
      },
    }),
    ...perExecution('/api/v1/jobs'),
    ...perExecution('/api/v1/executions'),
  ];
}
