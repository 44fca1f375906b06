/**
 * The one configuration module (STYLE.md §7). Every setting comes from an environment variable, is parsed here
 * once with zod, has a default that works on a laptop, and carries a comment saying why it exists. Code below
 * this module receives the parsed object; nothing else reads process.env.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { ApsSettings, TeamCaps } from '../runner/aps.js';
import type { DcrSettings } from '../runner/dcr.js';
import { parseMemoryMb } from '../schema/job-spec.js';
import { BACKENDS } from '../schema/states.js';

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v));
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()))
  .pipe(z.array(z.string().min(1)));

/** `team=N,...` with N a non-negative number (days of retention). */
const teamNumbers = z
  .string()
  .default('')
  .transform((v, ctx) => {
    const values: Record<string, number> = {};
    for (const item of v.split(',').filter((s) => s.trim())) {
      const [team, n] = item.split('=').map((s) => s.trim());
      if (!team || !/^\d+(\.\d+)?$/.test(n ?? '')) {
        ctx.addIssue({ code: 'custom', message: `"${item}" is not team=N with N a number of days` });
        return z.NEVER;
      }
      values[team] = Number(n);
    }
    return values;
  });

/** One team's caps in TEAM_RESOURCE_LIMITS; memory as a Spark size ("8g"), every field optional. */
const TeamCapsEntry = z
  .object({
    driverMemory: z.union([z.string(), z.number()]).optional(),
    driverCores: z.number().int().min(1).optional(),
    executorMemory: z.union([z.string(), z.number()]).optional(),
    executorCores: z.number().int().min(1).optional(),
    executors: z.number().int().min(0).optional(),
  })
  .strict()
  .transform((e, ctx) => {
    const mb = (v: string | number | undefined, field: string) => {
      if (v === undefined) return undefined;
      const parsed = parseMemoryMb(v);
      if (parsed === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `invalid memory size "${v}"` });
      return parsed;
    };
    return {
      ...(e.driverMemory !== undefined ? { driverMemoryMb: mb(e.driverMemory, 'driverMemory') } : {}),
      ...(e.driverCores !== undefined ? { driverCores: e.driverCores } : {}),
      ...(e.executorMemory !== undefined ? { executorMemoryMb: mb(e.executorMemory, 'executorMemory') } : {}),
      ...(e.executorCores !== undefined ? { executorCores: e.executorCores } : {}),
      ...(e.executors !== undefined ? { executors: e.executors } : {}),
    };
  });
const TeamResourceLimits = z.record(z.string().min(1), TeamCapsEntry);

/** The caps of a team that neither TEAM_RESOURCE_LIMITS' `default` nor its own entry narrows: the JobSpec's bounds. */
export const BUILTIN_TEAM_CAPS: TeamCaps = {
  driverMemoryMb: 65_536,
  driverCores: 64,
  executorMemoryMb: 65_536,
  executorCores: 64,
  executors: 1000,
};

