/**
 * One execution as a resource, under the reference's `/api/v1/jobs/{id}` (where `{id}` is the execution id; the
 * job forms of the id are in jobs.ts) and under `/api/v1/executions/{id}`: status (Check), events, logs (tail or
 * follow) and DELETE (Cancel); plus the filtered, cursor-paged list at `/api/v1/executions`. Another team's
 * execution answers 404, as if it did not exist.
 */
import type { Client } from '@temporalio/client';
import type { Response } from 'express';
import { z } from 'zod';
import { apiPublicUrl, type Config } from '../../config/index.js';
import type { SparkGateway } from '../../gateway/index.js';
import { BACKENDS, EXECUTION_STATES, TRIGGERS } from '../../schema/states.js';
import { jobIdOf, jobPathOfContinuousId, jobPathOfJobId, teamOfJobPath } from '../../schema/vocabulary.js';
import { cancelExecution } from '../../service/executions.js';
import { followExecutionLog, readExecutionLog } from '../../service/logs.js';
import { decodeCursor, type ExecutionStore } from '../../store/executions.js';
import { authorizeTeam, canAccess } from '../auth.js';
import { HttpProblem } from '../problem.js';
import { defineRoute, reply, type Route } from '../route.js';
import { eventView, executionView, jobEventView } from '../views.js';
import * as wire from '../wire.js';
import { visibleExecution } from './jobs.js';

export interface ExecutionRoutesDeps {
  client: Client;
  store: ExecutionStore;
  gateway: SparkGateway;
  config: Pick<Config, 'API_PUBLIC_URL' | 'API_PORT'>;
}

export const ListQuery = z
  .object({
    team: z.string().optional(),
    job: z.string().optional().describe('job path, <team>/<name>'),
    state: z.enum(EXECUTION_STATES).optional(),
    trigger: z.enum(TRIGGERS).optional(),
    backend: z.enum(BACKENDS).optional(),
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
    attempt: z.coerce.number().int().min(1).optional().describe('the attempt (default: the current one)'),
  })
  .strict();

const IdParams = z.object({ id: z.string() });

/** Paging of a job's events (job ids only; an execution's events come whole). */
export const JobEventsQuery = z
  .object({
    after: z.coerce.number().int().min(0).optional().describe('only events after this seq'),
    limit: z.coerce.number().int().min(1).max(1000).default(200),
  })
  .strict();

function drainedOrClosed(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

export function executionRoutes({ client, store, gateway, config }: ExecutionRoutesDeps): Route[] {
  const apiUrl = apiPublicUrl(config);

  /** Writes a log stream as it comes; an error after the first byte can only cut the response off. */
  async function stream(res: Response, chunks: AsyncIterable<Uint8Array | string>): Promise<void> {
    if (!res.headersSent) res.setHeader('X-Content-Type-Options', 'nosniff');
    try {
      for await (const chunk of chunks) {
        if (res.destroyed) return;
        if (!res.headersSent) res.status(200);
        // Backpressure: no next chunk is read until the client took this one, so a slow reader holds at most a
        // chunk and the socket's buffer; a client gone while we wait ends the wait too (no hung stream).
        if (!res.write(chunk)) await drainedOrClosed(res);
      }
    } catch (err) {
      if (!res.headersSent) throw err;
      res.destroy(err as Error);
      return;
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
              const row = await visibleExecution(store, principal, params.id);
              return reply(200, wire.Execution, executionView(row, apiUrl));
            },
          }),
        ]
      : []),
    base === '/api/v1/jobs'
      ? defineRoute({
          method: 'get',
          path: `${base}/{id}/events`,
          summary:
            'Event history, oldest first: of an execution (id: the execution id), or of a job (id ' +
            "continuous-<team>.<name> or <team>.<name>: a streaming job's loop transitions and progress samples, " +
            'paged with ?after=<seq>&limit=N)',
          params: IdParams,
          query: JobEventsQuery,
          responses: { 200: z.union([wire.EventList, wire.JobEventList]), 400: 'problem', 404: 'problem' },
          async handler({ params, query, principal }) {
            const jobPath = jobPathOfContinuousId(params.id) ?? jobPathOfJobId(params.id);
            if (!jobPath) {
              const row = await visibleExecution(store, principal, params.id);
              return reply(200, wire.EventList, { items: (await store.listEvents(row.executionId)).map(eventView) });
            }
            authorizeTeam(principal, { read: teamOfJobPath(jobPath), what: `job "${params.id}"` });
            if (!(await store.getJob(jobPath))) throw new HttpProblem(404, 'Not found', `no job "${params.id}"`);
            const rows = await store.jobEvents.list(jobPath, {
              limit: query.limit + 1,
              ...(query.after !== undefined ? { afterSeq: query.after } : {}),
            });
            const page = rows.slice(0, query.limit);
            return reply(200, wire.JobEventList, {
              items: page.map(jobEventView),
              ...(rows.length > query.limit ? { next_after: page.at(-1)!.seq } : {}),
            });
          },
        })
      : defineRoute({
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
      summary:
        'Driver log (text) of the current attempt or ?attempt=N: archived once the attempt ended, else live; ' +
        'follow=true streams it, through later attempts, until the execution ends',
      params: IdParams,
      query: LogsQuery,
      responses: { 200: { text: 'the driver log' }, 400: 'problem', 404: 'problem' },
      async handler({ params, query, principal, res }) {
        const row = await visibleExecution(store, principal, params.id);
        res.type('text/plain; charset=utf-8');
        if (query.follow === 'true') {
          const abort = new AbortController();
          res.on('close', () => abort.abort());
          res.setHeader('X-Content-Type-Options', 'nosniff');
          res.flushHeaders();
          await stream(
            res,
            followExecutionLog({ store, gateway }, row.executionId, {
              ...(query.tail !== undefined ? { tail: query.tail } : {}),
              ...(query.attempt !== undefined ? { attempt: query.attempt } : {}),
              signal: abort.signal,
            }),
          );
          return undefined;
        }
        const chunks = readExecutionLog({ store, gateway }, row, { attempt: query.attempt, tail: query.tail });
        // Read the first chunk before answering, so an attempt the execution never had is a 404, not a cut stream.
        const iterator = chunks[Symbol.asyncIterator]();
        const first = await iterator.next();
        if (first.done) return { status: 200, body: '' };
        await stream(
          res,
          (async function* () {
            yield first.value;
            for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
          })(),
        );
        return undefined;
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
          trigger: q.trigger,
          backend: q.backend,
          since: q.since ? new Date(q.since) : undefined,
          until: q.until ? new Date(q.until) : undefined,
          limit: q.limit,
          cursor: q.cursor,
        });
        return reply(200, wire.ExecutionPage, {
          items: page.items.map((row) => executionView(row, apiUrl)),
          ...(page.nextCursor ? { next_cursor: page.nextCursor } : {}),
        });
      },
    }),
    ...perExecution('/api/v1/jobs'),
    ...perExecution('/api/v1/executions'),
  ];
}
