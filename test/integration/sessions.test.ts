/**
 * Interactive Spark Connect sessions end to end, against real things only: the REST API, the session and pool
 * workflows on a real Temporal server with their activities, Postgres, real Spark Connect servers (local
 * spark-submit of the project's pyspark 4.0.1), the authenticating proxy, and the real thin pyspark client
 * (pyspark-client 4.0.1), driven by a small Python script per case.
 *
 * "Nothing reaches a server" is seen from the proxy's own forwarding: it hears an RPC start (onActivity) exactly
 * when it forwards one to a server, and for a rejected token it hears none. (test/integration/connect-proxy.test.ts
 * proves the same one level down, with a frame counter between proxy and server.)
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ManifestApplied, Session, SessionCreated, SessionEventList } from '../../api/wire.js';
import { dataPaths } from '../../config/index.js';
import { connectProcesses } from '../../gateway/connect/local-servers.js';
import { startSessionProxy, type SessionProxy } from '../../gateway/connect/session-proxy.js';
import { openDatabase, type Database } from '../../store/db.js';
import { SessionStore } from '../../store/sessions.js';
import { TEST_TOKENS, startTestApi, type TestApi } from '../helpers/api.js';
import { SELECT_ONE_OR_ERROR, errorMessage, runClient } from '../helpers/connect-client.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';
import { sample } from '../helpers/prometheus.js';
import type { RunningWorker } from '../../worker/index.js';

const POOL = 'data-infra.notebooks';

let stack: TestStack;
let worker: RunningWorker;
/** Sessions created from here on are this file's (the database is shared with other files). */
let fileStart: Date;
let database: Database;
let sessions: SessionStore;
let proxy: SessionProxy;
let api: TestApi;
let tmp: string;
let certFile: string;
let connectDir: string;
/** Every RPC the proxy forwarded to a server, by session. */
const forwarded: string[] = [];

beforeAll(async () => {
  stack = await openTestStack({
    SESSION_CHECK_INTERVAL_MS: '300',
    CONNECT_ACTIVITY_FLUSH_MS: '200',
    SESSION_START_TIMEOUT_MS: '180000',
    WORKER_METRICS_PORT: '0',
  });
  connectDir = dataPaths(stack.config).connectDir;
  tmp = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'sessions-'));
  certFile = path.join(tmp, 'proxy.crt');
  const keyFile = path.join(tmp, 'proxy.key');
  execFileSync('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
    ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
  ]);
  database = openDatabase(stack.config.DATABASE_URL!);
  sessions = new SessionStore(database.db);
  fileStart = new Date();
  worker = await stack.startWorker();
  const apiTokens = new Set(Object.values(TEST_TOKENS));
  proxy = await startSessionProxy({
    store: sessions,
    isApiToken: (token) => apiTokens.has(token),
    flushMs: 200,
    tls: { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), host: '127.0.0.1' },
    onActivity: (sessionId, event) => {
      if (event === 'rpc-start') forwarded.push(sessionId);
    },
  });
  api = await startTestApi(stack, { sessions, connect: { host: 'localhost', port: proxy.proxy.port } });
  // The pool is declared the way a team declares one: a `kind: SessionPool` manifest, applied over REST.
  const applied = await applyManifest(poolManifest(1));
  expect(applied.pools).toEqual([{ pool: POOL, team: 'data-infra', action: 'create', changes: [] }]);
}, 600_000);

const poolManifest = (size: number) =>
  `apiVersion: dcp.pedregal.doordash.com/v1
kind: SessionPool
metadata: { name: notebooks, team: data-infra }
spec:
  size: ${size}
  sparkVersion: '4.0'
  driverMemory: 1g
`;