export const ConfigSchema = z.object({
  /** Where provisioned tools (Temporal CLI, pyspark venv) are cached across checkouts and runs. */
  SPARK_RUNNER_CACHE: z.string().default(path.join(os.homedir(), '.cache', 'spark-runner')),
  /** Where `npm run dev` keeps its state (Temporal SQLite file, Postgres cluster, local Spark run logs). */
  SPARK_RUNNER_DATA: z.string().default(path.resolve('.data')),

  /** A Temporal CLI binary to use instead of building one from Go modules. */
  TEMPORAL_CLI: optionalString,
  /** Temporal frontend address. Unset: `npm run dev` starts a dev server on TEMPORAL_PORT. */
  TEMPORAL_ADDRESS: optionalString,
  /** Port for the embedded dev server's gRPC frontend. */
  TEMPORAL_PORT: int(1, 65535).default(7233),
  /** Port for the dev server's Web UI, where people inspect runs. */
  TEMPORAL_UI_PORT: int(1, 65535).default(8233),
  /** Temporal namespace that holds every Spark Runner workflow. */
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  /** Task queue the worker polls; tests use one per file so workers never steal each other's tasks. */
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('spark-runner'),
  /**
   * TLS to the frontend, for a secured cluster or Temporal Cloud (the Temporal CLI's and SDKs' variable names, so
   * one environment serves both). Unset: on when any TEMPORAL_TLS_* file or TEMPORAL_API_KEY is set.
   */
  TEMPORAL_TLS: bool.optional(),
  /** CA that signed the frontend's certificate (PEM). Unset: the system's trusted roots (Temporal Cloud). */
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: optionalString,
  /** Client certificate (PEM) for mTLS, with TEMPORAL_TLS_CLIENT_KEY_PATH. */
  TEMPORAL_TLS_CLIENT_CERT_PATH: optionalString,
  /** Private key (PEM) of TEMPORAL_TLS_CLIENT_CERT_PATH. */
  TEMPORAL_TLS_CLIENT_KEY_PATH: optionalString,
  /** Name to verify the frontend's certificate against (and send as SNI), when it differs from the address host. */
  TEMPORAL_TLS_SERVER_NAME: optionalString,
  /** API key, sent as `Authorization: Bearer <key>` (Temporal Cloud API keys; a JWT for a server's JWT authorizer). */
  TEMPORAL_API_KEY: optionalString,
  /** Retention of closed workflows in a namespace that `spark-runner admin temporal-setup` creates (days). */
  TEMPORAL_NAMESPACE_RETENTION_DAYS: int(1, 3650).default(30),
  /** The worker runs `admin temporal-setup` before it polls: needs the rights to create namespaces and attributes. */
  TEMPORAL_SETUP_ON_START: bool.default(false),

  /** Postgres for the executions store. Unset: a private cluster is created under SPARK_RUNNER_DATA. */
  DATABASE_URL: optionalString,
  /** Postgres connections each API or worker process keeps at most (its pool). */
  DATABASE_POOL_SIZE: int(1, 1000).default(10),
  /**
   * How long a request waits for a pooled connection when all are busy. Past it the API answers 503 with
   * Retry-After (a client retries), rather than queueing without bound.
   */
  DATABASE_POOL_WAIT_MS: int(10, 600_000).default(5000),
  /** Directory of Postgres server binaries (initdb, pg_ctl). Unset: the newest /usr/lib/postgresql/<v>/bin. */
  PG_BIN: optionalString,

  /** Run local Spark (spark-submit on this host). false: no process looks for Spark (the image built without it). */
  LOCAL_BACKEND_ENABLED: bool.default(true),
  /** Spark installation to use for the local backend. Unset: a pinned pyspark is installed into the cache. */
  SPARK_HOME: optionalString,
  /** Python interpreter for PySpark jobs on the local backend (the pyspark venv's python by default). */
  SPARK_PYTHON: optionalString,
  /** Master URL for local runs; two threads fit this project's 2-core reference machine. */
  LOCAL_SPARK_MASTER: z.string().default('local[2]'),
  /** How often the local backend checks its runs for status changes (pushed to workflows as signals). */
  LOCAL_WATCH_INTERVAL_MS: int(50, 60_000).default(1000),
  /**
   * Engine versions the local backend offers: `npm run setup`, `npm run dev` and the tests install pyspark at each
   * one's SPARK_VERSIONS version; the worker only finds them. A version not installed answers 422 at submit.
   */
  LOCAL_SPARK_VERSIONS: list.default(['3.5', '4.0']),
  /** What runs a `coreEtl` job locally: Spark Runner's own PySpark runtime (coreetl/), or the job's jar. */
  LOCAL_CORE_ETL_RUNTIME: z.enum(['builtin', 'jar']).default('builtin'),
  /** The Iceberg catalog local runs get (a Hadoop catalog); the reference's jobs name `pedregal`. */
  ICEBERG_CATALOG: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier')
    .default('pedregal'),
  /** That catalog's warehouse directory. Unset: `warehouse/` under SPARK_RUNNER_DATA. */
  ICEBERG_WAREHOUSE: optionalString,
  /** Per-team secrets for CoreETL JDBC sources (YAML/JSON `team: {secret: {user, password}}`), passed by environment. */
  CORE_ETL_SECRETS_FILE: optionalString,

  /**
   * Directories the local backend may run application files from (comma-separated; relative paths are resolved
   * against the directory the process started in). Unset: that directory and the checkout's examples/. A file
   * outside them answers 422 at submit: a job must not run an arbitrary file of the worker's host.
   */
  LOCAL_APPLICATION_ROOTS: optionalString.transform((v) =>
    v === undefined ? undefined : v.split(',').flatMap((s) => (s.trim() ? [s.trim()] : [])),
  ),

  /** Address the REST API binds to. Loopback by default; set 0.0.0.0 in a container. */
  API_HOST: z.string().default('127.0.0.1'),
  /** Port of the REST API. */
  API_PORT: int(0, 65535).default(8080),

  /** API bearer tokens, `name:team:member|admin:token` comma-separated; hashed at load (see api/auth.ts). */
  API_TOKENS: optionalString,
  /** A JSON file of `{name, team, role, sha256}` token entries, for tokens kept only as hashes. */
  API_TOKENS_FILE: optionalString,

  /** CoreETL driver jar for reference-style submits that name only a CoreETL version (`{version}` is replaced). */
  CORE_ETL_JAR_TEMPLATE: z.string().default('s3://core-etl-build-artifacts/jars/{version}/core-etl-driver-bundle.jar'),
  /** CoreETL driver main class for reference-style submits. */
  CORE_ETL_MAIN_CLASS: z.string().default('com.doordash.coreetl.spark.Main'),
  /** Largest accepted request body, in bytes; bigger ones get 413 before any parsing. */
  API_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(256 * 1024),
  /** The built web console the API serves at /ui; `npm run build` and `npm run dev` write it (ui/bundle.ts). */
  UI_DIR: z.string().default(path.resolve(import.meta.dirname, '..', 'ui', 'dist')),
  /** The Temporal Web UI as console users reach it, for each execution's workflow link. Unset: the dev server's. */
  TEMPORAL_UI_URL: optionalString,

  /** Backend for `backend: auto`. Unset: kubernetes when GATEWAY_CONFIG names clusters, else local. */
  DEFAULT_BACKEND: z.enum(BACKENDS).optional(),
  /**
   * Test-and-drill only, never a default: enables the sim backend (no Spark at all) in the api and worker, with its
   * runs and a count of runs started per (execution, attempt) kept in this directory, which every process given it
   * shares; so a run outlives a worker restart. `npm run bench -- drill` sets it (gateway/backends/sim/state-dir.ts).
   */
  SIM_BACKEND_STATE_DIR: optionalString,
  /** Spark versions a JobSpec may ask for; anything else is rejected at submit. */
  ENGINE_VERSIONS: list.default(['3.5', '4.0', '4.1', '4.2']),

  /** Per-team limits on executions at a backend at once, `team=N` comma-separated; the excess waits in a queue. */
  TEAM_CONCURRENCY_LIMITS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      const limits: Record<string, number> = {};
      for (const item of v.split(',').filter((s) => s.trim())) {
        const [team, n] = item.split('=').map((s) => s.trim());
        if (!team || !/^\d+$/.test(n ?? '') || Number(n) < 1) {
          ctx.addIssue({ code: 'custom', message: `"${item}" is not team=N with N >= 1` });
          return z.NEVER;
        }
        limits[team] = Number(n);
      }
      return limits;
    }),
  /** Limit for teams not named in TEAM_CONCURRENCY_LIMITS; 0 means unlimited. */
  DEFAULT_TEAM_CONCURRENCY: int(0, 100_000).default(0),
  /** How often a queued execution checks for a free team slot. */
  TEAM_QUEUE_POLL_MS: int(100, 600_000).default(5000),
  /**
   * Per-team resource caps, JSON `{"default": {...}, "<team>": {...}}` with `driverMemory`, `driverCores`,
   * `executorMemory`, `executorCores`, `executors` (memory as "8g"); a team's entry overrides the default field by
   * field. A submit over them answers 422 naming the field, and APS never recommends above them.
   */
  TEAM_RESOURCE_LIMITS: z
    .string()
    .default('')
    .transform((v, ctx) => {
      if (!v.trim()) return {};
      try {
        return TeamResourceLimits.parse(JSON.parse(v));
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: `expected JSON {"default"|"<team>": {driverMemory, driverCores, executorMemory, executorCores, executors}}: ${err instanceof z.ZodError ? err.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message}`,
        });
        return z.NEVER;
      }
    }),
  /** APS: how many of a job's newest finished executions it sizes from. */
  APS_HISTORY_LIMIT: int(1, 1000).default(20),
  /** APS: only executions finished within this many days count. */
  APS_HISTORY_DAYS: z.coerce.number().min(0).max(3650).default(30),
  /** APS: headroom over the observed peak memory (and executor count). */
  APS_HEADROOM: z.coerce.number().min(1).max(4).default(1.25),
  /** APS: recommended memory is rounded up to a multiple of this many MiB. */
  APS_ROUND_MB: int(1, 65_536).default(256),
  /** APS: this many successes in a row, each under APS_UNDERUSE_FRACTION of its grant, lower the memory. */
  APS_DOWNSIZE_AFTER: int(1, 1000).default(5),
  /** APS: a run peaking under this fraction of its grant counts as over-provisioned. */
  APS_UNDERUSE_FRACTION: z.coerce.number().min(0).max(1).default(0.5),
  /** APS: the most one recommendation lowers memory by, as a fraction. */
  APS_MAX_DOWNSIZE: z.coerce.number().min(0).max(0.9).default(0.1),
  /** APS: a successful run that spent more than this fraction of task time in GC was under memory pressure. */
  APS_GC_PRESSURE: z.coerce.number().min(0).max(1).default(0.1),
  /** DCR: a streaming job's loop samples its live run's progress (input and processing rates) this often. */
  STREAMING_SAMPLE_INTERVAL_S: z.coerce.number().min(1).max(86_400).default(300),
  /** DCR: a sample whose processing rate is under this share of its input rate is lagging. */
  DCR_LAG_RATIO: z.coerce.number().min(0.01).max(1).default(0.8),
  /** DCR: this many lagging samples in a row add executors (a controlled restart). */
  DCR_LAG_SAMPLES: int(1, 1000).default(3),
  /** DCR: with `sizing: auto`, APS's recommendation drifting more than this share from the run's sizes resizes it. */
  DCR_DRIFT_THRESHOLD: z.coerce.number().min(0).max(10).default(0.2),
  /** DCR: at most one policy-driven resize of a streaming job per this many seconds. */
  DCR_COOLDOWN_S: z.coerce.number().min(0).max(2_592_000).default(1800),

  /** Clusters file for the Spark Gateway (YAML/JSON: clusters with region, weight, capacity; team domains; EMR). Unset: no Kubernetes. */
  GATEWAY_CONFIG: optionalString,
  /** How often every cluster's health (API reachable, SparkApplication CRD established) is probed. */
  GATEWAY_HEALTH_INTERVAL_MS: int(100, 3_600_000).default(10_000),
  /** A health probe slower than this marks the cluster unhealthy. */
  GATEWAY_HEALTH_TIMEOUT_MS: int(100, 60_000).default(3000),
  /** An attempt no backend can take waits this long (visibly, as pending_reason NO_BACKEND), then ends FAILED/INFRA. */
  GATEWAY_NO_BACKEND_TIMEOUT_MS: int(1000, 7 * 86_400_000).default(15 * 60_000),
  /** A running attempt whose backend stays unreachable this long ends INFRA, and AR may place the next one elsewhere. */
  GATEWAY_UNREACHABLE_TIMEOUT_MS: int(1000, 7 * 86_400_000).default(10 * 60_000),
  /** How often an attempt that no backend can take is placed again. */
  GATEWAY_PLACEMENT_RETRY_MS: int(100, 600_000).default(5000),
  /** Engine version -> full Spark version for SparkApplication.runtimeVersions, `engine=version` comma-separated. */
  SPARK_VERSIONS: z
    .string()
    .default('3.5=3.5.5,4.0=4.0.1,4.1=4.1.3,4.2=4.2.0')
    .transform((v): Record<string, string> => {
      const pairs = v.split(',').filter(Boolean);
      return Object.fromEntries(pairs.map((kv) => kv.split('=').map((x) => x.trim()) as [string, string]));
    }),
  /** Driver/executor image; the operator replaces {{SPARK_VERSION}} with runtimeVersions.sparkVersion. */
  SPARK_IMAGE: z.string().default('apache/spark:{{SPARK_VERSION}}'),
  /** Domain of a team missing from the clusters file's teamDomains; its namespace is sjns-<domain>. */
  K8S_DEFAULT_DOMAIN: z.string().default('default'),
  /** The operator deletes a finished SparkApplication this long after it stops (keep it above the poll interval). */
  K8S_TTL_AFTER_STOP_MS: int(-1, 30 * 86_400_000).default(3_600_000),
  /**
   * Keep the driver pod after the run (`Always`: its log is archived when the attempt ends, which needs the pod; on
   * success `OnFailure` would have the operator delete it before the end is even reported), only after a
   * failure, or never.
   */
  K8S_RETAIN_POLICY: z.enum(['Always', 'OnFailure', 'Never']).default('Always'),
  /** How long retained driver pods are kept after the run (the operator then releases them); -1: until the TTL. */
  K8S_RETAIN_DURATION_MS: int(-1, 30 * 86_400_000).default(1_800_000),
  /** What runs a `coreEtl` job on Kubernetes; `builtin` answers 422 (the stock image has no runtime or Iceberg). */
  K8S_CORE_ETL_RUNTIME: z.enum(['jar', 'builtin']).default('jar'),
  /** No operator status this long after creation means the namespace is probably not watched: FAILED NO_STATUS. */
  K8S_STATUS_TIMEOUT_MS: int(1000, 86_400_000).default(300_000),
  /** Client-side rate limit per cluster (requests per second, and burst). */
  K8S_QPS: int(1, 10_000).default(5),
  K8S_BURST: int(1, 10_000).default(10),
  /** Namespace for the watcher Leases; set it to run several watchers (or workers) with one leader per cluster. */
  WATCH_LEASE_NAMESPACE: optionalString,
  /** The worker follows the Kubernetes clusters' status itself. false: a separate bin/watcher process does (Helm). */
  WORKER_WATCHES_KUBERNETES: bool.default(true),
  /** Address the watcher's health endpoint (/healthz, /readyz) binds to. */
  WATCHER_HOST: z.string().default('127.0.0.1'),
  /** Port of the watcher's health endpoint. */
  WATCHER_PORT: int(0, 65535).default(8081),

  /** Address the worker's Prometheus listener (GET /metrics) binds to. */
  WORKER_METRICS_HOST: z.string().default('127.0.0.1'),
  /** Port of the worker's Prometheus listener; unset: the worker serves no /metrics (0: any free port). */
  WORKER_METRICS_PORT: int(0, 65535).optional(),

  /**
   * OTLP/HTTP endpoint (base URL) traces and metrics are exported to, e.g. http://otel-collector:4318; unset: no
   * tracing and no metrics export (the /metrics listeners are unaffected).
   */
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url().optional(),
  /** How often each process pushes its metrics over OTLP, in milliseconds (the OpenTelemetry variable's name). */
  OTEL_METRIC_EXPORT_INTERVAL: int(100, 3_600_000).default(60_000),
  /**
   * host:port where the worker's Temporal Core serves Temporal's own metrics (GET /metrics, Prometheus); unset: none.
   * Set once per process: the first worker's value holds.
   */
  TEMPORAL_CORE_METRICS_ADDRESS: optionalString,
  /**
   * Trace inside the worker too: Temporal's workflow and activity interceptors. Off by default, since workflow
   * interceptors are part of the workflow code and replay; needs OTEL_EXPORTER_OTLP_ENDPOINT.
   */
  TEMPORAL_OTEL_INTERCEPTORS: bool.default(false),

  /** Safety-net polling interval for status, in case a watch signal is lost. Slow on purpose. */
  STATUS_POLL_INTERVAL_MS: int(100, 3_600_000).default(30_000),
  /**
   * While a run's cluster watch is healthy (it forwards every change as a signal), the safety net only checks that
   * it still is, this often, and reads nothing from the cluster; it polls every STATUS_POLL_INTERVAL_MS once not.
   */
  STATUS_WATCHED_CHECK_INTERVAL_MS: int(100, 3_600_000).default(300_000),
  /** Auto-retry: how much more of the memory that ran out an OOM-killed attempt gets next time. */
  AR_OOM_MEMORY_FACTOR: z.coerce.number().min(1).max(4).default(1.5),
  /** Auto-retry: an OOM retry never asks for more than this much memory per driver or executor. */
  AR_MAX_MEMORY_MB: int(256, 1_048_576).default(65_536),
  /** Upper bound on the backoff between attempts, whatever the job's retry policy says. */
  AR_MAX_BACKOFF_MS: int(0, 3_600_000).default(600_000),

  /** Public base of this API, for the absolute links in every execution (logs_url, vendor_logs_link). */
  API_PUBLIC_URL: optionalString,
  /** Where local runs write their Spark event logs (the History Server's log directory). Unset: <data>/spark-events. */
  SPARK_EVENT_LOG_DIR: optionalString,
  /** The History Server of local runs: read for metrics at each attempt's end, linked as spark_ui_url afterwards. */
  HISTORY_SERVER_URL: optionalString,
  /** Port of the History Server `npm run dev` starts (loopback only). */
  HISTORY_SERVER_PORT: int(1, 65535).default(18080),
  /** How long an attempt's end waits for the History Server to list its application as completed. */
  HISTORY_SERVER_WAIT_MS: int(0, 600_000).default(60_000),
  /** Largest archived driver log per attempt; a longer one keeps its first and last halves around a marker. */
  LOG_ARCHIVE_MAX_BYTES: int(4096, 16 * 1024 ** 3).default(256 * 1024 * 1024),
  /** Days archived logs and Spark event logs are kept, for teams not in LOG_RETENTION_BY_TEAM. */
  LOG_RETENTION_DAYS: z.coerce.number().min(0).max(3650).default(30),
  /** Per-team log retention, `team=days` comma-separated (fractions allowed). */
  LOG_RETENTION_BY_TEAM: teamNumbers,
  /** Days finished executions and their events are kept in Postgres, for teams not in EXECUTION_RETENTION_BY_TEAM. */
  EXECUTION_RETENTION_DAYS: z.coerce.number().min(0).max(36500).default(90),
  /** Per-team execution retention, `team=days` comma-separated. */
  EXECUTION_RETENTION_BY_TEAM: teamNumbers,
  /** Hours a finished local run's directory is kept after its logs were archived (0: at the next sweep). */
  LOCAL_RUN_RETENTION_HOURS: z.coerce.number().min(0).max(87_600).default(24),
  /** How often the retention sweep (a Temporal Schedule) runs. */
  RETENTION_SWEEP_INTERVAL_MS: int(60_000, 7 * 86_400_000).default(3_600_000),

  /** The API process hosts the Spark Connect proxy (gateway/connect/): sessions' notebooks connect to it. */
  CONNECT_PROXY_ENABLED: bool.default(true),
  /** Address of the proxy's plaintext (h2c) listener; pyspark sends tokens in plaintext only to `localhost`. */
  CONNECT_PROXY_HOST: z.string().default('127.0.0.1'),
  /** Port of the proxy's plaintext listener (0: a free port). */
  CONNECT_PROXY_PORT: int(0, 65535).default(15002),
  /** PEM certificate of the proxy's TLS listener, which every host but `localhost` needs; with CONNECT_TLS_KEY_FILE. */
  CONNECT_TLS_CERT_FILE: optionalString,
  /** PEM private key of CONNECT_TLS_CERT_FILE. */
  CONNECT_TLS_KEY_FILE: optionalString,
  /** Address of the TLS listener (it exists for clients on other machines). */
  CONNECT_TLS_HOST: z.string().default('0.0.0.0'),
  /** Port of the TLS listener (0: a free port). */
  CONNECT_TLS_PORT: int(0, 65535).default(15443),
  /** The host in each session's `connect_url`: `localhost` gets the plaintext port, any other host the TLS one. */
  CONNECT_PUBLIC_HOST: z.string().min(1).default('localhost'),
  /** The port in `connect_url` when it is not the listener's own (a load balancer in front of the proxy). */
  CONNECT_PUBLIC_PORT: int(1, 65535).optional(),
  /** How often the proxy writes each busy session's last activity to Postgres (never once per RPC). */
  CONNECT_ACTIVITY_FLUSH_MS: int(50, 600_000).default(5000),
  /** Spark versions a session may ask for; each needs a Spark whose jars hold the Connect server (4.0 and later). */
  SESSION_SPARK_VERSIONS: list.default(['4.0']),
  /** How often a session's workflow checks it for activity, its server for life, and its deadlines. */
  SESSION_CHECK_INTERVAL_MS: int(50, 3_600_000).default(15_000),
  /** A session with no RPC open and none started this long ends (unless the create asks for another). */
  SESSION_IDLE_TIMEOUT_S: int(1, 7 * 86_400).default(1800),
  /** A session ends this long after it was created, busy or not (unless the create asks for less). */
  SESSION_MAX_LIFETIME_S: int(1, 30 * 86_400).default(43_200),
  /** Driver memory of cold-started servers and of the default pool's, in MiB (local[1]: the whole server). */
  SESSION_DRIVER_MEMORY_MB: int(256, 1_048_576).default(1024),
  /** A server not ready this long after its start began has failed (a cold JVM takes seconds; a pod, minutes). */
  SESSION_START_TIMEOUT_MS: int(1000, 86_400_000).default(600_000),
  /** Warm servers of the `default` pool, which serves every team of the default domain; 0 drains it. `npm run dev`: 1. */
  SESSION_DEFAULT_POOL_SIZE: int(0, 100).default(0),

  /** pino log level for the worker and the API. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = z.output<typeof ConfigSchema>;

/** A configuration problem, phrased for a person: names the variable, says what to do. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * A prerequisite this process needs is missing or does not answer (Temporal, Postgres, Spark). One line for a
 * person: what is missing and how to provide it. Entry points print it without a stack trace and exit non-zero.
 */
