/**
 * bench/sessions: how long a Spark Connect session takes to acquire, cold (no pool: a server is started for it) and
 * warm (leased from a pool of one), on real local Spark Connect servers through the session workflow, with a real
 * Temporal dev server and Postgres behind it.
 *
 *   npm run bench -- sessions [--runs 5]
 *
 * Acquisition is create → READY (the session can take RPCs). Beside it, the first `select 1` through the proxy with
 * the real thin pyspark client, measured inside the client (the client's own start is left out): a fresh server's
 * first query pays its own warm-up, warm or cold. Before each warm run the pool is given time to refill; that time
 * is not counted. Prints p50/p99 (nearest rank: with few runs, p99 is the slowest) and the cold/warm ratio.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import pino from 'pino';
import { dataPaths, loadConfig } from '../config/index.js';
import { connectTemporal } from '../config/temporal.js';
import { connectUrl } from '../gateway/connect/endpoint.js';
import { startSessionProxy } from '../gateway/connect/session-proxy.js';
import { ensureConnectClient } from '../provision/connect-client.js';
import { startEphemeralStack } from '../provision/ephemeral.js';
import { applyPool, createSession, deletePool, releaseSession, type SessionDeps } from '../service/sessions.js';
import { openDatabase } from '../store/db.js';
import { SessionStore } from '../store/sessions.js';
import { startWorker } from '../worker/index.js';
import { percentile, printTable } from './stats.js';

const POOL = 'bench-warm.pool';

export async function sessionsBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({ args: argv, options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  const log = (line: string) => console.log(`[bench] ${line}`);
  const stack = await startEphemeralStack(loadConfig(), log);
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    DATABASE_URL: stack.databaseUrl,
    SPARK_RUNNER_DATA: path.join(stack.tmp, 'data'),
    TEMPORAL_TASK_QUEUE: 'bench-sessions',
    SESSION_CHECK_INTERVAL_MS: '1000',
    CONNECT_ACTIVITY_FLUSH_MS: '500',
    LOG_LEVEL: 'warn',
  });
  const python = await ensureConnectClient({ cacheDir: config.SPARK_RUNNER_CACHE }, log);
  const worker = await startWorker({ config, spark: stack.sparks, logger: pino({ level: 'warn' }) });
  const connection = await connectTemporal(config);
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const database = openDatabase(stack.databaseUrl);
  const sessions = new SessionStore(database.db);
  const proxy = await startSessionProxy({ store: sessions, flushMs: 500 });
  const deps: SessionDeps = { client, sessions, config };
  const script = path.join(stack.tmp, 'first-query.py');
  fs.writeFileSync(
    script,
    'import json, sys, time\nfrom pyspark.sql import SparkSession\n' +
      'spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()\n' +
      'start = time.perf_counter()\nspark.sql("select 1").collect()\n' +
      'print(json.dumps({"ms": (time.perf_counter() - start) * 1000}))\n',
  );

  /** One session: create → READY, then the first query; released afterwards. */
  async function acquire(team: string): Promise<{ readyMs: number; firstQueryMs: number; leased: boolean }> {
    const t0 = performance.now();
    const { row, token } = await createSession(deps, { team });
    let state = row.state;
    while (state !== 'READY' && state !== 'IDLE') {
      if (state === 'ENDED') throw new Error(`session ${row.sessionId} ended before it was ready`);
      await new Promise((r) => setTimeout(r, 20));
      state = (await sessions.getSession(row.sessionId))!.state;
    }
    const readyMs = performance.now() - t0;
    const url = connectUrl({ host: 'localhost', port: proxy.proxy.port }, row.sessionId, token);
    const out = await new Promise<string>((resolve, reject) =>
      execFile(python, [script, url], { timeout: 300_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`the client failed: ${err.message} ${stderr.slice(-500)}`)) : resolve(stdout),
      ),
    );
    const firstQueryMs = (JSON.parse(out.trim().split('\n').at(-1)!) as { ms: number }).ms;
    const leased = (await sessions.events(row.sessionId)).some((e) => e.eventType === 'LEASED');
    await releaseSession(deps, (await sessions.getSession(row.sessionId))!, { reason: 'bench' });
    return { readyMs, firstQueryMs, leased };
  }

  const cold: Array<{ readyMs: number; firstQueryMs: number }> = [];
  const warm: Array<{ readyMs: number; firstQueryMs: number }> = [];
  try {
    log(`${runs} cold sessions (no pool)…`);
    for (let i = 0; i < runs; i++) cold.push(await acquire('bench-cold'));
    await applyPool(deps, {
      name: POOL,
      team: 'bench-warm',
      sparkVersion: '4.0',
      size: 1,
      driverMemoryMb: config.SESSION_DRIVER_MEMORY_MB,
      source: 'manifest',
    });
    log(`${runs} warm sessions (a pool of one, refilled between runs)…`);
    for (let i = 0; i < runs; i++) {
      while (!(await sessions.poolServers(POOL)).some((s) => s.state === 'WARM')) {
        await new Promise((r) => setTimeout(r, 200));
      }
      const run = await acquire('bench-warm');
      if (!run.leased) throw new Error('a warm run did not lease from the pool');
      warm.push(run);
    }
  } finally {
    await deletePool(deps, POOL).catch(() => undefined);
    const connectDir = dataPaths(config).connectDir;
    for (let i = 0; i < 300 && fs.existsSync(connectDir) && fs.readdirSync(connectDir).length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    await proxy.close();
    await worker.shutdown();
    await connection.close();
    await database.close();
    await stack.stop();
  }

  const p = (xs: number[], q: number) => percentile(xs, q);
  const fmt = (xs: number[]) => `p50 ${p(xs, 50)} ms, p99 ${p(xs, 99)} ms (runs: ${xs.map(Math.round).join(', ')})`;
  const coldReady = cold.map((r) => r.readyMs);
  const warmReady = warm.map((r) => r.readyMs);
  printTable(`Spark Connect session acquisition, create → READY (${runs} runs each)`, [
    ['cold (a server started)', fmt(coldReady)],
    ['warm (leased from a pool)', fmt(warmReady)],
    ['cold / warm, p50', `${(p(coldReady, 50) / Math.max(1, p(warmReady, 50))).toFixed(1)}×  (goal: ≥ 10×)`],
    ['cold / warm, p99', `${(p(coldReady, 99) / Math.max(1, p(warmReady, 99))).toFixed(1)}×`],
  ]);
  printTable('First select 1 through the proxy, measured in the client', [
    ['cold', fmt(cold.map((r) => r.firstQueryMs))],
    ['warm', fmt(warm.map((r) => r.firstQueryMs))],
  ]);
}