async function applyManifest(yaml: string, query = ''): Promise<ManifestApplied> {
  const res = await fetch(`${api.url}/api/v1/manifests${query}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${TEST_TOKENS.admin}`, 'Content-Type': 'application/yaml' },
    body: yaml,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST /api/v1/manifests${query}: ${res.status} ${text}`);
  return JSON.parse(text) as ManifestApplied;
}

afterAll(async () => {
  // Drain the pool and end every session, so no server outlives the file.
  await sessions?.deletePool(POOL);
  for (const row of (await sessions?.listSessions({ limit: 500 })) ?? []) {
    if (row.state !== 'ENDED') await call('DELETE', `/api/v1/sessions/${row.sessionId}`).catch(() => undefined);
  }
  await stack?.client.workflow
    .getHandle(`pool-${POOL}`)
    .signal('refill')
    .catch(() => undefined);
  await eventually('every server of this file to stop', () =>
    Promise.resolve(connectProcesses(connectDir).length === 0 ? true : undefined),
  ).catch(() => undefined);
  await proxy?.close();
  await api?.close();
  await stack?.close();
  await database?.close();
});

async function call<T>(method: string, route: string, body?: unknown, token = TEST_TOKENS.admin): Promise<T> {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw Object.assign(new Error(`${method} ${route}: ${res.status} ${text}`), { status: res.status });
  return JSON.parse(text) as T;
}

function create(body: Record<string, unknown>, token = TEST_TOKENS.admin): Promise<SessionCreated> {
  return call<SessionCreated>('POST', '/api/v1/sessions?wait=true', body, token);
}

async function warm(): Promise<void> {
  await eventually(
    'the pool to have a warm server',
    async () => ((await sessions.poolServers(POOL)).some((s) => s.state === 'WARM') ? true : undefined),
    240_000,
  );
}

/** The server process of a session, from /proc: found by the server id in its argv. */
async function serverProcesses(sessionId: string): Promise<number[]> {
  const row = await sessions.getSession(sessionId);
  return connectProcesses(connectDir)
    .filter((p) => p.serverId === row?.serverId)
    .map((p) => p.pid);
}

/**
 * ENDED is recorded first (the token stops working at once), then the server is stopped: waits for both. (A DELETE
 * answers only after both.)
 */
async function ended(sessionId: string, timeoutMs = 120_000): Promise<Session> {
  const session = await endedState(sessionId, timeoutMs);
  await eventually(`the server of session ${sessionId} to be gone`, async () =>
    (await serverProcesses(sessionId)).length === 0 ? true : undefined,
  );
  return session;
}

async function endedState(sessionId: string, timeoutMs: number): Promise<Session> {
  return eventually(
    `session ${sessionId} to end`,
    async () => {
      const s = await call<Session>('GET', `/api/v1/sessions/${sessionId}`);
      return s.state === 'ENDED' ? s : undefined;
    },
    timeoutMs,
  );
}

describe('interactive Spark Connect sessions', () => {
  let main: SessionCreated;

  it('keeps the SessionPool a manifest declared: recorded with its size and memory, re-applied unchanged, a dry-run resize planned and not written', async () => {
    const pool = await sessions.getPool(POOL);
    expect(pool).toMatchObject({ team: 'data-infra', sparkVersion: '4.0', size: 1, driverMemoryMb: 1024 });
    expect((await applyManifest(poolManifest(1))).pools).toEqual([
      { pool: POOL, team: 'data-infra', action: 'unchanged', changes: [] },
    ]);
    const planned = await applyManifest(poolManifest(3), '?dryRun=true');
    expect(planned).toMatchObject({ dry_run: true, changed: true });
    expect(planned.pools).toEqual([
      { pool: POOL, team: 'data-infra', action: 'update', changes: [{ field: 'size', from: 1, to: 3 }] },
    ]);
    expect((await sessions.getPool(POOL))?.size).toBe(1);
  });

  it('leases a warm server for {"team":"data-infra"}, and the real client runs SQL and an aggregation through the proxy', async () => {
    await warm();
    main = await create({ team: 'data-infra' });
    expect(main).toMatchObject({ team: 'data-infra', state: 'READY', pool: POOL, spark_version: '4.0' });
    expect(main.connect_url).toMatch(/^sc:\/\/localhost:\d+\/;token=[\w-]{43};x-spark-runner-session=[\w-]+$/);
    const events = await call<SessionEventList>('GET', `/api/v1/sessions/${main.session_id}/events`);
    expect(events.items.map((e) => e.event_type)).toEqual(['REQUESTED', 'LEASED', 'READY']);
    const out = await runClient(
      tmp,
      'sql',
      `
one = spark.sql("select 1 as one").collect()[0].one
row = spark.range(1_000_000).selectExpr("sum(id) as total", "count(*) as n").collect()[0]
emit(one=one, total=row.total, n=row.n)
`,
      main.connect_url,
    );
    expect(out).toEqual({ one: 1, total: 499_999_500_000, n: 1_000_000 });
    expect(forwarded).toContain(main.session_id);
    // The proxy wrote the activity; the session never went idle while the client worked.
    const seen = await sessions.getSession(main.session_id);
    expect(seen?.lastActivityAt).not.toBeNull();
  });

  it('streams a large toPandas() and interrupts a long query through the proxy', async () => {
    const out = await runClient(
      tmp,
      'pandas-interrupt',
      `
pdf = spark.range(2_000_000).selectExpr("id", "id * 2 as twice").toPandas()
result = {}
def long_query():
    try:
        spark.range(10**13).selectExpr("sum(id % 3)").collect()
        result["outcome"] = "finished"
    except Exception as e:
        result["outcome"] = error_of(e)
worker = threading.Thread(target=long_query)
worker.start()
time.sleep(2)
interrupted = []
while worker.is_alive() and not interrupted:
    interrupted = spark.interruptAll()
    time.sleep(0.5)
worker.join(120)
after = spark.range(1000).selectExpr("sum(id) as s").collect()[0].s
emit(rows=len(pdf), twice=int(pdf["twice"].sum()), interrupted=len(interrupted), after=after, **result)
`,
      main.connect_url,
    );
    expect(out).toMatchObject({ rows: 2_000_000, twice: 2_000_000 * 1_999_999, interrupted: 1, after: 499_500 });
    expect(errorMessage(out)).toContain('OPERATION_CANCELED');
  });

  it('serves TLS with the configured certificate to sc://127.0.0.1:<tls-port> with the same token', async () => {
    const url = main.connect_url.replace(/^sc:\/\/localhost:\d+/, `sc://127.0.0.1:${proxy.proxy.tlsPort}`);
    const out = await runClient(tmp, 'tls', `emit(one=spark.sql("select 1 as one").collect()[0].one)\n`, url, {
      GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: certFile,
    });
    expect(out).toEqual({ one: 1 });
  });

  it("runs the README's notebook snippet as written, with SPARK_REMOTE set to the session's connect_url", async () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const section = readme.slice(readme.indexOf('## Interactive Spark Connect sessions'));
    const snippet = /```python\n([\s\S]*?)```/.exec(section)![1]!;
    const script = path.join(tmp, 'notebook.py');
    fs.writeFileSync(script, snippet);
    const { SPARK_CONNECT_AUTHENTICATE_TOKEN: _unused, ...inherited } = process.env;
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(
        process.env.CONNECT_CLIENT_PYTHON!,
        [script],
        { env: { ...inherited, SPARK_REMOTE: main.connect_url }, timeout: 170_000 },
        (err, out, errOut) => (err ? reject(new Error(`${err.message}\n${errOut.slice(-2000)}`)) : resolve(out)),
      ),
    );
    expect(stdout).toMatch(/\|\s*one\s*\|/);
    // Seven days, and the sum of id % 100 over 100 000 rows is 4 950 000.
    const totals = [...stdout.matchAll(/^\d+\s+(\d)\s+(\d+)$/gm)].map((m) => Number(m[2]));
    expect(totals).toHaveLength(7);
    expect(totals.reduce((a, b) => a + b, 0)).toBe(4_950_000);
  });

  it('keeps users apart: a temporary view made in session A is absent from session B of the same pool', async () => {
    await runClient(
      tmp,
      'view-a',
      `spark.range(5).createOrReplaceTempView("only_in_a")\nemit(n=spark.sql("select count(*) as n from only_in_a").collect()[0].n)\n`,
      main.connect_url,
    );
    const other = await create({ team: 'data-infra', pool: POOL });
    expect(other.pool).toBe(POOL);
    const row = await sessions.getSession(other.session_id);
    expect(row?.serverId).not.toBe((await sessions.getSession(main.session_id))?.serverId);
    const out = await runClient(
      tmp,
      'view-b',
      `emit(tables=[t.name for t in spark.catalog.listTables()], exists=spark.catalog.tableExists("only_in_a"))\n`,
      other.connect_url,
    );
    expect(out).toEqual({ tables: [], exists: false });
    await call('DELETE', `/api/v1/sessions/${other.session_id}`);
  });

  it("refuses a wrong, a missing, an API, another session's and an ended session's token, and forwards none of them", async () => {
    const endedOne = await create({ team: 'data-infra' });
    await call('DELETE', `/api/v1/sessions/${endedOne.session_id}`);
    const id = main.session_id;
    const cases = [
      {
        name: 'wrong',
        url: `sc://localhost:${proxy.proxy.port}/;token=not-a-session-token`,
        message: 'unknown session token',
      },
      {
        name: 'missing',
        url: `sc://localhost:${proxy.proxy.port}/;x-spark-runner-session=${id}`,
        message: 'a session token is required',
      },
      {
        name: 'api-token',
        url: `sc://localhost:${proxy.proxy.port}/;token=${TEST_TOKENS.admin}`,
        message: 'an API token cannot open a Spark Connect session',
      },
      {
        name: 'other-session',
        url: endedOne.connect_url.replace(/x-spark-runner-session=[\w-]+/, `x-spark-runner-session=${id}`),
        message: `the token does not belong to session ${id}`,
      },
      { name: 'ended', url: endedOne.connect_url, message: `session ${endedOne.session_id} has ended (RELEASED)` },
    ];
    for (const c of cases) {
      const before = forwarded.length;
      const out = await runClient(tmp, `reject-${c.name}`, SELECT_ONE_OR_ERROR, c.url);
      expect(errorMessage(out), c.name).toContain('StatusCode.UNAUTHENTICATED');
      expect(errorMessage(out), c.name).toContain(c.message);
      expect(forwarded.length, c.name).toBe(before);
    }
  });

  it('releases a session with DELETE: ENDED at once, its server process gone, and a second DELETE answers the same', async () => {
    const before = await serverProcesses(main.session_id);
    expect(before).toHaveLength(1);
    const released = await call<Session>('DELETE', `/api/v1/sessions/${main.session_id}`);
    expect(released).toMatchObject({ state: 'ENDED', ended_reason: 'RELEASED' });
    expect(await serverProcesses(main.session_id)).toEqual([]);
    expect(() => process.kill(before[0]!, 0)).toThrow(/ESRCH/);
    const again = await call<Session>('DELETE', `/api/v1/sessions/${main.session_id}`);
    expect(again).toMatchObject({ state: 'ENDED', ended_reason: 'RELEASED', ended_at: released.ended_at });
    const events = await call<SessionEventList>('GET', `/api/v1/sessions/${main.session_id}/events`);
    expect(events.items.map((e) => e.event_type).slice(-2)).toEqual(['RELEASE_REQUESTED', 'ENDED']);
    // The pool refills after the lease.
    await warm();
  });

  it('keeps a session through a long query longer than its idle timeout, then ends it idle with its server gone', async () => {
    await warm();
    // 6 s: more than the client's own start (a Python process importing pyspark, a few seconds on a loaded
    // machine) before its first RPC, which the idle timer does not wait for.
    const s = await create({ team: 'data-infra', idle_timeout_s: 6 });
    expect(s.state).toBe('READY');
    const out = await runClient(
      tmp,
      'long-query',
      `
spark.sql("select 1").collect()
start = time.time()
# Not foldable (it depends on id): a 12 s task, under one ExecutePlan stream.
spark.range(1).selectExpr("reflect('java.lang.Thread', 'sleep', cast(id + 12000 as bigint)) as r").collect()
emit(seconds=time.time() - start)
`,
      s.connect_url,
    );
    expect(out.seconds).toBeGreaterThanOrEqual(12);
    // The 12 s query outlived the 6 s idle timeout, and the session did not end under it.
    const afterQuery = await call<Session>('GET', `/api/v1/sessions/${s.session_id}`);
    expect(afterQuery.state).not.toBe('ENDED');
    const done = await ended(s.session_id);
    expect(done).toMatchObject({ ended_reason: 'IDLE_TIMEOUT' });
    expect(done.ended_message).toContain('idle timeout 6 s');
    expect(await serverProcesses(s.session_id)).toEqual([]);
    const types = (await call<SessionEventList>('GET', `/api/v1/sessions/${s.session_id}/events`)).items.map(
      (e) => e.event_type,
    );
    expect(types).toContain('IDLE');
    expect(types.at(-1)).toBe('ENDED');
  });

  // Spark 4.0.1 runs a job on when its ExecutePlan RPC is cancelled or times out: no RPC is open, yet the server
  // is busy. The idle check asks the driver's REST API, and a running job counts as activity.
  it('keeps a session whose Spark job runs on after its RPC was abandoned, and ends it idle once the job is done', async () => {
    await warm();
    const s = await create({ team: 'data-infra', idle_timeout_s: 3 });
    const out = await runClient(
      tmp,
      'abandoned-job',
      `
import grpc
spark.sql("select 1").collect()
req = spark.client._execute_plan_request_with_metadata()
req.plan.CopyFrom(spark.range(1).selectExpr("reflect('java.lang.Thread', 'sleep', cast(id + 12000 as bigint))")._plan.to_proto(spark.client))
call = spark.client._stub.ExecutePlan(req, metadata=spark.client._builder.metadata(), timeout=1)
try:
    for _ in call:
        pass
    code = "OK"
except grpc.RpcError as e:
    code = e.code().name
emit(code=code)
os._exit(0)
`,
      s.connect_url,
    );
    expect(out).toEqual({ code: 'DEADLINE_EXCEEDED' });
    // Past the 3 s idle timeout with no RPC open, the 12 s job still runs: the session is still there.
    await new Promise((r) => setTimeout(r, 5000));
    expect((await call<Session>('GET', `/api/v1/sessions/${s.session_id}`)).state).not.toBe('ENDED');
    const done = await ended(s.session_id);
    expect(done).toMatchObject({ ended_reason: 'IDLE_TIMEOUT' });
  });

  it('ends a busy session at its maximum lifetime: its next query is refused as ended, and its server is gone', async () => {
    await warm();
    const s = await create({ team: 'data-infra', max_lifetime_s: 15 });
    expect(s.state).toBe('READY');
    const out = await runClient(
      tmp,
      'lifetime',
      `
fail_fast()
start = time.time()
try:
    while time.time() - start < 120:
        spark.sql("select 1").collect()
        time.sleep(0.2)
    emit(outcome="still running after 120 s")
except Exception as e:
    emit(outcome=error_of(e), seconds=time.time() - start)
`,
      s.connect_url,
    );
    // Cut off at the lifetime by the proxy, with the reason: the server is stopped only after the proxy's route
    // cache has drained, so no query meets a server half way through its shutdown.
    expect(errorMessage(out)).toMatch(/UNAUTHENTICATED/);
    expect(errorMessage(out)).toContain(`session ${s.session_id} has ended (MAX_LIFETIME)`);
    const done = await ended(s.session_id);
    expect(done).toMatchObject({ ended_reason: 'MAX_LIFETIME' });
    expect(await serverProcesses(s.session_id)).toEqual([]);
  });

  it('cold-starts a session when no pool serves its team, for a member creating for its own team', async () => {
    const s = await create({}, TEST_TOKENS.other);
    expect(s).toMatchObject({ team: 'other-team', state: 'READY', pool: null });
    const types = (await call<SessionEventList>('GET', `/api/v1/sessions/${s.session_id}/events`)).items.map(
      (e) => e.event_type,
    );
    expect(types).toEqual(['REQUESTED', 'STARTING', 'READY']);
    // Another team's session is not there for data-infra.
    await expect(
      call('GET', `/api/v1/sessions/${s.session_id}`, undefined, TEST_TOKENS.dataInfra),
    ).rejects.toMatchObject({
      status: 404,
    });
    const list = await call<{ items: Session[] }>('GET', '/api/v1/sessions', undefined, TEST_TOKENS.dataInfra);
    expect(list.items.map((i) => i.team)).not.toContain('other-team');
    const out = await runClient(
      tmp,
      'cold',
      `emit(one=spark.sql("select 1 as one").collect()[0].one)\n`,
      s.connect_url,
    );
    expect(out).toEqual({ one: 1 });
    await call('DELETE', `/api/v1/sessions/${s.session_id}`, undefined, TEST_TOKENS.other);
    expect(await serverProcesses(s.session_id)).toEqual([]);
  });

  it("times every session's acquisition on the worker's /metrics, telling a warm lease from a cold start, and gauges the pool's servers by state", async () => {
    // By now this file has served sessions both ways: leases of the pool's warm servers, and a cold start for
    // other-team (no pool). Each session is counted once, under how its own events say it was served.
    const expected = new Map<string, number>();
    for (const row of await sessions.listSessions({ limit: 500 })) {
      if (!row.readyAt || row.createdAt < fileStart) continue;
      const types = (await sessions.events(row.sessionId)).map((e) => e.eventType);
      const served = types.includes('LEASED') ? 'warm' : types.includes('STARTING') ? 'cold' : undefined;
      const key = `${row.pool ?? 'none'}/${served}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    expect(expected.get(`${POOL}/warm`)).toBeGreaterThan(0);
    expect(expected.get('none/cold')).toBeGreaterThan(0);
    const text = await (await fetch(`${worker.metricsUrl!}/metrics`)).text();
    const count = (pool: string, served: string) =>
      sample(text, 'spark_runner_session_acquisition_seconds_count', { pool, served });
    expect(count(POOL, 'warm')).toBe(expected.get(`${POOL}/warm`));
    expect(count('none', 'cold')).toBe(expected.get('none/cold'));
    // No cold start of the pool and no warm lease without one.
    expect(count(POOL, 'cold') ?? 0).toBe(expected.get(`${POOL}/cold`) ?? 0);
    expect(count('none', 'warm')).toBeUndefined();
    // The gauge: the pool's warm servers as its rows say, and every state of the pool present.
    await warm();
    await eventually('the pool gauge to show the warm servers of the pool', async () => {
      const scraped = await (await fetch(`${worker.metricsUrl!}/metrics`)).text();
      const warmRows = (await sessions.poolServers(POOL)).filter((r) => r.state === 'WARM').length;
      const gauge = (state: string) => sample(scraped, 'spark_runner_session_pool_servers', { pool: POOL, state });
      return gauge('warm') === warmRows && gauge('leased') !== undefined && gauge('starting') !== undefined
        ? true
        : undefined;
    });
  });

  it('spark-runner session create --wait prints the sc:// URL alone, and list, get and delete follow it', async () => {
    await warm();
    const cli = (...args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [path.resolve('bin/spark-runner.js'), ...args],
          { env: { ...process.env, SPARK_RUNNER_URL: api.url, SPARK_RUNNER_TOKEN: TEST_TOKENS.admin } },
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const created = await cli('session', 'create', '--team', 'data-infra', '--wait', '--spark', '4.0');
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^sc:\/\/localhost:\d+\/;token=[\w-]+;x-spark-runner-session=[\w-]+\n$/);
    expect(created.stderr).toMatch(/READY \(pool data-infra\.notebooks\)/);
    const id = /x-spark-runner-session=([\w-]+)/.exec(created.stdout)![1]!;
    const out = await runClient(
      tmp,
      'cli-url',
      `emit(one=spark.sql("select 1 as one").collect()[0].one)\n`,
      created.stdout.trim(),
    );
    expect(out).toEqual({ one: 1 });
    expect((await cli('session', 'list', '--team', 'data-infra')).stdout).toContain(id);
    const got = await cli('session', 'get', id);
    expect(got.stdout).toMatch(/State\s+(READY|IDLE)/);
    expect(got.stdout).not.toContain('token=');
    const deleted = await cli('session', 'delete', id, '-o', 'json');
    expect(JSON.parse(deleted.stdout)).toMatchObject({ session_id: id, state: 'ENDED', ended_reason: 'RELEASED' });
  });

  it('answers 422 for Spark 3.5 and for an unknown version, and creates nothing', async () => {
    const before = (await sessions.listSessions({ limit: 500 })).length;
    for (const version of ['3.5', '9.9']) {
      const res = await fetch(`${api.url}/api/v1/sessions`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TEST_TOKENS.admin}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ team: 'data-infra', spark_version: version }),
      });
      expect(res.status).toBe(422);
      const problem = (await res.json()) as { errors: Array<{ path: string; message: string }> };
      expect(problem.errors[0]).toMatchObject({ path: 'spark_version' });
      expect(problem.errors[0]!.message).toContain('4.0');
    }
    expect((await sessions.listSessions({ limit: 500 })).length).toBe(before);
  });
});