export class DependencyError extends Error {
  override readonly name: string = 'DependencyError';
}

/** The processes that read this config; each has a cross-field check of its own. */
export type ProcessRole = 'api' | 'worker' | 'watcher';

/** What a role cannot start without, checked across variables; each message names them and what to do. */
const ROLE_CHECKS: Record<ProcessRole, (config: Config) => { path: keyof Config; message: string } | undefined> = {
  api: (c) =>
    c.API_TOKENS || c.API_TOKENS_FILE
      ? undefined
      : {
          path: 'API_TOKENS',
          message: 'no API tokens are configured: set API_TOKENS or API_TOKENS_FILE (npm run dev sets a local one)',
        },
  worker: (c) =>
    c.LOCAL_BACKEND_ENABLED || c.GATEWAY_CONFIG || c.SIM_BACKEND_STATE_DIR
      ? undefined
      : {
          path: 'GATEWAY_CONFIG',
          message:
            'no backend is enabled: set GATEWAY_CONFIG to a clusters file, or LOCAL_BACKEND_ENABLED=true with Spark installed',
        },
  watcher: (c) =>
    c.GATEWAY_CONFIG
      ? undefined
      : {
          path: 'GATEWAY_CONFIG',
          message: 'the watcher follows Kubernetes clusters: set GATEWAY_CONFIG to the clusters file',
        },
};

