/**
 * The REST API over HTTP, with real Temporal and Postgres behind it. Jobs run on the sim backend here (the
 * README curl test and the CLI test run real Spark).
 */
import { sql } from 'drizzle-orm';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { WorkflowNotFoundError } from '@temporalio/client';
import { executionHandle } from '../../service/handles.js';
import { openDatabase, type Database } from '../../store/db.js';
import { executionIdFor } from '../../store/ids.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;
let database: Database;
const sim = createSimBackend();
// Test files share one Postgres: "creates nothing" is counted for a team only this file submits as.
const ISOLATED_TEAM = `api-test-${crypto.randomUUID().slice(0, 8)}`;
const ISOLATED_TOKEN = crypto.randomUUID();

beforeAll(async () => {
  stack = await openTestStack();
  await stack.startWorker({ sim });
  api = await startTestApi(stack, { backends: { sim }, teamTokens: { [ISOLATED_TEAM]: ISOLATED_TOKEN } });
  database = openDatabase(stack.config.DATABASE_URL!);
});
afterAll(async () => {
  await api?.close();
  await database?.close();
  await stack?.close();
});

type Json = Record<string, unknown>;

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined || options.raw !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers,
    body: options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body)),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return { status: res.status, type, text, json: (type.includes('json') ? JSON.parse(text) : undefined) as Json };
}

const job = (name: string, extra: Json = {}) => ({
  name,
  engineVersion: '4.0',
  backend: 'sim',
  application: { type: 'python', file: 'job.py' },
  sim: { attempts: [{ runningAfterMs: 100, endAfterMs: 600 }] },
  ...extra,
});

/** Rows of the isolated team, which only the requests under test submit as. */
async function counts() {
  const { rows } = await database.db.execute(
    sql`select (select count(*) from executions where team = ${ISOLATED_TEAM})::int as executions,
               (select count(*) from jobs where team = ${ISOLATED_TEAM})::int as jobs`,
  );
  return rows[0] as { executions: number; jobs: number };
}

async function finished(id: string, token = api.tokens.dataInfra): Promise<Json> {
  return eventually(`execution ${id} to finish`, async () => {
    const r = await call('GET', `/api/v1/jobs/${id}`, { token });
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.json.status as string) ? r.json : undefined;
  });
}

