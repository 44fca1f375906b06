/**
 * What the api and worker entry points share: the parsed config, the Temporal address, Spark, and the checks
 * that turn a missing dependency into one clear line instead of a stack trace.
 */
import type { Config } from '../config/index.js';
import { ProvisionError } from '../provision/errors.js';
import { checkDatabaseUrl } from '../provision/postgres.js';
import { ensureSpark, type SparkInstall } from '../provision/spark.js';
import { temporalReachable } from '../provision/temporal.js';
import { runMigrations } from '../store/db.js';

export function temporalAddress(config: Config): string {
  return config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
}

/** Checks Temporal and Postgres answer, applies migrations, and finds Spark. */
export async function connectDependencies(
  config: Config,
  log: (line: string) => void,
): Promise<{ databaseUrl: string; spark: SparkInstall }> {
  if (!config.DATABASE_URL) {
    throw new ProvisionError('DATABASE_URL is not set: start everything with `npm run dev`, or set DATABASE_URL');
  }
  await checkDatabaseUrl(config.DATABASE_URL);
  const address = temporalAddress(config);
  if (!(await temporalReachable(address))) {
    throw new ProvisionError(
      `Temporal is not reachable at ${address}: start everything with \`npm run dev\`, or set TEMPORAL_ADDRESS`,
    );
  }
  await runMigrations(config.DATABASE_URL);
  return { databaseUrl: config.DATABASE_URL, spark: await ensureSpark(config, log) };
}