/** TLS settings that contradict each other, whatever the role. */
function temporalTlsProblem(c: Config): { path: keyof Config; message: string } | undefined {
  if (Boolean(c.TEMPORAL_TLS_CLIENT_CERT_PATH) !== Boolean(c.TEMPORAL_TLS_CLIENT_KEY_PATH)) {
    return {
      path: c.TEMPORAL_TLS_CLIENT_CERT_PATH ? 'TEMPORAL_TLS_CLIENT_KEY_PATH' : 'TEMPORAL_TLS_CLIENT_CERT_PATH',
      message: 'mTLS needs both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH: set both, or neither',
    };
  }
  const files = (['TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_CLIENT_CERT_PATH'] as const).filter((k) => c[k]);
  if (c.TEMPORAL_TLS === false && files.length > 0) {
    return {
      path: 'TEMPORAL_TLS',
      message: `TEMPORAL_TLS=false, but ${files.join(' and ')} asks for TLS: unset one of them`,
    };
  }
  return undefined;
}

/** The Connect proxy's TLS listener needs its certificate and its key. */
function connectTlsProblem(c: Config): { path: keyof Config; message: string } | undefined {
  if (Boolean(c.CONNECT_TLS_CERT_FILE) === Boolean(c.CONNECT_TLS_KEY_FILE)) return undefined;
  return {
    path: c.CONNECT_TLS_CERT_FILE ? 'CONNECT_TLS_KEY_FILE' : 'CONNECT_TLS_CERT_FILE',
    message:
      "the Connect proxy's TLS listener needs both CONNECT_TLS_CERT_FILE and CONNECT_TLS_KEY_FILE: set both, or neither",
  };
}

