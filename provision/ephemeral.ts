/**
 * A throwaway stack on free ports: an in-memory, headless Temporal dev server (or, asked for, the real Temporal
 * server on the same Postgres) and a private Postgres cluster in a temporary directory (or DATABASE_URL when set),
 * with migrations applied. The test global setup and the benchmarks use it, so two runs can share a machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { runMigrations } from '../store/db.js';
import { provision, type Provisioned } from './index.js';
import { checkDatabaseUrl } from '../store/db.js';
import { startPostgres } from './postgres.js';
import { freePort } from './process.js';
import { startTemporalDevServer } from './temporal.js';
import {
  ensureNamespace,
  ensureTemporalServerFromEnv,
  setupTemporalSchema,
  startTemporalServer,
  temporalPostgresFrom,
  type RunningTemporalServer,
} from './temporal-server.js';

export interface EphemeralStack extends Provisioned {
  temporalAddress: string;
  databaseUrl: string;
  /** Scratch directory, removed by stop(). */
  tmp: string;
  /** Process ids, for benchmarks that measure CPU per process; postgres is absent when DATABASE_URL is set. */
  pids: { temporal: number; postgres?: number };
  stop(): Promise<void>;
}

export interface EphemeralOptions {
  /**
   * `dev` (default): the CLI's in-memory dev server. `real`: the Temporal server (go.temporal.io/server) on two
   * databases of the same Postgres, set up by the product's own set-up, as a deployment runs it.
   */
  temporal?: 'dev' | 'real';
  /** Dynamic config for the real server (see provision/temporal-server.ts). */
  dynamicConfig?: Record<string, unknown>;
}

export async function startEphemeralStack(
  config: Config,
  log: (line: string) => void,
  options: EphemeralOptions = {},
): Promise<EphemeralStack> {
  const provisioned = await provision(config, log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-runner-'));
  fs.chmodSync(tmp, 0o755);
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    let databaseUrl = config.DATABASE_URL;
    let postgresPid: number | undefined;
    if (databaseUrl) {
      await checkDatabaseUrl(databaseUrl);
    } else {
      const pg = await startPostgres(provisioned.pgBin!, path.join(tmp, 'postgres'), await freePort(), null);
      stops.push(() => pg.process.stop());
      databaseUrl = pg.url;
      postgresPid = pg.process.child.pid;
    }
    let temporal: { address: string; pid: number };
    if (options.temporal === 'real') {
      const server = await startRealTemporal(config, databaseUrl, path.join(tmp, 'temporal-server'), log, options);
      stops.push(() => server.stop());
      temporal = { address: server.address, pid: server.pid };
    } else {
      const port = await freePort();
      const dev = await startTemporalDevServer({
        cli: provisioned.temporal.path,
        port,
        namespace: config.TEMPORAL_NAMESPACE,
        onLine: null,
      });
      stops.push(() => dev.stop());
      temporal = { address: `127.0.0.1:${port}`, pid: dev.child.pid! };
    }
    await runMigrations(databaseUrl);
    return {
      ...provisioned,
      temporalAddress: temporal.address,
      databaseUrl,
      tmp,
      pids: { temporal: temporal.pid, ...(postgresPid ? { postgres: postgresPid } : {}) },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The real server: its build (cached), its schema on `databaseUrl`'s Postgres, the server, then the namespace. */
async function startRealTemporal(
  config: Config,
  databaseUrl: string,
  dir: string,
  log: (line: string) => void,
  options: EphemeralOptions,
): Promise<RunningTemporalServer> {
  const install = await ensureTemporalServerFromEnv(config.SPARK_RUNNER_CACHE, log);
  const postgres = temporalPostgresFrom(databaseUrl, { main: 'temporal', visibility: 'temporal_visibility' });
  await setupTemporalSchema({ sqlTool: install.sqlTool, schemaDir: install.schemaDir, ...postgres });
  const server = await startTemporalServer({
    server: install.server,
    dir,
    postgres,
    ...(options.dynamicConfig ? { dynamicConfig: options.dynamicConfig } : {}),
  });
  try {
    await ensureNamespace(server.address, config.TEMPORAL_NAMESPACE, false, { timeoutMs: 180_000 });
  } catch (err) {
    await server.stop();
    throw err;
  }
  log(`Temporal server ${install.version} on Postgres at ${server.address}`);
  return server;
}