describe('submitting and checking jobs', () => {
  it('accepts a JobSpec with 202 and reports it through every execution route until it succeeds', async () => {
    const submit = await call('POST', '/api/v1/jobs', { token: api.tokens.dataInfra, body: job('routes') });
    expect(submit.status).toBe(202);
    expect(submit.json).toMatchObject({
      job_path: 'data-infra/routes',
      status: 'PENDING',
      message: 'Job submitted successfully',
    });
    const id = submit.json.execution_id as string;
    // job_id names the job, execution_id this run of it (issue 13: they used to be equal).
    expect(submit.json.job_id).toBe('data-infra.routes');

    const status = await finished(id);
    expect(status).toMatchObject({
      status: 'SUCCEEDED',
      attempts: 1,
      backend: 'sim',
      error: null,
      // Absolute, from API_PUBLIC_URL (unset here: localhost on API_PORT).
      logs_url: `http://localhost:${stack.config.API_PORT}/api/v1/jobs/${id}/logs`,
    });
    expect(Date.parse(status.start_time as string)).toBeLessThanOrEqual(Date.parse(status.end_time as string));

    const viaExecutions = await call('GET', `/api/v1/executions/${id}`, { token: api.tokens.dataInfra });
    expect(viaExecutions.json).toEqual(status);
    for (const base of ['jobs', 'executions']) {
      const events = await call('GET', `/api/v1/${base}/${id}/events`, { token: api.tokens.dataInfra });
      expect((events.json.items as Json[]).map((e) => e.event_type)).toEqual([
        'SUBMIT',
        'RUNNING',
        'TERMINAL',
        'METRICS_SUMMARY',
      ]);
      const logs = await call('GET', `/api/v1/${base}/${id}/logs?tail=1`, { token: api.tokens.dataInfra });
      expect(logs.type).toMatch(/^text\/plain/);
      expect(logs.text.trim().split('\n')).toHaveLength(1);
    }
  });

  it('answers GET /api/v1/jobs/{job_id} with the job and the reference status fields of its latest execution', async () => {
    const submit = await call('POST', '/api/v1/jobs', { token: api.tokens.dataInfra, body: job('the-job') });
    const id = submit.json.execution_id as string;
    await finished(id);
    const got = await call('GET', `/api/v1/jobs/${submit.json.job_id as string}`, { token: api.tokens.dataInfra });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({
      job_id: 'data-infra.the-job',
      job_path: 'data-infra/the-job',
      job_type: 'batch',
      execution_id: id,
      status: 'SUCCEEDED',
      logs_url: `http://localhost:${stack.config.API_PORT}/api/v1/jobs/${id}/logs`,
      last_execution: { execution_id: id, status: 'SUCCEEDED' },
      streaming: null,
    });
    const hidden = await call('GET', '/api/v1/jobs/data-infra.the-job', { token: api.tokens.other });
    expect(hidden.status).toBe(404);
    const listed = await call('GET', '/api/v1/jobs', { token: api.tokens.dataInfra });
    expect((listed.json.items as Json[]).map((j) => j.job_id)).toContain('data-infra.the-job');
    const foreign = await call('GET', '/api/v1/jobs', { token: api.tokens.other });
    expect((foreign.json.items as Json[]).every((j) => j.team === 'other-team')).toBe(true);
  });

  it('answers a streaming job submitted over REST with 422 pointing at manifests, creating nothing', async () => {
    const before = await counts();
    const r = await call('POST', '/api/v1/jobs', {
      token: ISOLATED_TOKEN,
      body: job('stream-over-rest', { jobType: 'streaming' }),
    });
    expect(r.status).toBe(422);
    expect(r.json.detail).toMatch(/declare it in a manifest .*POST \/api\/v1\/manifests/);
    expect(await counts()).toEqual(before);
  });

  it('streams logs with follow=true until the execution ends', async () => {
    const submit = await call('POST', '/api/v1/jobs', {
      token: api.tokens.dataInfra,
      body: job('follow', { sim: { attempts: [{ runningAfterMs: 100, endAfterMs: 1500 }] } }),
    });
    const id = submit.json.execution_id as string;
    const started = Date.now();
    const logs = await call('GET', `/api/v1/jobs/${id}/logs?follow=true`, { token: api.tokens.dataInfra });
    expect(logs.status).toBe(200);
    expect(logs.text).toMatch(/SUCCEEDED/);
    expect(Date.now() - started).toBeGreaterThan(500);
    expect((await finished(id)).status).toBe('SUCCEEDED');
    const lastLine = await call('GET', `/api/v1/jobs/${id}/logs?follow=true&tail=1`, { token: api.tokens.dataInfra });
    expect(lastLine.text.trim().split('\n')).toEqual([logs.text.trim().split('\n').at(-1)]);
  });

  // Running it for real is readme-examples.test.ts's: the README's REST example on local Spark and Iceberg.
  it("accepts the reference's request body and turns it into a CoreETL application (a dry run)", async () => {
    const body = {
      name: 'my-etl-job',
      team: 'data-infra',
      user: 'user@example.com',
      config: {
        spark_version: '3.5',
        job_type: 'BATCH',
        core_etl: {
          version: '2.7.0',
          job_spec: {
            sources: [{ type: 'iceberg', catalog: 'pedregal', database: 'raw', table: 'events' }],
            transformations: [{ type: 'sql', query: "SELECT * FROM source WHERE event_type = 'order'" }],
            sinks: [{ type: 'iceberg', catalog: 'pedregal', database: 'derived', table: 'processed_events' }],
          },
        },
        resources: { driver: { cores: 2, memory: '4g' }, executor: { instances: 5, cores: 4, memory: '8g' } },
      },
    };
    // An admin token: the body names a user, which a member token may only do for itself.
    const dry = await call('POST', '/api/v1/jobs?dryRun=true', { token: api.tokens.admin, body });
    expect(dry.status).toBe(200);
    expect(dry.json).toMatchObject({
      dry_run: true,
      job_path: 'data-infra/my-etl-job',
      spec: {
        engineVersion: '3.5',
        application: {
          type: 'coreEtl',
          jarPath: 's3://core-etl-build-artifacts/jars/2.7.0/core-etl-driver-bundle.jar',
        },
        resources: { executor: { instances: 5, cores: 4, memoryMb: 8192 } },
      },
    });
    // On local Spark the builtin runtime runs the spec, not the jar (which cannot be fetched here).
    expect(JSON.stringify(dry.json.payload)).toContain('coreetl/runtime.py');
  });

  it('returns the backend payload for dryRun=true and creates nothing', async () => {
    const before = await counts();
    const dry = await call('POST', '/api/v1/jobs?dryRun=true', {
      token: ISOLATED_TOKEN,
      // Under the directory the API started in, one of LOCAL_APPLICATION_ROOTS.
      body: { ...job('dry'), backend: 'local', application: { type: 'python', file: 'jobs/etl.py' } },
    });
    expect(dry.status).toBe(200);
    expect(dry.json.backend).toBe('local');
    expect(JSON.stringify(dry.json.payload)).toContain('jobs/etl.py');
    expect(await counts()).toEqual(before);
  });
});

