/**
 * /api/v1/sessions: interactive Spark Connect sessions. Create (the answer holds `connect_url`, the only copy of
 * the session token; `?wait=true` answers once the session is READY), get, events, list (the caller's team; an
 * admin's `team` filter) and DELETE (release: answers once the session is ENDED and its server stopped; releasing
 * an ended session answers it again). Another team's session is a 404, as if it did not exist.
 */
import { z } from 'zod';
import type { Config } from '../../config/index.js';
import { SESSION_STATES } from '../../schema/session-states.js';
import { NotFound, Unavailable } from '../../service/errors.js';
import { connectEndpointOf, connectUrl, type ConnectEndpoint } from '../../gateway/connect/endpoint.js';
import { createSession, releaseSession, waitForSession, type SessionDeps } from '../../service/sessions.js';
import type { SessionRow, SessionStore } from '../../store/sessions.js';
import { authorizeOwner, authorizeTeam, canAccess, USER_NAME, type Principal } from '../auth.js';
import { defineRoute, reply, type Route } from '../route.js';
import { sessionEventView, sessionView } from '../views.js';
import * as wire from '../wire.js';

export const CreateSessionBody = z
  .object({
    team: z.string().min(1).optional().describe('required with an admin token; a member creates for its own team'),
    user: USER_NAME.optional().describe('who the session is for (recorded as its owner)'),
    spark_version: z.string().min(1).optional().describe('default: the first of SESSION_SPARK_VERSIONS (4.0)'),
    pool: z.string().min(1).optional().describe("a warm pool to lease from; default: the team's pool for the version"),
    idle_timeout_s: z
      .number()
      .int()
      .min(1)
      .max(7 * 86_400)
      .optional(),
    max_lifetime_s: z
      .number()
      .int()
      .min(1)
      .max(30 * 86_400)
      .optional(),
  })
  .strict();
export const CreateSessionQuery = z
  .object({ wait: z.enum(['true', 'false']).optional().describe('answer once the session is READY') })
  .strict();
export const SessionListQuery = z
  .object({
    team: z.string().optional(),
    state: z.enum(SESSION_STATES).optional(),
    limit: z.coerce.number().int().min(1).max(500).default(50),
  })
  .strict();

const IdParams = z.object({ id: z.string() });

export interface SessionRoutesDeps {
  client: SessionDeps['client'];
  config: Config;
  /** Absent in a process without the sessions store: the routes answer 503. */
  sessions?: SessionStore;
  /** Where notebooks reach the proxy; default: from the configuration (connectEndpointOf). */
  connect?: ConnectEndpoint;
  gateway: { inventory: { kubernetes?: { teamDomains: Readonly<Record<string, string>>; defaultDomain: string } } };
}

/** A ?wait=true create answers after at most this long, ready or not (the state says which). */
const WAIT_LIMIT_MS = 5 * 60_000;

export function sessionRoutes(deps: SessionRoutesDeps): Route[] {
  const service = (): SessionDeps => {
    if (!deps.sessions) throw new Unavailable('Spark Connect sessions are not served by this process');
    const kubernetes = deps.gateway.inventory.kubernetes;
    return {
      client: deps.client,
      sessions: deps.sessions,
      config: deps.config,
      ...(kubernetes
        ? { domains: { teamDomains: kubernetes.teamDomains, defaultDomain: kubernetes.defaultDomain } }
        : {}),
    };
  };
  /** The session, once the caller may see it; 404 otherwise (also for an id that is not a UUID). */
  const visible = async (principal: Principal, id: string): Promise<SessionRow> => {
    const row = z.uuid().safeParse(id).success ? await service().sessions.getSession(id) : undefined;
    if (!row) throw new NotFound(`no session ${id}`);
    authorizeTeam(principal, { read: row.team, what: `session ${id}` });
    return row;
  };

  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/sessions',
      summary: 'Create an interactive Spark Connect session; its connect_url holds the only copy of its token',
      query: CreateSessionQuery,
      body: { json: { CreateSessionBody }, schema: CreateSessionBody, required: true },
      responses: {
        201: wire.SessionCreated,
        400: 'problem',
        403: 'problem',
        404: 'problem',
        413: 'problem',
        422: 'problem',
        503: 'problem',
      },
      async handler({ body, query, principal }) {
        const team = authorizeTeam(principal, { submit: body.team });
        const deps_ = service();
        const created = await createSession(deps_, {
          team,
          owner: authorizeOwner(principal, body.user),
          ...(body.spark_version ? { sparkVersion: body.spark_version } : {}),
          ...(body.pool ? { pool: body.pool } : {}),
          ...(body.idle_timeout_s !== undefined ? { idleTimeoutS: body.idle_timeout_s } : {}),
          ...(body.max_lifetime_s !== undefined ? { maxLifetimeS: body.max_lifetime_s } : {}),
        });
        const row =
          query.wait === 'true'
            ? await waitForSession(
                deps_,
                created.row.sessionId,
                Math.min(WAIT_LIMIT_MS, deps.config.SESSION_START_TIMEOUT_MS),
              )
            : created.row;
        const endpoint = deps.connect ?? connectEndpointOf(deps.config);
        return reply(201, wire.SessionCreated, {
          ...sessionView(row),
          connect_url: connectUrl(endpoint, row.sessionId, created.token),
        });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/sessions',
      summary: 'The sessions the caller may see, newest first',
      query: SessionListQuery,
      responses: { 200: wire.SessionList, 400: 'problem', 503: 'problem' },
      async handler({ query, principal }) {
        // A member's list is always its own team's; asking for another team just finds nothing.
        if (query.team && !canAccess(principal, query.team)) return reply(200, wire.SessionList, { items: [] });
        const rows = await service().sessions.listSessions({
          ...(principal.role === 'admin' ? (query.team ? { team: query.team } : {}) : { team: principal.team }),
          ...(query.state ? { state: query.state } : {}),
          limit: query.limit,
        });
        return reply(200, wire.SessionList, { items: rows.map(sessionView) });
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/sessions/{id}',
      summary: 'A session: its state, times, pool and, once ended, why',
      params: IdParams,
      responses: { 200: wire.Session, 404: 'problem', 503: 'problem' },
      async handler({ params, principal }) {
        return reply(200, wire.Session, sessionView(await visible(principal, params.id)));
      },
    }),
    defineRoute({
      method: 'get',
      path: '/api/v1/sessions/{id}/events',
      summary: "A session's history: REQUESTED, LEASED or STARTING, READY, IDLE, RELEASE_REQUESTED, ENDED",
      params: IdParams,
      responses: { 200: wire.SessionEventList, 404: 'problem', 503: 'problem' },
      async handler({ params, principal }) {
        const row = await visible(principal, params.id);
        const events = await service().sessions.events(row.sessionId);
        return reply(200, wire.SessionEventList, { items: events.map(sessionEventView) });
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/api/v1/sessions/{id}',
      summary: 'Release a session: answers once it has ENDED and its server is stopped (idempotent)',
      params: IdParams,
      responses: { 200: wire.Session, 404: 'problem', 503: 'problem' },
      async handler({ params, principal }) {
        const row = await visible(principal, params.id);
        const ended = await releaseSession(service(), row, {
          requestedBy: principal.name,
          reason: `released by ${principal.name}`,
        });
        return reply(200, wire.Session, sessionView(ended));
      },
    }),
  ];
}
