/**
 * Vitest global setup: provisions the real stack once per run (finding or building the Temporal CLI, Spark and
 * Postgres), then starts Temporal and Postgres on free ports for this run only. Test files reach them through
 * the environment (see test/helpers/stack.ts).
 */
import { spawnSync } from 'node:child_process';
import { loadConfig } from '../config/index.js';
import { ensureChromium } from '../provision/chromium.js';
import { ensureConnectClient } from '../provision/connect-client.js';
import { startEphemeralStack } from '../provision/ephemeral.js';
import { ensureKubeBinaries } from '../provision/kubernetes/index.js';
import { ensureMoto } from '../provision/moto.js';
import { ensureOtelCollector } from '../provision/otel.js';
import { ensurePrometheus } from '../provision/prometheus.js';
import { ensureTemporalServerFromEnv } from '../provision/temporal-server.js';

export default async function setup(): Promise<() => Promise<void>> {
  const started = Date.now();
  const log = (line: string) => console.log(`[test-stack] ${line}`);
  const config = loadConfig();
  const stack = await startEphemeralStack(config, log);
  /** A failed step stops what already started (Temporal, Postgres) before the suite reports the failure. */
  const stopStack = async (err: unknown): Promise<never> => {
    await stack.stop();
    throw err;
  };
  // Vitest runs no teardown when it is killed, and may exit before an async stop ends: first, synchronously, an
  // immediate shutdown (SIGQUIT) of whatever runs from the stack's scratch directory (its Postgres, test Spark
  // runs), then the ordinary stop, so no Temporal or Postgres outlives the run.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      spawnSync('pkill', ['-QUIT', '-f', stack.tmp]);
      void stack.stop().finally(() => process.exit(130));
    });
  }
  // Kubernetes tests start their own API servers (some need two); the binaries are built once, here.
  const kube = await ensureKubeBinaries(
    { cacheDir: config.SPARK_RUNNER_CACHE, KUBE_APISERVER: process.env.KUBE_APISERVER, ETCD: process.env.ETCD },
    log,
  ).catch(stopStack);
  // Telemetry receivers (test/helpers/otel-collector.ts, prometheus.ts); each test file starts its own.
  const cacheDir = config.SPARK_RUNNER_CACHE;
  const [otelCollector, prometheus] = await Promise.all([
    ensureOtelCollector({ cacheDir, OTEL_COLLECTOR: process.env.OTEL_COLLECTOR }, log),
    ensurePrometheus({ cacheDir, PROMETHEUS: process.env.PROMETHEUS }, log),
  ]).catch(stopStack);
  // The real Temporal server on Postgres (test/helpers/temporal-server.ts); each test file starts its own.
  const temporalServer = await ensureTemporalServerFromEnv(config.SPARK_RUNNER_CACHE, log).catch(stopStack);
  // moto stands in for AWS in the EMR tests; each test file starts its own server from this venv.
  const motoPython = await ensureMoto({ cacheDir: config.SPARK_RUNNER_CACHE }, log).catch(stopStack);
  // The thin pyspark client the Spark Connect tests drive, directly and through the proxy.
  const connectPython = await ensureConnectClient({ cacheDir: config.SPARK_RUNNER_CACHE }, log).catch(stopStack);
  // Debian's Chromium for the web console's browser tests (installed with apt-get as root; never downloaded).
  const chromium = await ensureChromium(
    { cacheDir: config.SPARK_RUNNER_CACHE, CHROMIUM: process.env.CHROMIUM },
    log,
  ).catch(stopStack);
  Object.assign(process.env, {
    TEMPORAL_ADDRESS: stack.temporalAddress,
    DATABASE_URL: stack.databaseUrl,
    SPARK_HOME: stack.spark.sparkHome,
    SPARK_PYTHON: stack.spark.python,
    TEMPORAL_CLI: stack.temporal.path,
    SPARK_RUNNER_TEST_TMP: stack.tmp,
    KUBE_APISERVER: kube.kubeApiserver,
    ETCD: kube.etcd,
    OTEL_COLLECTOR: otelCollector,
    PROMETHEUS: prometheus,
    TEMPORAL_SERVER: temporalServer.server,
    TEMPORAL_SQL_TOOL: temporalServer.sqlTool,
    TEMPORAL_SCHEMA_DIR: temporalServer.schemaDir,
    MOTO_PYTHON: motoPython,
    CONNECT_CLIENT_PYTHON: connectPython,
    // API processes the tests start (bin/api.ts) host a Connect proxy each: on a free port, never all on :15002.
    CONNECT_PROXY_PORT: '0',
    CHROMIUM: chromium,
  });
  log(
    `${stack.temporal.version}; Spark ${stack.sparks.map((s) => s.version).join(', ')}; kube-apiserver ${kube.version}; Temporal at ${stack.temporalAddress}; ready in ${Date.now() - started} ms`,
  );
  return () => stack.stop();
}
