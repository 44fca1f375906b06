/**
 * What the api, worker and watcher entry points share: the parsed config, the Temporal address, Spark, and the
 * checks that turn a missing dependency into one clear line instead of a stack trace.
 */
import { temporalAddress, type Config } from '../config/index.js';
import { ProvisionError } from '../provision/errors.js';
import { checkDatabaseUrl } from '../provision/postgres.js';
import { ensureSpark, type SparkInstall } from '../provision/spark.js';
import { temporalReachable } from '../provision/temporal.js';
import { runMigrations } from '../store/db.js';

/** Checks the Temporal frontend answers; returns its address. */
export async function checkTemporal(config: Config): Promise<string> {
  const address = temporalAddress(config);
  if (!(await temporalReachable(address))) {
    throw new ProvisionError(
      `Temporal is not reachable at ${address}: start everything with \`npm run dev\`, or set TEMPORAL_ADDRESS`,
    );
  }
  return address;
}

/**
 * Checks Temporal and Postgres answer, applies migrations, and finds Spark when the local backend is enabled
 * (LOCAL_BACKEND_ENABLED=false, as in an image built without Spark, needs none).
 */
export async function connectDependencies(
  config: Config,
  log: (line: string) => void,
): Promise<{ databaseUrl: string; spark: SparkInstall | undefined }> {
  if (!config.DATABASE_URL) {
    throw new ProvisionError('DATABASE_URL is not set: start everything with `npm run dev`, or set DATABASE_URL');
  }
  await checkDatabaseUrl(config.DATABASE_URL);
  await checkTemporal(config);
  await runMigrations(config.DATABASE_URL);
  const spark = config.LOCAL_BACKEND_ENABLED ? await ensureSpark(config, log) : undefined;
  return { databaseUrl: config.DATABASE_URL, spark };
}
