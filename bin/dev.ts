/**
 * `npm run dev`: the whole product on its embedded defaults, as one process tree with prefixed logs:
 *   temporal  - Temporal dev server, SQLite in .data/temporal.db, Web UI on :8233
 *   postgres  - private cluster in .data/postgres (unless DATABASE_URL is set)
 *   worker    - workflows, activities, status forwarding, local Spark runs
 *   api       - REST API on :8080, and the web console at /ui (bundled here, at start, into UI_DIR); the
 *               Spark Connect proxy for sessions on :15002, with a warm pool of one server (the worker's)
 *   history   - Spark History Server on :18080 over .data/spark-events (unless HISTORY_SERVER_URL is set)
 * Ctrl-C or SIGTERM stops every child (and any local Spark run still going); a second run reuses .data/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { dataPaths, loadConfig } from '../config/index.js';
import { ProvisionError } from '../provision/errors.js';
import { provision } from '../provision/index.js';
import { startHistoryServer, type RunningHistoryServer } from '../provision/history-server.js';
import { startPostgres } from '../provision/postgres.js';
import { checkDatabaseUrl } from '../store/db.js';
import { freePort, isPortOpen, prefixer, startProcess, type ManagedProcess } from '../provision/process.js';
import { startTemporalDevServer } from '../provision/temporal.js';
import { stopLocalRuns } from '../gateway/backends/local/index.js';
import { stopLocalConnectServers } from '../gateway/connect/local-servers.js';
import { runMigrations } from '../store/db.js';
import { bundleConsole } from '../ui/bundle.js';
import { runMain } from './main.js';

const log = prefixer('dev');
/** The admin token `npm run dev` configures when no tokens are set; for loopback development only. */
const DEV_TOKEN = 'dev-admin-token';

runMain('dev', async () => {
  const config = loadConfig();
  const paths = dataPaths(config);
  fs.mkdirSync(config.SPARK_RUNNER_DATA, { recursive: true });
  const stack = await provision(config, log);
  log(`${stack.temporal.version}; Spark ${stack.sparks.map((s) => s.version).join(', ')}`);

  const children: ManagedProcess[] = [];
  let shuttingDown = false;
  const stopChildren = async () => {
    // API and worker first, so nothing new starts; then local Spark runs; then the servers they used.
    const [servers, apps] = [
      children.filter((c) => c.name === 'temporal' || c.name === 'postgres' || c.name === 'history'),
      children.filter((c) => c.name === 'api' || c.name === 'worker'),
    ];
    await Promise.all(apps.map((c) => c.stop('SIGTERM', 10_000)));
    await stopLocalRuns(paths.runsDir);
    // Warm and leased Spark Connect servers too; the next start finds their rows dead and warms new ones.
    await stopLocalConnectServers(paths.connectDir);
    await Promise.all(servers.map((c) => c.stop()));
  };
  const shutdown = async (code: number) => {
    if (shuttingDown) return;
    shuttingDown = true;
    log('stopping...');
    await stopChildren();
    log('stopped');
    process.exit(code);
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(0));

  // A failed start leaves nothing running: what already started (a History Server still starting too) is stopped
  // before the one-line error.
  let history: Promise<RunningHistoryServer> | undefined;
  try {
    await start();
  } catch (err) {
    shuttingDown = true;
    if (history) await history.then((h) => children.push(h.process)).catch(() => undefined);
    await stopChildren();
    throw err;
  }

  async function start(): Promise<void> {
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

    // The Spark UI after the run, over the local runs' event logs; it starts while Postgres does.
    let historyUrl = config.HISTORY_SERVER_URL;
    if (!historyUrl) {
      if (await isPortOpen(config.HISTORY_SERVER_PORT)) {
        throw new ProvisionError(
          `HISTORY_SERVER_PORT ${config.HISTORY_SERVER_PORT} is already in use: stop that process or set HISTORY_SERVER_PORT`,
        );
      }
      history = startHistoryServer({
        sparkHome: stack.spark.sparkHome,
        logDir: paths.eventLogDir,
        port: config.HISTORY_SERVER_PORT,
        // Short, so an attempt's end finds its application listed within a couple of seconds.
        updateIntervalMs: 2000,
        maxAgeDays: config.LOG_RETENTION_DAYS,
      });
      history.catch(() => undefined); // awaited below, where a failure stops everything
    }

    let databaseUrl = config.DATABASE_URL;
    if (databaseUrl) {
      await checkDatabaseUrl(databaseUrl);
    } else {
      const pg = await startPostgres(stack.pgBin!, paths.postgresDir, await freePort());
      children.push(pg.process);
      databaseUrl = pg.url;
      log(`Postgres on ${databaseUrl}`);
      if (pg.dataDir !== path.resolve(paths.postgresDir)) {
        log(`Postgres data directory: ${pg.dataDir} (the postgres user cannot reach ${paths.postgresDir})`);
      }
    }
    await runMigrations(databaseUrl);
    if (history) {
      const started = await history.catch((err: unknown) => {
        throw new ProvisionError(`the Spark History Server did not start: ${(err as Error).message}`);
      });
      history = undefined;
      children.push(started.process);
      historyUrl = started.url;
      log(`Spark History Server on ${historyUrl} (event logs in ${paths.eventLogDir})`);
    }

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
      HISTORY_SERVER_URL: historyUrl,
      // One warm Spark Connect server for sessions unless the developer chose a size (0 disables it).
      SESSION_DEFAULT_POOL_SIZE: process.env.SESSION_DEFAULT_POOL_SIZE ?? '1',
    };
    const node = (name: string, script: string) =>
      startProcess(name, process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, script)], { env });
    const consoleStarted = Date.now();
    const bundle = await bundleConsole(config.UI_DIR);
    log(
      `web console bundled in ${Date.now() - consoleStarted} ms (${Math.round(bundle.bytes / 1024)} KiB) into ${bundle.dir}`,
    );
    children.push(node('worker', 'worker.ts'), node('api', 'api.ts'));
    for (const child of children) {
      void child.exited.then((code) => {
        if (shuttingDown) return;
        log(`${child.name} exited (${code}); stopping everything`);
        void shutdown(1);
      });
    }
    log(`API on http://localhost:${config.API_PORT}  (try: curl -s localhost:${config.API_PORT}/healthz)`);
    log(`web console on http://localhost:${config.API_PORT}/ui`);
    if (config.CONNECT_PROXY_ENABLED) {
      log(`Spark Connect sessions: POST /api/v1/sessions, then sc://localhost:${config.CONNECT_PROXY_PORT} (README)`);
    }
    if (devToken) log(`local admin token: ${devToken}  (export SPARK_RUNNER_TOKEN=${devToken})`);
    log('submit the SparkPi example: see README.md, "Your first job"');
    // The local backend gives CoreETL jobs this catalog (gateway/backends/local/core-etl.ts).
    log(
      `Iceberg catalog "${config.ICEBERG_CATALOG}" in ${paths.icebergWarehouse}  (sample data: spark-runner catalog seed --example)`,
    );
  }
});