/** The schema a role's process parses its environment with: the settings, then the role's cross-field check. */
export function configSchemaFor(role?: ProcessRole) {
  return ConfigSchema.superRefine((config, ctx) => {
    const problem =
      temporalTlsProblem(config) ?? connectTlsProblem(config) ?? (role ? ROLE_CHECKS[role](config) : undefined);
    if (problem)
      ctx.addIssue({ code: 'custom', path: [problem.path], message: problem.message, params: { crossField: true } });
  });
}

/**
 * Parses the environment once (for a role's process: with that role's cross-field check). Throws ConfigError
 * naming the first bad variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, role?: ProcessRole): Config {
  const parsed = configSchemaFor(role).safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    if (issue.code === 'custom' && (issue.params as { crossField?: boolean } | undefined)?.crossField) {
      throw new ConfigError(issue.message);
    }
    const variable = String(issue.path[0] ?? 'environment');
    throw new ConfigError(`${variable}=${JSON.stringify(env[variable] ?? '')} is invalid: ${issue.message}`);
  }
  return parsed.data;
}

/** The Temporal frontend: TEMPORAL_ADDRESS, else the dev server `npm run dev` starts on TEMPORAL_PORT. */
export function temporalAddress(config: Pick<Config, 'TEMPORAL_ADDRESS' | 'TEMPORAL_PORT'>): string {
  return config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
}