describe('idempotency', () => {
  it('returns the same execution for a repeated Idempotency-Key, and 409 when the body differs', async () => {
    const headers = { 'Idempotency-Key': 'deploy-2024-01-15' };
    const first = await call('POST', '/api/v1/jobs', { token: api.tokens.dataInfra, body: job('keyed'), headers });
    const second = await call('POST', '/api/v1/jobs', { token: api.tokens.dataInfra, body: job('keyed'), headers });
    expect(first.status).toBe(202);
    expect(second.status).toBe(202);
    expect(second.json.execution_id).toBe(first.json.execution_id);
    expect(second.json.message).toMatch(/already submitted/);
    const changed = await call('POST', '/api/v1/jobs', {
      token: api.tokens.dataInfra,
      body: job('keyed', { args: ['x'] }),
      headers,
    });
    expect(changed.status).toBe(409);
    expect(changed.type).toMatch(/problem\+json/);
    expect(changed.json.detail).toMatch(/already used for a different request/);
    await finished(first.json.execution_id as string);
    expect(sim.submissions(first.json.execution_id as string)).toBe(1);
  });
});

describe('teams and tokens', () => {
  it("hides another team's executions: 404 to see, cancel or read, and absent from lists", async () => {
    const submit = await call('POST', '/api/v1/jobs', {
      token: api.tokens.dataInfra,
      body: job('private', { sim: { attempts: [{ runningAfterMs: 100, endAfterMs: 60_000 }] } }),
    });
    const id = submit.json.execution_id as string;
    for (const [method, path] of [
      ['GET', `/api/v1/jobs/${id}`],
      ['GET', `/api/v1/executions/${id}/events`],
      ['GET', `/api/v1/jobs/${id}/logs`],
      ['DELETE', `/api/v1/jobs/${id}`],
    ] as const) {
      const r = await call(method, path, { token: api.tokens.other });
      expect(r.status, `${method} ${path}`).toBe(404);
      expect(r.json.detail).toBe(`no execution "${id}"`);
    }
    const otherList = await call('GET', '/api/v1/executions?team=data-infra', { token: api.tokens.other });
    expect(otherList.json.items).toEqual([]);
    const adminView = await call('GET', `/api/v1/jobs/${id}`, { token: api.tokens.admin });
    expect(adminView.status).toBe(200);

    const cancel = await call('DELETE', `/api/v1/jobs/${id}`, { token: api.tokens.dataInfra });
    expect(cancel.status).toBe(202);
    expect((await finished(id)).status).toBe('CANCELLED');
    const again = await call('DELETE', `/api/v1/jobs/${id}`, { token: api.tokens.dataInfra });
    expect(again.status).toBe(409);
    expect(again.json.detail).toMatch(/already finished: CANCELLED/);
  });

  it('refuses requests without a valid token, and members submitting for another team', async () => {
    expect((await call('GET', '/api/v1/executions')).status).toBe(401);
    const bad = await call('GET', '/api/v1/executions', { token: 'nope' });
    expect(bad.status).toBe(401);
    expect(bad.json.detail).toMatch(/not recognised/);
    const foreign = await call('POST', '/api/v1/jobs', {
      token: api.tokens.dataInfra,
      body: { ...job('x'), team: 'other-team' },
    });
    expect(foreign.status).toBe(403);
    const adminNoTeam = await call('POST', '/api/v1/jobs', { token: api.tokens.admin, body: job('x') });
    expect(adminNoTeam.status).toBe(400);
    expect(adminNoTeam.json.errors).toEqual([{ path: 'team', message: 'required' }]);
  });
});

