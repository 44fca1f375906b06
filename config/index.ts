/**
 * The one configuration module (STYLE.md §7). Every setting comes from an environment variable, is parsed here
 * once with zod, has a default that works on a laptop, and carries a comment saying why it exists. Code below
 * this module receives the parsed object; nothing else reads process.env.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
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

  /** Postgres for the executions store. Unset: a private cluster is created under SPARK_RUNNER_DATA. */
  DATABASE_URL: optionalString,
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

  /** Backend for `backend: auto`. Unset: kubernetes when GATEWAY_CONFIG names clusters, else local. */
  DEFAULT_BACKEND: z.enum(BACKENDS).optional(),
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
  /** Keep the driver pod after a failure for debugging (`OnFailure`), always, or never. */
  K8S_RETAIN_POLICY: z.enum(['Always', 'OnFailure', 'Never']).default('OnFailure'),
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

  /** Safety-net polling interval for status, in case a watch signal is lost. Slow on purpose. */
  STATUS_POLL_INTERVAL_MS: int(100, 3_600_000).default(30_000),
  /** Auto-retry: how much more of the memory that ran out an OOM-killed attempt gets next time. */
  AR_OOM_MEMORY_FACTOR: z.coerce.number().min(1).max(4).default(1.5),
  /** Auto-retry: an OOM retry never asks for more than this much memory per driver or executor. */
  AR_MAX_MEMORY_MB: int(256, 1_048_576).default(65_536),
  /** Upper bound on the backoff between attempts, whatever the job's retry policy says. */
  AR_MAX_BACKOFF_MS: int(0, 3_600_000).default(600_000),

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
    c.LOCAL_BACKEND_ENABLED || c.GATEWAY_CONFIG
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

/** The schema a role's process parses its environment with: the settings, then the role's cross-field check. */
export function configSchemaFor(role?: ProcessRole) {
  return ConfigSchema.superRefine((config, ctx) => {
    const problem = role ? ROLE_CHECKS[role](config) : undefined;
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
export function temporalAddress(config: Config): string {
  return config.TEMPORAL_ADDRESS ?? `127.0.0.1:${config.TEMPORAL_PORT}`;
}

/** Paths derived from the config, in one place. */
export function dataPaths(config: Config) {
  const data = config.SPARK_RUNNER_DATA;
  return {
    temporalDb: path.join(data, 'temporal.db'),
    postgresDir: path.join(data, 'postgres'),
    runsDir: path.join(data, 'runs'),
  };
}

/** The team's concurrency limit, or undefined when it may run any number of executions at once. */
export function teamLimit(
  config: Pick<Config, 'TEAM_CONCURRENCY_LIMITS' | 'DEFAULT_TEAM_CONCURRENCY'>,
  team: string,
): number | undefined {
  const limit = config.TEAM_CONCURRENCY_LIMITS[team] ?? config.DEFAULT_TEAM_CONCURRENCY;
  return limit > 0 ? limit : undefined;
}
