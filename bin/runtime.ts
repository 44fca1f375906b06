/**
 * What the api, worker and watcher entry points share: the parsed config, the Temporal address, Spark, and the
 * checks that turn a missing dependency into one clear line instead of a stack trace.
 */
import { DependencyError, temporalAddress, type Config } from '../config/index.js';
import { temporalReachable } from '../config/temporal.js';
import { findSpark, type SparkInstall } from '../gateway/backends/local/spark-install.js';
import { checkDatabaseUrl, runMigrations } from '../store/db.js';

/** Checks the Temporal frontend answers; returns its address. */
export async function checkTemporal(config: Config): Promise<string> {
  const address = temporalAddress(config);
  if (!(await temporalReachable(address))) {
    throw new DependencyError(
      `Temporal is not reachable at ${address}: start everything with \`npm run dev\`, or set TEMPORAL_ADDRESS`,
    );
  }
  return address;
}

/**
 * Checks Temporal and Postgres answer, applies migrations, and finds Spark when the local backend is enabled
 * (LOCAL_BACKEND_ENABLED=false, as in an image built without Spark, needs none). Installs nothing: a missing
 * prerequisite is one clear line (`npm run setup` provisions a development machine).
 */
export async function connectDependencies(
  config: Config,
): Promise<{ databaseUrl: string; spark: SparkInstall | undefined }> {
  if (!config.DATABASE_URL) {
    throw new DependencyError('DATABASE_URL is not set: start everything with `npm run dev`, or set DATABASE_URL');
  }
  await checkDatabaseUrl(config.DATABASE_URL);
  await checkTemporal(config);
  await runMigrations(config.DATABASE_URL);
  const spark = config.LOCAL_BACKEND_ENABLED ? await findSpark(config) : undefined;
  return { databaseUrl: config.DATABASE_URL, spark };
}
