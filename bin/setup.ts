/**
 * `npm run setup`: provisions the Temporal CLI, Spark and the dev Postgres cluster, idempotently, caching under
 * ~/.cache/spark-runner. `npm run dev` and the test global setup run the same steps on their own.
 */
import { loadConfig } from '../config/index.js';
import { checkDatabaseUrl } from '../store/db.js';
import { provision, provisionDevCluster } from '../provision/index.js';
import { runMain } from './main.js';

runMain('setup', async () => {
  const config = loadConfig();
  const log = (line: string) => console.log(`[setup] ${line}`);
  const started = Date.now();
  if (config.DATABASE_URL) await checkDatabaseUrl(config.DATABASE_URL);
  const stack = await provision(config, log);
  await provisionDevCluster(config, stack.pgBin);
  log(`temporal: ${stack.temporal.version} (${stack.temporal.path})`);
  for (const spark of stack.sparks) log(`spark:    ${spark.version} (${spark.sparkHome})`);
  log(`postgres: ${config.DATABASE_URL ? 'DATABASE_URL' : `private cluster, binaries in ${stack.pgBin}`}`);
  log(`ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
