/**
 * The building blocks of interactive Spark Connect sessions, against real things only: a real Spark Connect
 * server (gateway/connect/local-server.ts, from the project's pyspark), the proxy (gateway/connect/proxy.ts), and
 * the real thin pyspark client (pyspark-client, installed by the global setup: CONNECT_CLIENT_PYTHON), driven from
 * here by a small Python script per case that prints one JSON line.
 *
 * The proxy's `resolve` plug-in here is a tiny table of user tokens → session and server. It stands in for the
 * session store (and the session workflows that lease servers from warm pools) that come later.
 *
 * What reaches the server is counted by a plain TCP relay between the proxy and the server, which reads the
 * 9-byte HTTP/2 frame headers as they pass: every HEADERS frame from the proxy opens an RPC, RST_STREAM frames are
 * resets. It sits below the proxy and knows nothing of it, so the proxy's own bookkeeping cannot fool it.
 */
import { execFile, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CONNECT_SERVER_CLASS,
  startLocalConnectServer,
  type LocalConnectServer,
} from '../../gateway/connect/local-server.js';
import {
  createConnectProxy,
  type ConnectProxy,
  type Resolution,
  type ResolveRequest,
} from '../../gateway/connect/proxy.js';
import { freePort } from '../../provision/process.js';

const MAIN = { token: 'user-token-main', session: 's-main' };
const ACTIVITY = { token: 'user-token-activity', session: 's-activity' };
const ENDED = { token: 'user-token-ended', session: 's-ended' };
const GONE = { token: 'user-token-gone', session: 's-gone' };
const BENCH = { token: 'user-token-bench', session: 's-bench' };

let tmp: string;
let server: LocalConnectServer;
let counter: FrameCounter;
let proxy: ConnectProxy;
let benchProxy: ConnectProxy;
let certFile: string;
const resolved: Array<{ token?: string; sessionId?: string; path?: string }> = [];
const activity: Array<{ at: number; sessionId: string; event: string }> = [];
const proxyErrors: unknown[] = [];

function sparkHome(): string {
  const home = process.env.SPARK_HOME;
  if (!home)
    throw new Error('SPARK_HOME is not set: run the tests through vitest, whose global setup provisions Spark');
  return home;
}

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'connect-'));
  server = await startLocalConnectServer({ sparkHome: sparkHome(), workDir: path.join(tmp, 'server') });
  counter = await startFrameCounter({ host: server.host, port: server.port });
  certFile = path.join(tmp, 'proxy.crt');
  const keyFile = path.join(tmp, 'proxy.key');
  execFileSync('openssl', [
    ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost'],
    ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
  ]);
  // Every route of this proxy goes through the counter; nothing else of it can reach the server.
  const viaCounter = { host: '127.0.0.1', port: counter.port, token: server.token };
  const table = new Map<string, Resolution>([
    [MAIN.token, { kind: 'route', sessionId: MAIN.session, backend: viaCounter }],
    [ACTIVITY.token, { kind: 'route', sessionId: ACTIVITY.session, backend: viaCounter }],
    [ENDED.token, { kind: 'reject', message: `session ${ENDED.session} has ended` }],
    // Nothing listens there: a server that went away.
    [GONE.token, { kind: 'route', sessionId: GONE.session, backend: { ...viaCounter, port: await freePort() } }],
  ]);
  proxy = await createConnectProxy({
    resolve: (req) => Promise.resolve(lookUp(req)),
    onActivity: (sessionId, event) => activity.push({ at: Date.now(), sessionId, event }),
    onError: (err) => proxyErrors.push(err),
    tls: { cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), host: '127.0.0.1' },
  });
  function lookUp(req: ResolveRequest): Resolution {
    resolved.push({ token: req.token, sessionId: req.sessionId, path: req.headers[':path'] });
    if (req.token === undefined) return { kind: 'reject', message: 'a session token is required (;token=...)' };
    const entry = table.get(req.token) ?? { kind: 'reject', message: 'unknown session token' };
    if (entry.kind === 'route' && req.sessionId !== entry.sessionId) {
      return { kind: 'reject', message: `the token does not belong to session ${req.sessionId ?? '(none)'}` };
    }
    return entry;
  }
  // For measurements only: straight to the server, without the counter's extra hop.
  benchProxy = await createConnectProxy({
    resolve: (req) =>
      Promise.resolve<Resolution>(
        req.token === BENCH.token
          ? { kind: 'route', sessionId: BENCH.session, backend: server }
          : { kind: 'reject', message: 'unknown session token' },
      ),
  });
});