/** The Temporal Web UI for links: TEMPORAL_UI_URL, else the dev server's on TEMPORAL_UI_PORT. */
export function temporalUiUrl(config: Pick<Config, 'TEMPORAL_UI_URL' | 'TEMPORAL_UI_PORT'>): string {
  return (config.TEMPORAL_UI_URL ?? `http://localhost:${config.TEMPORAL_UI_PORT}`).replace(/\/+$/, '');
}

/** This API as people and clients reach it, for absolute links: API_PUBLIC_URL, else localhost on API_PORT. */
export function apiPublicUrl(config: Pick<Config, 'API_PUBLIC_URL' | 'API_PORT'>): string {
  return (config.API_PUBLIC_URL ?? `http://localhost:${config.API_PORT}`).replace(/\/+$/, '');
}

/** Paths derived from the config, in one place. */
export function dataPaths(config: Config) {
  const data = config.SPARK_RUNNER_DATA;
  return {
    temporalDb: path.join(data, 'temporal.db'),
    postgresDir: path.join(data, 'postgres'),
    runsDir: path.join(data, 'runs'),
    /** Work directories of local Spark Connect servers, one per server id (logs, scratch space). */
    connectDir: path.join(data, 'connect'),
    eventLogDir: config.SPARK_EVENT_LOG_DIR ?? path.join(data, 'spark-events'),
    icebergWarehouse: config.ICEBERG_WAREHOUSE ?? path.join(data, 'warehouse'),
  };
}

