/**
 * Team isolation over every declared route and method, generated from the route declarations (declaredRoutes()),
 * so a route added later joins the matrix by itself, and fails it until the table below knows how to aim it at
 * another team's things. Real Temporal and Postgres; jobs run on the sim backend; team A's session is a row
 * written through the sessions store (a live one would need a Spark Connect JVM, and its routes read only the row).
 *
 * - With team B's token, every route that names one of team A's things answers 404 or 403, every list answers
 *   without A's things, every create for team A is refused, and nothing of either team changes.
 * - With no token, every route but the public ones answers 401; with a bad one, 401 too.
 * - A declared path asked with a method it does not take answers 405 with the right `Allow`.
 */
import crypto from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declaredRoutes } from '../../api/openapi.js';
import { METHODS, type Route } from '../../api/route.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { openDatabase, type Database } from '../../store/db.js';
import { SessionStore } from '../../store/sessions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;
let database: Database;
const sim = createSimBackend();
const suffix = crypto.randomUUID().slice(0, 8);
// Two teams no other test file uses (they share one Postgres), each with a member token.
const A = `iso-a-${suffix}`;
const B = `iso-b-${suffix}`;
const TOKEN_A = crypto.randomUUID();
const TOKEN_B = crypto.randomUUID();
const JOB = 'long-run';
const SCHEDULED = 'yearly';
let executionId: string;
const sessionId = crypto.randomUUID();
const EXECUTION = '<execution>';

type Json = Record<string, unknown>;

async function call(method: string, url: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = { Accept: 'application/json, text/event-stream' };
  if (token !== undefined) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${api.url}${url}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const simJob = (name: string, extra: Json = {}): Json => ({
  name,
  engineVersion: '4.0',
  backend: 'sim',
  application: { type: 'python', file: 'job.py' },
  // Runs for ten minutes: long enough that a cancel that got through would show.
  sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 600_000 }] },
  ...extra,
});

const manifestOf = (team: string) => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata: { name: ${SCHEDULED}, team: ${team} }
spec:
  engine: { version: "4.0" }
  backend: sim
  application: { type: python, file: job.py }
  orchestration: { schedule: "@yearly" }
