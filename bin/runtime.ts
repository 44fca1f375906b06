/**
 * What the api, worker and watcher entry points share: the parsed config, the Temporal address, Spark, and the
 * checks that turn a missing dependency into one clear line instead of a stack trace.
 */
import { temporalAddress, DependencyError, type Config, type ProcessRole } from '../config/index.js';
import { connectTemporal } from '../config/temporal.js';
import { findLocalSparks, type SparkInstall } from '../gateway/backends/local/spark-install.js';
import { SEARCH_ATTRIBUTES } from '../schema/vocabulary.js';
import { checkTemporalSetup, setupTemporal, type TemporalSetupResult } from '../service/temporal-setup.js';
import { checkDatabaseUrl, runMigrations } from '../store/db.js';

/**
 * Connects to the Temporal frontend with the configured TLS and API key, then checks the namespace exists and, for
 * the roles that start workflows, that the search attributes are registered. A worker with TEMPORAL_SETUP_ON_START
 * sets them up instead. Every failure is one line (a wrong CA, a refused key, a server nobody set up).
 */
export async function checkTemporal(
  config: Config,
  role: ProcessRole,
): Promise<{ address: string; setup?: TemporalSetupResult }> {
  const address = temporalAddress(config);
  // Short: at start, a frontend that does not answer within seconds is reported, not waited for.
  const connection = await connectTemporal(config, { connectTimeoutMs: 5000 });
  const target = { connection, address, namespace: config.TEMPORAL_NAMESPACE };
  try {
    if (role === 'worker' && config.TEMPORAL_SETUP_ON_START) {
      return {
        address,
        setup: await setupTemporal(target, { retentionDays: config.TEMPORAL_NAMESPACE_RETENTION_DAYS }),
      };
    }
    // The watcher only signals workflows that exist; the API and the worker start workflows with the attributes.
    await checkTemporalSetup(target, role === 'watcher' ? [] : SEARCH_ATTRIBUTES);
    return { address };
  } finally {
    await connection.close();
  }
}

/**
 * Checks Temporal and Postgres answer, applies migrations, and finds Spark when the local backend is enabled
 * (LOCAL_BACKEND_ENABLED=false, as in an image built without Spark, needs none). Installs nothing: a missing
 * prerequisite is one clear line (`npm run setup` provisions a development machine).
 */
export async function connectDependencies(
  config: Config,
  role: 'api' | 'worker',
): Promise<{
  databaseUrl: string;
  /** Every Spark the local backend runs, one per engine version, the primary first (findLocalSparks). */
  spark: SparkInstall[] | undefined;
  temporalSetup?: TemporalSetupResult;
}> {
  if (!config.DATABASE_URL) {
    throw new DependencyError('DATABASE_URL is not set: start everything with `npm run dev`, or set DATABASE_URL');
  }
  await checkDatabaseUrl(config.DATABASE_URL);
  const temporal = await checkTemporal(config, role);
  await runMigrations(config.DATABASE_URL);
  const spark = config.LOCAL_BACKEND_ENABLED ? await findLocalSparks(config) : undefined;
  return { databaseUrl: config.DATABASE_URL, spark, ...(temporal.setup ? { temporalSetup: temporal.setup } : {}) };
}