/**
 * Where the local backend may run application files from: LOCAL_APPLICATION_ROOTS resolved against this
 * process's directory, or by default that directory (where `npm run dev` was started) and the checkout's examples/.
 */
export function localApplicationRoots(config: Pick<Config, 'LOCAL_APPLICATION_ROOTS'>): string[] {
  return (config.LOCAL_APPLICATION_ROOTS ?? [process.cwd(), path.resolve(import.meta.dirname, '..', 'examples')]).map(
    (root) => path.resolve(root),
  );
}

/** The team's concurrency limit, or undefined when it may run any number of executions at once. */
export function teamLimit(
  config: Pick<Config, 'TEAM_CONCURRENCY_LIMITS' | 'DEFAULT_TEAM_CONCURRENCY'>,
  team: string,
): number | undefined {
  const limit = config.TEAM_CONCURRENCY_LIMITS[team] ?? config.DEFAULT_TEAM_CONCURRENCY;
  return limit > 0 ? limit : undefined;
}

/** A team's resource caps: the built-in bounds, narrowed by TEAM_RESOURCE_LIMITS' `default`, then its own entry. */
export function teamCaps(config: Pick<Config, 'TEAM_RESOURCE_LIMITS'>, team: string): TeamCaps {
  return { ...BUILTIN_TEAM_CAPS, ...config.TEAM_RESOURCE_LIMITS.default, ...config.TEAM_RESOURCE_LIMITS[team] };
}