`;

/** A digest of every row of both teams in every table that holds a team's things. */
async function fingerprint(): Promise<string> {
  const { rows } = await database.db.execute(sql`
    select md5(coalesce(string_agg(r, '|' order by r), '')) as digest from (
      select x::text as r from executions x where x.team in (${A}, ${B})
      union all select e::text from execution_events e join executions x using (execution_id) where x.team in (${A}, ${B})
      union all select j::text from jobs j where j.team in (${A}, ${B})
      union all select s::text from sessions s where s.team in (${A}, ${B})
      union all select v::text from session_events v join sessions s using (session_id) where s.team in (${A}, ${B})
      union all select p::text from session_pools p where p.team in (${A}, ${B})
    ) t`);
  return (rows[0] as { digest: string }).digest;
}

beforeAll(async () => {
  stack = await openTestStack();
  await stack.startWorker({ sim });
  database = openDatabase(stack.config.DATABASE_URL!);
  const sessions = new SessionStore(database.db);
  api = await startTestApi(stack, { backends: { sim }, sessions, teamTokens: { [A]: TOKEN_A, [B]: TOKEN_B } });
  // Team A's things: a running execution, a scheduled job, a session.
  const submitted = await call('POST', '/api/v1/jobs', TOKEN_A, simJob(JOB));
  expect(submitted.status).toBe(202);
  executionId = (JSON.parse(submitted.text) as Json).execution_id as string;
  await eventually('team A execution RUNNING', async () =>
    (await stack.store.getExecution(executionId))?.state === 'RUNNING' ? true : undefined,
  );
  const applied = await call('POST', '/api/v1/manifests', TOKEN_A, { manifest: manifestOf(A) });
  expect(applied.status).toBe(200);
  await sessions.createSession({
    sessionId,
    team: A,
    owner: `${A}-bot`,
    state: 'READY',
    sparkVersion: '4.0',
    tokenHash: crypto.randomBytes(32).toString('hex'),
    idleTimeoutS: 600,
    maxLifetimeS: 3600,
    expiresAt: new Date(Date.now() + 3_600_000),
    workflowId: `session-${sessionId}`,
  });
}, 120_000);

afterAll(async () => {
  await call('DELETE', `/api/v1/executions/${executionId}`, api?.tokens.admin).catch(() => undefined);
  await call('DELETE', '/api/v1/manifests', TOKEN_A, { manifest: manifestOf(A) }).catch(() => undefined);
  await api?.close();
  await database?.close();
  await stack?.close();
});

/** The values of team A's things, by the path parameter that names them, for each path that has one. */
function aimsAtA(route: Route): Record<string, string>[] {
  const names = [...route.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
  if (names.length === 0) return [{}];
  if (route.path.startsWith('/api/v1/manifests/jobs/{team}/{name}')) return [{ team: A, name: SCHEDULED }];
  if (route.path.startsWith('/api/v1/jobs/{id}')) {
    // Under /jobs, {id} is an execution or a job: both are tried.
    return [{ id: EXECUTION }, { id: `${A}.${JOB}` }, { id: `${A}.${SCHEDULED}` }];
  }
  if (route.path.startsWith('/api/v1/executions/{id}')) return [{ id: EXECUTION }];
  if (route.path.startsWith('/api/v1/schedules/{id}')) return [{ id: `sched-${A}.${SCHEDULED}` }];
  if (route.path.startsWith('/api/v1/sessions/{id}')) return [{ id: sessionId }];
  throw new Error(`the isolation matrix does not know how to aim ${route.method} ${route.path} at team A: add it`);
}

/** A body that asks for something of team A's, by the body schema's name. */
function bodyForA(route: Route): unknown {
  if (!route.body) return undefined;
  const name = Object.keys(route.body.json)[0]!;
  switch (name) {
    case 'SubmitBody':
      return simJob('intruder', { team: A });
    case 'ManifestJsonBody':
      return { manifest: manifestOf(A) };
    case 'ScheduleNote':
      return { note: 'by team B' };
    case 'ScheduleTrigger':
      return {};
    case 'ScheduleBackfill':
      return { start: '2026-01-01T00:00:00Z', end: '2026-01-02T00:00:00Z' };
    case 'ResourcesPatch':
      return { executor: { instances: 2 } };
    case 'CreateSessionBody':
      return { team: A };
    case 'McpMessage':
      return {
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'cancel_execution', arguments: { executionId, confirm: true } },
      };
    default:
      throw new Error(`the isolation matrix has no team-A body for ${name} (${route.method} ${route.path}): add one`);
  }
}

/** The path with its parameters; EXECUTION stands for team A's execution id, known only once it was submitted. */
const url = (route: Route, params: Record<string, string>, resolve = true) =>
  route.path.replace(/\{(\w+)\}/g, (_, name: string) =>
    !resolve ? params[name]! : params[name] === EXECUTION ? executionId : encodeURIComponent(params[name]!),
  );

const guarded = declaredRoutes().filter((r) => !r.public);
const cases = guarded.flatMap((route) =>
  aimsAtA(route).map((params) => ({
    name: `${route.method.toUpperCase()} ${url(route, params, false)}`.replaceAll(A, 'A'),
    route,
    params,
  })),
);

describe("another team's token", () => {
  it('covers every declared route that needs a token', () => {
    expect(new Set(cases.map((c) => c.route))).toEqual(new Set(guarded));
  });

  it.each(cases.map((c) => [c.name, c] as const))(
    '%s: refused or shown without team A, and nothing changes',
    async (_name, { route, params }) => {
      const before = await fingerprint();
      const r = await call(route.method.toUpperCase(), url(route, params), TOKEN_B, bodyForA(route));
      const named = route.path.includes('{');
      if (route.path === '/mcp') {
        // A JSON-RPC answer whose tool, calling the API with B's token, found nothing to cancel.
        expect(r.status).toBe(200);
        expect(r.text).toMatch(/"isError":\s*true/);
        expect(r.text).not.toMatch(/CANCEL_REQUESTED|cancellation requested/i);
      } else if (named || route.method !== 'get') {
        expect([403, 404], r.text).toContain(r.status);
      } else {
        expect(r.status, r.text).toBe(200);
        expect(r.text).not.toContain(A);
      }
      // A list never shows A's execution (a refusal may echo the id it was asked for).
      if (!named && route.method === 'get') expect(r.text).not.toContain(executionId);
      expect(await fingerprint()).toBe(before);
    },
  );

  it("leaves team A's execution running and its schedule unpaused", async () => {
    expect((await stack.store.getExecution(executionId))?.state).toBe('RUNNING');
    const schedule = await call('GET', `/api/v1/schedules/sched-${A}.${SCHEDULED}`, TOKEN_A);
    expect(schedule.status).toBe(200);
    expect(JSON.parse(schedule.text)).toMatchObject({ paused: false });
    // The session is still team A's and still there.
    expect((await call('GET', `/api/v1/sessions/${sessionId}`, TOKEN_A)).status).toBe(200);
  });
});

describe('no token', () => {
  it.each(cases.map((c) => [c.name, c] as const))(
    '%s without a token is a 401, and with an unknown token too',
    async (_name, { route, params }) => {
      const before = await fingerprint();
      for (const token of [undefined, 'not-a-token']) {
        const r = await call(route.method.toUpperCase(), url(route, params), token, bodyForA(route));
        expect(r.status).toBe(401);
        expect(r.headers.get('www-authenticate')).toBe('Bearer');
      }
      expect(await fingerprint()).toBe(before);
    },
  );

  it('serves the public routes without one', async () => {
    for (const route of declaredRoutes().filter((r) => r.public)) {
      expect([200, 503]).toContain((await call(route.method.toUpperCase(), route.path, undefined)).status);
    }
  });
});

describe('methods a path does not take', () => {
  const byPath = new Map<string, Set<string>>();
  for (const r of declaredRoutes()) byPath.set(r.path, (byPath.get(r.path) ?? new Set()).add(r.method));
  const undeclared = [...byPath].flatMap(([path, methods]) =>
    METHODS.filter((m) => !methods.has(m)).map((m) => ({ path, method: m, methods })),
  );

  it.each(undeclared.map((u) => [`${u.method.toUpperCase()} ${u.path}`, u] as const))(
    '%s answers 405 with Allow',
    async (_name, { path, method, methods }) => {
      const concrete = path.replace(/\{(\w+)\}/g, 'x');
      const r = await call(method.toUpperCase(), concrete, api.tokens.admin);
      // A more specific path of the same shape may take the method (e.g. /jobs/{id}/stop vs /jobs/{id}/events).
      const siblings = [...byPath].filter(([p]) => p !== path && concrete === p.replace(/\{(\w+)\}/g, 'x'));
      if (siblings.some(([, m]) => m.has(method))) return;
      expect(r.status).toBe(405);
      const allow = new Set(r.headers.get('allow')?.split(', '));
      for (const m of methods) expect(allow).toContain(m.toUpperCase());
      expect(allow.has(method.toUpperCase())).toBe(false);
    },
  );
});
