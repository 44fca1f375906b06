/**
 * Provisioning of the whole local stack: the Temporal CLI, Spark and Postgres. `npm run setup`, `npm run dev`
 * and the test global setup all go through here, so they agree on what "ready" means.
 */
import type { Config } from '../config/index.js';
import { findPostgresBin, initCluster } from './postgres.js';
import { ensureSpark, type SparkInstall } from './spark.js';
import { ensureTemporalCli, type TemporalCli } from './temporal.js';
import { dataPaths } from '../config/index.js';

export interface Provisioned {
  temporal: TemporalCli;
  spark: SparkInstall;
  /** Directory of initdb/postgres, or undefined when DATABASE_URL points at an existing server. */
  pgBin?: string;
}

/** Finds or installs every prerequisite. Throws ProvisionError (one line, names the fix) when one is missing. */
export async function provision(config: Config, log: (line: string) => void): Promise<Provisioned> {
  const pgBin = config.DATABASE_URL ? undefined : findPostgresBin(config.PG_BIN);
  // Temporal's first build and the pyspark install are independent and both slow: run them side by side.
  const [temporal, spark] = await Promise.all([ensureTemporalCli(config, log), ensureSpark(config, log)]);
  return { temporal, spark, pgBin };
}

/** For `npm run setup`: also create the dev Postgres cluster so the first `npm run dev` starts fast. */
export async function provisionDevCluster(config: Config, pgBin: string | undefined): Promise<void> {
  if (pgBin) await initCluster(pgBin, dataPaths(config).postgresDir);
}
