/**
 * `npm run dev`: the whole product on its embedded defaults, as one process tree with prefixed logs:
 *   temporal  - Temporal dev server, SQLite in .data/temporal.db, Web UI on :8233
 *   postgres  - private cluster in .data/postgres (unless DATABASE_URL is set)
 *   worker    - workflows, activities, status forwarding, local Spark runs
 *   api       - REST API on :8080
 * Ctrl-C or SIGTERM stops every child (and any local Spark run still going); a second run reuses .data/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dataPaths, loadConfig } from '../config/index.js';
import { ProvisionError } from '../provision/errors.js';
import { provision } from '../provision/index.js';
import { startPostgres } from '../provision/postgres.js';
import { checkDatabaseUrl } from '../store/db.js';
import { freePort, isPortOpen, prefixer, startProcess, type ManagedProcess } from '../provision/process.js';
import { startTemporalDevServer } from '../provision/temporal.js';
import { stopLocalRuns } from '../gateway/backends/local/index.js';
import { runMigrations } from '../store/db.js';
import { runMain } from './main.js';

const log = prefixer('dev');
/** The admin token `npm run dev` configures when no tokens are set; for loopback development only. */
const DEV_TOKEN = 'dev-admin-token';

runMain('dev', async () => {
  const config = loadConfig();
  const paths = dataPaths(config);
  fs.mkdirSync(config.SPARK_RUNNER_DATA, { recursive: true });
  const stack = await provision(config, log);
  log(`${stack.temporal.version}; Spark ${stack.spark.version}`);

  const children: ManagedProcess[] = [];
  let shuttingDown = false;
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log('stopping...');
    // API and worker first, so nothing new starts; then local Spark runs; then the servers they used.
    const [servers, apps] = [
      children.filter((c) => c.name === 'temporal' || c.name === 'postgres'),
      children.filter((c) => c.name === 'api' || c.name === 'worker'),
    ];
    await Promise.all(apps.map((c) => c.stop('SIGTERM', 10_000)));
    await stopLocalRuns(paths.runsDir);
    await Promise.all(servers.map((c) => c.stop()));
    log('stopped');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));

  let temporalAddress = config.TEMPORAL_ADDRESS;
  if (!temporalAddress) {
    if (await isPortOpen(config.TEMPORAL_PORT)) {
      throw new ProvisionError(
        `TEMPORAL_PORT ${config.TEMPORAL_PORT} is already in use (another \`npm run dev\`?): stop it or set TEMPORAL_PORT`,
      );
    }
    if (await isPortOpen(config.TEMPORAL_UI_PORT)) {
      throw new ProvisionError(
        `TEMPORAL_UI_PORT ${config.TEMPORAL_UI_PORT} is already in use: stop that process or set TEMPORAL_UI_PORT`,
      );
    }
    children.push(
      await startTemporalDevServer({
        cli: stack.temporal.path,
        port: config.TEMPORAL_PORT,
        uiPort: config.TEMPORAL_UI_PORT,
        dbFile: paths.temporalDb,
        namespace: config.TEMPORAL_NAMESPACE,
      }),
    );
    temporalAddress = `127.0.0.1:${config.TEMPORAL_PORT}`;
    log(`Temporal on ${temporalAddress}, Web UI on http://localhost:${config.TEMPORAL_UI_PORT}`);
  }

  let databaseUrl = config.DATABASE_URL;
  if (databaseUrl) {
    await checkDatabaseUrl(databaseUrl);
  } else {
    const pg = await startPostgres(stack.pgBin!, paths.postgresDir, await freePort());
    children.push(pg.process);
    databaseUrl = pg.url;
    log(`Postgres on ${databaseUrl}`);
  }
  await runMigrations(databaseUrl);

  // A local admin token unless the developer configured real ones; printed below so curl works at once.
  const devToken = config.API_TOKENS || config.API_TOKENS_FILE ? undefined : DEV_TOKEN;
  const env = {
    ...process.env,
    ...(devToken ? { API_TOKENS: `dev:*:admin:${devToken}` } : {}),
    TEMPORAL_ADDRESS: temporalAddress,
    DATABASE_URL: databaseUrl,
    SPARK_HOME: stack.spark.sparkHome,
    SPARK_PYTHON: stack.spark.python,
    SPARK_RUNNER_DATA: config.SPARK_RUNNER_DATA,
  };
  const node = (name: string, script: string) =>
    startProcess(name, process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, script)], { env });
  children.push(node('worker', 'worker.ts'), node('api', 'api.ts'));
  for (const child of children) {
    void child.exited.then((code) => {
      if (shuttingDown) return;
      log(`${child.name} exited (${code}); stopping everything`);
      void shutdown(1);
    });
  }
  log(`API on http://localhost:${config.API_PORT}  (try: curl -s localhost:${config.API_PORT}/healthz)`);
  if (devToken) log(`local admin token: ${devToken}  (export SPARK_RUNNER_TOKEN=${devToken})`);
  log('submit the SparkPi example: see README.md, "Your first job"');
});
