/**
 * Provisioning of the whole local stack: the Temporal CLI, Spark (every LOCAL_SPARK_VERSIONS entry), the CoreETL
 * runtime's jars and Postgres. `npm run setup`, `npm run dev` and the test global setup all go through here, so they
 * agree on what "ready" means.
 */
import type { Config } from '../config/index.js';
import { ensureCoreEtlJars } from './core-etl-jars.js';
import { findPostgresBin, initCluster } from './postgres.js';
import { ensureSparks, type SparkInstall } from './spark.js';
import { ensureTemporalCli, type TemporalCli } from './temporal.js';
import { dataPaths } from '../config/index.js';

export interface Provisioned {
  temporal: TemporalCli;
  /** The primary Spark (handed on as SPARK_HOME). */
  spark: SparkInstall;
  /** Every Spark the local backend runs, one per engine version, the primary first. */
  sparks: SparkInstall[];
  /** Directory of initdb/postgres, or undefined when DATABASE_URL points at an existing server. */
  pgBin?: string;
}

/** Finds or installs every prerequisite. Throws ProvisionError (one line, names the fix) when one is missing. */
export async function provision(config: Config, log: (line: string) => void): Promise<Provisioned> {
  const pgBin = config.DATABASE_URL ? undefined : findPostgresBin(config.PG_BIN);
  // Temporal's first build, the pyspark installs and the jar downloads are independent and slow: side by side.
  const versions = config.LOCAL_SPARK_VERSIONS.map((v) => config.SPARK_VERSIONS[v] ?? v);
  const [temporal, sparks] = await Promise.all([
    ensureTemporalCli(config, log),
    ensureSparks(config, log),
    ensureCoreEtlJars(config.SPARK_RUNNER_CACHE, versions, log),
  ]);
  return { temporal, spark: sparks[0]!, sparks, pgBin };
}

/** For `npm run setup`: also create the dev Postgres cluster so the first `npm run dev` starts fast. */
export async function provisionDevCluster(config: Config, pgBin: string | undefined): Promise<void> {
  if (pgBin) await initCluster(pgBin, dataPaths(config).postgresDir);
}
