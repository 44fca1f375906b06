/**
 * A throwaway stack on free ports: an in-memory, headless Temporal dev server and a private Postgres cluster in
 * a temporary directory (or DATABASE_URL when set), with migrations applied. The test global setup and the
 * benchmarks use it, so two runs can share a machine.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../config/index.js';
import { runMigrations } from '../store/db.js';
import { provision, type Provisioned } from './index.js';
import { checkDatabaseUrl } from '../store/db.js';
import { startPostgres } from './postgres.js';
import { freePort, type ManagedProcess } from './process.js';
import { startTemporalDevServer } from './temporal.js';

export interface EphemeralStack extends Provisioned {
  temporalAddress: string;
  databaseUrl: string;
  /** Scratch directory, removed by stop(). */
  tmp: string;
  stop(): Promise<void>;
}

export async function startEphemeralStack(config: Config, log: (line: string) => void): Promise<EphemeralStack> {
  const provisioned = await provision(config, log);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-runner-'));
  fs.chmodSync(tmp, 0o755);
  const children: ManagedProcess[] = [];
  const stop = async () => {
    await Promise.all(children.reverse().map((c) => c.stop()));
    fs.rmSync(tmp, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    children.push(
      await startTemporalDevServer({
        cli: provisioned.temporal.path,
        port,
        namespace: config.TEMPORAL_NAMESPACE,
        onLine: null,
      }),
    );
    let databaseUrl = config.DATABASE_URL;
    if (databaseUrl) {
      await checkDatabaseUrl(databaseUrl);
    } else {
      const pg = await startPostgres(provisioned.pgBin!, path.join(tmp, 'postgres'), await freePort(), null);
      children.push(pg.process);
      databaseUrl = pg.url;
    }
    await runMigrations(databaseUrl);
    return { ...provisioned, temporalAddress: `127.0.0.1:${port}`, databaseUrl, tmp, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