afterAll(async () => {
  await proxy?.close();
  await benchProxy?.close();
  await counter?.close();
  await server?.stop();
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const url = (user: { token?: string; session?: string }, port = proxy.port, host = 'localhost') =>
  `sc://${host}:${port}/` +
  (user.token ? `;token=${user.token}` : '') +
  (user.session ? `;x-spark-runner-session=${user.session}` : '');

describe('a local Spark Connect server', () => {
  it('keeps its token out of argv, in its own process group, which stop() ends for good', async () => {
    const starts = [server.startMs];
    for (let i = 0; i < 2; i++) {
      const s = await startLocalConnectServer({ sparkHome: sparkHome(), driverMemoryMb: 512 });
      try {
        starts.push(s.startMs);
        expect(s.pgid).toBe(s.pid);
        expect(procStat(s.pid).pgrp).toBe(s.pid);
        const members = groupMembers(s.pgid);
        expect(members).toContain(s.pid);
        for (const pid of members) expect(readProc(pid, 'cmdline')).not.toContain(s.token);
        expect(readProc(s.pid, 'cmdline')).toContain(CONNECT_SERVER_CLASS);
        expect(readProc(s.pid, 'environ').split('\0')).toContain(`SPARK_CONNECT_AUTHENTICATE_TOKEN=${s.token}`);
      } finally {
        await s.stop();
      }
      expect(groupMembers(s.pgid)).toEqual([]);
      expect(() => process.kill(-s.pgid, 0)).toThrow(/ESRCH/);
      await s.stop();
      await expect(s.exited).resolves.toBeDefined();
    }
    console.log(`[connect] server start ms: ${starts.join(', ')}; p50 ${median(starts)}`);
  });

  it('refuses a client that does not know its token', async () => {
    const out = await runClient('direct-no-token', SELECT_ONE_OR_ERROR, `sc://localhost:${server.port}/`);
    expect(errorMessage(out)).toContain('StatusCode.UNAUTHENTICATED');
  });
});

describe('the Spark Connect proxy', () => {
  it('carries SQL and an aggregation to the server with the right results', async () => {
    const before = counter.rpcs;
    const out = await runClient(
      'sql',
      `
one = spark.sql("select 1 as one").collect()[0].one
row = spark.range(1_000_000).selectExpr("sum(id) as total", "count(*) as n").collect()[0]
emit(one=one, total=row.total, n=row.n)
`,
      url(MAIN),
    );
    expect(out).toEqual({ one: 1, total: 499_999_500_000, n: 1_000_000 });
    expect(counter.rpcs).toBeGreaterThan(before);
    expect(resolved.at(-1)).toMatchObject({ token: MAIN.token, sessionId: MAIN.session });
  });

  it('opens a new connection to the server when the old one dropped', async () => {
    const before = counter.connections;
    counter.dropConnections();
    const out = await runClient('reconnect', SELECT_ONE_OR_ERROR, url(MAIN));
    expect(out).toEqual({ outcome: 1 });
    expect(counter.connections).toBe(before + 1);
  });

  it('streams a 3M-row toPandas() through, every row', async () => {
    const out = await runClient(
      'to-pandas',
      `
start = time.time()
pdf = spark.range(3_000_000).selectExpr("id", "id * 2 as twice").toPandas()
emit(rows=len(pdf), twice=int(pdf["twice"].sum()), seconds=time.time() - start)
`,
      url(MAIN),
    );
    expect(out).toMatchObject({ rows: 3_000_000, twice: 3_000_000 * 2_999_999 });
    console.log(`[connect] toPandas 3M rows through the proxy (and the counter): ${fmt(out.seconds as number)} s`);
  });

  it('interrupts a long query with interruptAll() from another thread, and the server keeps serving', async () => {
    const out = await runClient(
      'interrupt',
      `
result = {}
def long_query():
    start = time.time()
    try:
        spark.range(10**13).selectExpr("sum(id % 3)").collect()
        result["outcome"] = "finished"
    except Exception as e:
        result["outcome"] = error_of(e)
    result["seconds"] = time.time() - start
worker = threading.Thread(target=long_query)
worker.start()
time.sleep(2)
interrupted = []
while worker.is_alive() and not interrupted:
    interrupted = spark.interruptAll()
    time.sleep(0.5)
worker.join(120)
start = time.time()
after = spark.range(1000).selectExpr("sum(id) as s").collect()[0].s
emit(interrupted=interrupted, after=after, after_seconds=time.time() - start, **result)
`,
      url(MAIN),
    );
    expect(out.interrupted).toHaveLength(1);
    expect(errorMessage(out)).toContain('OPERATION_CANCELED');
    expect(out.seconds).toBeLessThan(60);
    // local[1] has one task slot: this answers only if the interrupted job really stopped.
    expect(out).toMatchObject({ after: 499_500 });
    expect(out.after_seconds).toBeLessThan(30);
    await eventuallyZero(() => proxy.openRpcs(MAIN.session));
  });

  // Spark 4.0.1 itself (direct, without the proxy too) does not stop a job when its ExecutePlan is cancelled or
  // times out: the RPC ends, the job runs on. Hence a bounded query (a few seconds) rather than a never-ending one,
  // which would hold local[1]'s only task slot for good. Only Interrupt stops work on the server.
  it('passes a client cancel and a deadline on to the server as resets, and the server keeps serving', async () => {
    const resetsBefore = counter.resetsToServer;
    const out = await runClient(
      'cancel',
      `
import grpc
def execute(timeout=None):
    # The client's own stub and metadata, with a plain (not reattachable) ExecutePlan of a query of seconds.
    req = spark.client._execute_plan_request_with_metadata()
    req.plan.CopyFrom(spark.range(5 * 10**9).selectExpr("sum(id % 3)")._plan.to_proto(spark.client))
    return spark.client._stub.ExecutePlan(req, metadata=spark.client._builder.metadata(), timeout=timeout)
def outcome(call):
    start = time.time()
    try:
        for _ in call:
            pass
        return {"code": "OK"}
    except grpc.RpcError as e:
        return {"code": e.code().name, "seconds": time.time() - start}
call = execute()
threading.Timer(2, call.cancel).start()
cancelled = outcome(call)
deadline = outcome(execute(timeout=2))
start = time.time()
after = spark.range(1000).count()
emit(cancelled=cancelled, deadline=deadline, after=after, after_seconds=time.time() - start)
`,
      url(MAIN),
    );
    expect(out.cancelled).toMatchObject({ code: 'CANCELLED' });
    expect(out.deadline).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    // The client's RST_STREAM reached the server through the proxy (a deadline may be reset by either side).
    expect(counter.resetsToServer).toBeGreaterThan(resetsBefore);
    expect(out).toMatchObject({ after: 1000 });
    await eventuallyZero(() => proxy.openRpcs(MAIN.session));
    console.log(
      `[connect] after a cancel and a deadline, the next query waited ${fmt(out.after_seconds as number)} s ` +
        `(the abandoned jobs ran on); resets to the server: ${counter.resetsToServer - resetsBefore}, ` +
        `from it: ${counter.resetsFromServer}`,
    );
  });

  it('refuses a wrong, a missing and a rejected token with UNAUTHENTICATED, and nothing reaches the server', async () => {
    const cases = [
      {
        name: 'wrong',
        user: { token: 'not-a-session-token', session: MAIN.session },
        message: 'unknown session token',
      },
      { name: 'missing', user: { session: MAIN.session }, message: 'a session token is required (;token=...)' },
      { name: 'ended', user: { token: ENDED.token, session: ENDED.session }, message: 'session s-ended has ended' },
      {
        name: 'foreign-session',
        user: { token: MAIN.token, session: ACTIVITY.session },
        message: 'the token does not belong to session s-activity',
      },
    ];
    for (const c of cases) {
      const seen = resolved.length;
      const before = { rpcs: counter.rpcs, connections: counter.connections };
      const out = await runClient(`reject-${c.name}`, SELECT_ONE_OR_ERROR, url(c.user));
      expect(errorMessage(out), c.name).toContain('StatusCode.UNAUTHENTICATED');
      expect(errorMessage(out), c.name).toContain(`details = "${c.message}"`);
      expect(resolved.length, c.name).toBeGreaterThan(seen);
      expect({ rpcs: counter.rpcs, connections: counter.connections }, c.name).toEqual(before);
    }
  });

  it('answers UNAVAILABLE when the server behind a session is gone', async () => {
    const seen = resolved.length;
    const out = await runClient(
      'gone',
      `
from pyspark.sql.connect.client.retries import DefaultPolicy
spark.client.set_retry_policies([DefaultPolicy(max_retries=2, initial_backoff=50, max_backoff=200)])
${SELECT_ONE_OR_ERROR}
`,
      url(GONE),
    );
    expect(errorMessage(out)).toContain('StatusCode.UNAVAILABLE');
    expect(errorMessage(out)).toContain('Spark Connect server unreachable');
    // pyspark retried UNAVAILABLE its way: an ExecutePlan, then two ReattachExecute (max_retries=2).
    const tries = resolved.slice(seen).filter((r) => r.token === GONE.token);
    const count = (method: string) => tries.filter((t) => t.path === `/spark.connect.SparkConnectService/${method}`);
    expect(count('ExecutePlan')).toHaveLength(1);
    expect(count('ReattachExecute')).toHaveLength(2);
    expect(proxy.openRpcs(GONE.session)).toBe(0);
  });

  it('serves TLS with its certificate to a client that trusts it, for hosts other than localhost', async () => {
    const out = await runClient(
      'tls',
      `
emit(one=spark.sql("select 1 as one").collect()[0].one, total=spark.range(1000).selectExpr("sum(id) as s").collect()[0].s)
`,
      url(MAIN, proxy.tlsPort, '127.0.0.1'),
      { GRPC_DEFAULT_SSL_ROOTS_FILE_PATH: certFile },
    );
    expect(out).toEqual({ one: 1, total: 499_500 });
  });

  it('marks a session active for the whole of a long query, and idle after it', async () => {
    const samples: Array<{ at: number; open: number }> = [];
    const sampler = setInterval(() => samples.push({ at: Date.now(), open: proxy.openRpcs(ACTIVITY.session) }), 100);
    const out = await runClient(
      'activity',
      `
spark.sql("select 1").collect()
start = time.time()
spark.sql("select reflect('java.lang.Thread', 'sleep', cast(5000 as bigint)) as r").collect()
emit(start_ms=start * 1000, end_ms=time.time() * 1000)
`,
      url(ACTIVITY),
    ).finally(() => clearInterval(sampler));
    const { start_ms: startMs, end_ms: endMs } = out as { start_ms: number; end_ms: number };
    expect(endMs - startMs).toBeGreaterThanOrEqual(5000);
    // Sampled while the query ran, well inside it: never idle.
    const during = samples.filter((s) => s.at > startMs + 500 && s.at < endMs - 200);
    expect(during.length).toBeGreaterThan(30);
    expect(during.filter((s) => s.open === 0)).toEqual([]);
    // The events alone tell the same: one busy stretch covers the query.
    const events = activity.filter((e) => e.sessionId === ACTIVITY.session);
    const busy = busyStretches(events);
    expect(busy.some((b) => b.from <= startMs + 500 && b.to >= endMs - 200)).toBe(true);
    expect(events.filter((e) => e.event === 'rpc-start').length).toBe(
      events.filter((e) => e.event === 'rpc-end').length,
    );
    expect(proxy.openRpcs(ACTIVITY.session)).toBe(0);
  });

  it('measures the added latency per RPC and per select 1, and toPandas() throughput, direct and proxied', async () => {
    const out = await runClient(
      'bench',
      `
direct = SparkSession.builder.remote(sys.argv[2]).create()
sessions = {"proxied": spark, "direct": direct}
def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start
config_rpc = lambda s: s.conf.get("spark.sql.shuffle.partitions")
select_one = lambda s: s.sql("select 1").collect()
to_pandas = lambda s: len(s.range(3_000_000).selectExpr("id", "id * 2 as twice").toPandas())
for s in sessions.values():
    for _ in range(10):
        config_rpc(s)
        select_one(s)
    to_pandas(s)
config = {name: [] for name in sessions}
select = {name: [] for name in sessions}
pandas = {name: [] for name in sessions}
# Interleaved, so that both see the same load on this machine.
for _ in range(3):
    for name, s in sessions.items():
        config[name] += [timed(lambda: config_rpc(s)) for _ in range(30)]
        select[name] += [timed(lambda: select_one(s)) for _ in range(15)]
        start = time.perf_counter()
        assert to_pandas(s) == 3_000_000
        pandas[name].append(time.perf_counter() - start)
emit(config=config, select=select, pandas=pandas)
# Skip draining thousands of queued ReleaseExecute calls at exit.
os._exit(0)
`,
      url(BENCH, benchProxy.port),
      {},
      [`sc://localhost:${server.port}/;token=${server.token}`],
    );
    type Runs = Record<'proxied' | 'direct', number[]>;
    const ms = (runs: number[]) => median(runs) * 1000;
    const line = (what: string, runs: Runs) =>
      `${what} p50 direct ${fmt(ms(runs.direct))} ms, proxied ${fmt(ms(runs.proxied))} ms ` +
      `(+${fmt(ms(runs.proxied) - ms(runs.direct))} ms)`;
    const pandas = out.pandas as Runs;
    const rowsPerS = (runs: number[]) => fmt(3 / median(runs));
    console.log(
      `[connect] ${line('Config RPC', out.config as Runs)}; ${line('select 1', out.select as Runs)}; ` +
        `toPandas 3M rows x 2 longs, median of 3: direct ${rowsPerS(pandas.direct)} M rows/s ` +
        `(${pandas.direct.map((s) => fmt(s)).join(', ')} s), proxied ${rowsPerS(pandas.proxied)} M rows/s ` +
        `(${pandas.proxied.map((s) => fmt(s)).join(', ')} s)`,
    );
    expect(proxyErrors.filter((e) => !String(e).includes('ECONNREFUSED'))).toEqual([]);
  });
});

// --- the Python side -------------------------------------------------------------------------------------------

const PRELUDE = `
import json, os, sys, threading, time
from pyspark.sql import SparkSession

def emit(**fields):
    print(json.dumps(fields), flush=True)

def error_of(e):
    cause = f" | caused by: {e.__cause__}" if e.__cause__ else ""
    return {"type": type(e).__name__, "message": str(e) + cause}

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
`;

const SELECT_ONE_OR_ERROR = `
try:
    emit(outcome=spark.sql("select 1 as one").collect()[0].one)
except Exception as e:
    emit(outcome=error_of(e))
`;

/** Runs PRELUDE + body with the thin client against `connectUrl`; resolves with the last JSON line it printed. */
async function runClient(
  name: string,
  body: string,
  connectUrl: string,
  env: Record<string, string> = {},
  extraArgs: string[] = [],
): Promise<Record<string, unknown>> {
  const python = process.env.CONNECT_CLIENT_PYTHON;
  if (!python) throw new Error('CONNECT_CLIENT_PYTHON is not set: run the tests through vitest (global setup)');
  const script = path.join(tmp, `${name}.py`);
  fs.writeFileSync(script, PRELUDE + body);
  // pyspark falls back to this variable for a token; the client must only ever have what its URL gives it.
  const { SPARK_CONNECT_AUTHENTICATE_TOKEN: _unused, ...inherited } = process.env;
  const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
    execFile(
      python,
      [script, connectUrl, ...extraArgs],
      { env: { ...inherited, PYTHONUNBUFFERED: '1', ...env }, timeout: 170_000, maxBuffer: 16 << 20 },
      (err, out, errOut) =>
        err ? reject(new Error(`${name}.py failed: ${err.message}\n${errOut.slice(-3000)}`)) : resolve({ stdout: out }),
    ),
  );
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

// --- the frame counter between proxy and server -----------------------------------------------------------------

interface FrameCounter {
  port: number;
  connections: number;
  /** HEADERS frames from the proxy: each opens one RPC (gRPC clients send no trailers). */
  rpcs: number;
  resetsToServer: number;
  resetsFromServer: number;
  /** Destroys every open connection, as a server restart or a network blip would. */
  dropConnections(): void;
  close(): Promise<void>;
}

const FRAME_HEADERS = 0x1;
const FRAME_RST_STREAM = 0x3;
const CLIENT_PREFACE_BYTES = 24;

/** A TCP relay to `target` that counts HTTP/2 frames by type in each direction, reading only frame headers. */
async function startFrameCounter(target: { host: string; port: number }): Promise<FrameCounter> {
  const sockets = new Set<net.Socket>();
  const counts: FrameCounter = {
    port: 0,
    connections: 0,
    rpcs: 0,
    resetsToServer: 0,
    resetsFromServer: 0,
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        relay.close(() => resolve());
      }),
  };
  const relay = net.createServer((client) => {
    counts.connections++;
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => undefined);
    }
    client.on(
      'data',
      frameReader(CLIENT_PREFACE_BYTES, (type) => {
        if (type === FRAME_HEADERS) counts.rpcs++;
        if (type === FRAME_RST_STREAM) counts.resetsToServer++;
      }),
    );
    upstream.on(
      'data',
      frameReader(0, (type) => {
        if (type === FRAME_RST_STREAM) counts.resetsFromServer++;
      }),
    );
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  counts.port = (relay.address() as net.AddressInfo).port;
  return counts;
}

