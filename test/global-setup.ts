/**
 * Vitest global setup: provisions the real stack once per run (finding or building the Temporal CLI, Spark and
 * Postgres), then starts Temporal and Postgres on free ports for this run only. Test files reach them through
 * the environment (see test/helpers/stack.ts).
 */
import { loadConfig } from '../config/index.js';
import { ensureConnectClient } from '../provision/connect-client.js';
import { startEphemeralStack } from '../provision/ephemeral.js';
import { ensureKubeBinaries } from '../provision/kubernetes/index.js';
import { ensureMoto } from '../provision/moto.js';
import { ensureOtelCollector } from '../provision/otel.js';
import { ensurePrometheus } from '../provision/prometheus.js';
import { ensureTemporalServer } from '../provision/temporal-server.js';

export default async function setup(): Promise<() => Promise<void>> {
  const started = Date.now();
  const log = (line: string) => console.log(`[test-stack] ${line}`);
  const config = loadConfig();
  const stack = await startEphemeralStack(config, log);
  // Kubernetes tests start their own API servers (some need two); the binaries are built once, here.
  const kube = await ensureKubeBinaries(
    { cacheDir: config.SPARK_RUNNER_CACHE, KUBE_APISERVER: process.env.KUBE_APISERVER, ETCD: process.env.ETCD },
    log,
  ).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  // Telemetry receivers (test/helpers/otel-collector.ts, prometheus.ts); each test file starts its own.
  const cacheDir = config.SPARK_RUNNER_CACHE;
  const [otelCollector, prometheus] = await Promise.all([
    ensureOtelCollector({ cacheDir, OTEL_COLLECTOR: process.env.OTEL_COLLECTOR }, log),
    ensurePrometheus({ cacheDir, PROMETHEUS: process.env.PROMETHEUS }, log),
  ]).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  // The real Temporal server on Postgres (test/helpers/temporal-server.ts); each test file starts its own.
  const temporalServer = await ensureTemporalServer(
    {
      cacheDir: config.SPARK_RUNNER_CACHE,
      TEMPORAL_SERVER: process.env.TEMPORAL_SERVER,
      TEMPORAL_SQL_TOOL: process.env.TEMPORAL_SQL_TOOL,
      TEMPORAL_SCHEMA_DIR: process.env.TEMPORAL_SCHEMA_DIR,
    },
    log,
  ).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  // moto stands in for AWS in the EMR tests; each test file starts its own server from this venv.
  const motoPython = await ensureMoto({ cacheDir: config.SPARK_RUNNER_CACHE }, log).catch(async (err: unknown) => {
    await stack.stop();
    throw err;
  });
  // The thin pyspark client the Spark Connect tests drive, directly and through the proxy.
  const connectPython = await ensureConnectClient({ cacheDir: config.SPARK_RUNNER_CACHE }, log).catch(
    async (err: unknown) => {
      await stack.stop();
      throw err;
    },
  );
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
  });
  log(
    `${stack.temporal.version}; Spark ${stack.spark.version}; kube-apiserver ${kube.version}; Temporal at ${stack.temporalAddress}; ready in ${Date.now() - started} ms`,
  );
  return () => stack.stop();
}