/** The settings APS reads. */
export type ApsConfig = Pick<
  Config,
  | 'APS_HISTORY_LIMIT'
  | 'APS_HISTORY_DAYS'
  | 'APS_HEADROOM'
  | 'APS_ROUND_MB'
  | 'APS_DOWNSIZE_AFTER'
  | 'APS_UNDERUSE_FRACTION'
  | 'APS_MAX_DOWNSIZE'
  | 'APS_GC_PRESSURE'
  | 'AR_OOM_MEMORY_FACTOR'
>;

/** The settings DCR's streaming loop reads. */
export type DcrConfig = Pick<
  Config,
  'STREAMING_SAMPLE_INTERVAL_S' | 'DCR_LAG_RATIO' | 'DCR_LAG_SAMPLES' | 'DCR_DRIFT_THRESHOLD' | 'DCR_COOLDOWN_S'
>;

/** DCR's numbers (runner/dcr.ts) from the settings. */
export function dcrSettings(config: DcrConfig): DcrSettings {
  return {
    lagRatio: config.DCR_LAG_RATIO,
    lagSamples: config.DCR_LAG_SAMPLES,
    minInputRowsPerSecond: 1,
    driftThreshold: config.DCR_DRIFT_THRESHOLD,
    cooldownMs: config.DCR_COOLDOWN_S * 1000,
  };
}

/** APS's numbers from the settings; the OOM factor is AR's, so APS raises memory the way AR does. */
export function apsSettings(config: ApsConfig): ApsSettings {
  return {
    historyLimit: config.APS_HISTORY_LIMIT,
    historyDays: config.APS_HISTORY_DAYS,
    headroom: config.APS_HEADROOM,
    roundMb: config.APS_ROUND_MB,
    downsizeAfter: config.APS_DOWNSIZE_AFTER,
    underuseFraction: config.APS_UNDERUSE_FRACTION,
    maxDownsize: config.APS_MAX_DOWNSIZE,
    gcPressure: config.APS_GC_PRESSURE,
    oomFactor: config.AR_OOM_MEMORY_FACTOR,
    confidenceAt: 10,
  };
}