/** Calls `onFrame(type)` for each HTTP/2 frame of a byte stream; payloads are skipped, never buffered. */
function frameReader(prefaceBytes: number, onFrame: (type: number) => void): (chunk: Buffer) => void {
  let skip = prefaceBytes;
  let header = Buffer.alloc(0);
  return (chunk) => {
    let offset = 0;
    while (offset < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - offset);
        skip -= n;
        offset += n;
        continue;
      }
      const take = chunk.subarray(offset, offset + 9 - header.length);
      header = Buffer.concat([header, take]);
      offset += take.length;
      if (header.length < 9) return;
      onFrame(header[3]!);
      skip = header.readUIntBE(0, 3);
      header = Buffer.alloc(0);
    }
  };
}

/** The message of the error a script caught and emitted as `outcome`; fails when it caught none. */
function errorMessage(out: Record<string, unknown>): string {
  const outcome = out.outcome as { message?: unknown } | undefined;
  if (typeof outcome?.message !== 'string') throw new Error(`expected an error, got ${JSON.stringify(out)}`);
  return outcome.message;
}

// --- small helpers --------------------------------------------------------------------------------------------

function readProc(pid: number, file: string): string {
  return fs.readFileSync(`/proc/${pid}/${file}`, 'latin1');
}

function procStat(pid: number): { pgrp: number } {
  const stat = readProc(pid, 'stat');
  // The command name (field 2) may hold spaces; count from after its closing parenthesis.
  return { pgrp: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) };
}

/** Live processes of a process group (zombies included: they are gone but for their exit status). */
function groupMembers(pgid: number): number[] {
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return procStat(pid).pgrp === pgid;
      } catch {
        return false;
      }
    });
}

/** Stretches of time during which at least one RPC was open, from start/end events in order. */
function busyStretches(events: Array<{ at: number; event: string }>): Array<{ from: number; to: number }> {
  const stretches: Array<{ from: number; to: number }> = [];
  let open = 0;
  let from = 0;
  for (const e of events) {
    if (e.event === 'rpc-start' && open++ === 0) from = e.at;
    if (e.event === 'rpc-end' && --open === 0) stretches.push({ from, to: e.at });
  }
  return stretches;
}

async function eventuallyZero(probe: () => number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (probe() !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(probe()).toBe(0);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const fmt = (n: number) => n.toFixed(n < 10 ? 2 : 1);