describe('listing executions', () => {
  it('filters by team, job and state, and pages with a cursor without repeating or skipping', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await call('POST', '/api/v1/jobs', { token: api.tokens.other, body: job('paged') });
      ids.push(r.json.execution_id as string);
    }
    await Promise.all(ids.map((id) => finished(id, api.tokens.other)));
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call(
        'GET',
        `/api/v1/executions?job=other-team/paged&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
        {
          token: api.tokens.other,
        },
      );
      expect(page.status).toBe(200);
      seen.push(...(page.json.items as Json[]).map((e) => e.execution_id as string));
      cursor = page.json.next_cursor as string | undefined;
    } while (cursor);
    expect(seen.sort()).toEqual([...ids].sort());
    const succeeded = await call('GET', '/api/v1/executions?state=SUCCEEDED&team=other-team', {
      token: api.tokens.admin,
    });
    expect((succeeded.json.items as Json[]).every((e) => e.team === 'other-team' && e.status === 'SUCCEEDED')).toBe(
      true,
    );
    const badQuery = await call('GET', '/api/v1/executions?state=DONE&cursor=zzz', { token: api.tokens.admin });
    expect(badQuery.status).toBe(400);
    expect((badQuery.json.errors as Json[]).map((e) => e.path).sort()).toEqual(['query.cursor', 'query.state']);
  });
});

describe('bad input changes nothing', () => {
  const cases: [string, { raw?: string; body?: unknown }, number, RegExp, string?][] = [
    ['malformed JSON', { raw: '{"name": "x",' }, 400, /not valid JSON/],
    ['an oversized body', { body: { ...job('big'), labels: { blob: 'x'.repeat(300 * 1024) } } }, 413, /too large/i],
    ['an unknown field', { body: { ...job('unknown'), colour: 'blue' } }, 400, /colour/, 'colour'],
    [
      'an unknown nested field',
      { body: job('nested', { resources: { driver: { memroy: '2g' } } }) },
      400,
      /memroy/,
      'resources.driver.memroy',
    ],
    [
      'a forbidden sparkConf key',
      { body: job('conf', { sparkConf: { 'spark.kubernetes.authenticate.driver.serviceAccountName': 'root' } }) },
      400,
      /spark\.kubernetes\.authenticate\.driver\.serviceAccountName/,
      'sparkConf.spark.kubernetes.authenticate.driver.serviceAccountName',
    ],
    [
      'an invalid engine version',
      { body: job('engine', { engineVersion: '2.4' }) },
      422,
      /engine version "2\.4" is not supported/,
      'engineVersion',
    ],
    [
      'a malformed engine version',
      { body: job('engine2', { engineVersion: 'latest' }) },
      400,
      /engineVersion/,
      'engineVersion',
    ],
    // Configured as `npm run dev` is (local Spark, no GATEWAY_CONFIG), plus the sim backend this file uses.
    [
      'backend emr, which this deployment does not have',
      { body: job('emr', { backend: 'emr', application: { type: 'python', file: 's3://b/job.py' } }) },
      422,
      /^backend "emr" is not configured here \(configured: .*local/,
      'backend',
    ],
    [
      'backend kubernetes, which this deployment does not have',
      { body: job('k8s', { backend: 'kubernetes' }) },
      422,
      /^backend "kubernetes" is not configured here/,
      'backend',
    ],
  ];
  it('counts what a submission under the isolated team creates', async () => {
    const before = await counts();
    const r = await call('POST', '/api/v1/jobs', { token: ISOLATED_TOKEN, body: job('counted') });
    expect(r.status).toBe(202);
    await finished(r.json.execution_id as string, ISOLATED_TOKEN);
    expect(await counts()).toEqual({ executions: before.executions + 1, jobs: before.jobs + 1 });
  });

  it('starts no workflow for a backend this deployment does not have', async () => {
    const key = `no-such-backend-${crypto.randomUUID()}`;
    const r = await call('POST', '/api/v1/jobs', {
      token: ISOLATED_TOKEN,
      body: job('no-workflow', { backend: 'emr' }),
      headers: { 'Idempotency-Key': key },
    });
    expect(r.status).toBe(422);
    const id = executionIdFor(ISOLATED_TEAM, key);
    expect(await stack.store.getExecution(id)).toBeUndefined();
    await expect(executionHandle(stack.client, id).describe()).rejects.toThrow(WorkflowNotFoundError);
  });

  it.each(cases)('rejects %s with a problem naming it', async (_name, request, status, detail, path) => {
    const before = await counts();
    const r = await call('POST', '/api/v1/jobs', { token: ISOLATED_TOKEN, ...request });
    expect(r.status).toBe(status);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.json.detail).toMatch(detail);
    expect(r.text).not.toMatch(/\n\s+at /);
    if (path) expect((r.json.errors as Json[]).map((e) => e.path)).toContain(path);
    expect(await counts()).toEqual(before);
  });
});

describe('service routes', () => {
  it('reports each dependency on /healthz and readiness on /readyz, without a token', async () => {
    const health = await call('GET', '/healthz');
    expect(health.json).toEqual({
      status: 'up',
      components: { temporal: { status: 'up' }, postgres: { status: 'up' }, spark: { status: 'up' } },
    });
    expect((await call('GET', '/readyz')).status).toBe(200);
  });

  it('serves an OpenAPI document generated from the request schemas', async () => {
    const doc = await call('GET', '/api/v1/openapi.json');
    expect(doc.json.openapi).toBe('3.1.0');
    const schemas = (
      doc.json.components as { schemas: Record<string, { properties?: Json; additionalProperties?: unknown }> }
    ).schemas;
    expect(Object.keys(schemas.SubmitBody!.properties!)).toEqual(
      expect.arrayContaining(['name', 'engineVersion', 'application', 'sparkConf', 'resources', 'team']),
    );
    expect(schemas.SubmitBody!.additionalProperties).toBe(false);
    expect(Object.keys(doc.json.paths as Json)).toEqual(
      expect.arrayContaining(['/api/v1/jobs', '/api/v1/executions', '/api/v1/jobs/{id}/logs']),
    );
  });

  it('exposes Prometheus metrics for requests, submissions and executions by state', async () => {
    const metrics = await call('GET', '/metrics');
    expect(metrics.type).toMatch(/^text\/plain/);
    expect(metrics.text).toMatch(
      /spark_runner_http_requests_total\{method="POST",route="\/api\/v1\/jobs",status="202"\} \d+/,
    );
    expect(metrics.text).toMatch(/spark_runner_submissions_total\{outcome="created"\} \d+/);
    // In flight only (terminal executions are the worker's spark_runner_executions_finished_total).
    expect(metrics.text).toMatch(/spark_runner_executions\{state="RUNNING"\} \d+/);
    expect(metrics.text).not.toMatch(/spark_runner_executions\{state="SUCCEEDED"\}/);
    expect(metrics.text).toMatch(/spark_runner_submit_seconds_count\{outcome="created"\} [1-9]\d*/);
  });
});
