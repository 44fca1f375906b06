/**
 * Assembles a worker: the Temporal Worker with the execution workflow and its activities, the gateway's worker
 * composition (gateway/compose.ts), and the status forwarder that turns status sources' changes into signals. Used by bin/worker.ts, `npm run dev`
 * and the tests (each test file with its own task queue).
 */
import { Client } from '@temporalio/client';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type LogLevel,
  type WorkerInterceptors,
} from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { createActivities } from '../activities/index.js';
import { createAttemptEndActivities } from '../activities/attempt-end.js';
import { createContinuousActivities } from '../activities/continuous.js';
import { createRetentionActivities } from '../activities/retention.js';
import { ensureRetentionSchedule, retentionPolicy } from '../service/retention.js';
import { ConfigError, dataPaths, type Config } from '../config/index.js';
import { connectTemporal, temporalConnectionOptions } from '../config/temporal.js';
import type { Backend, StatusSource } from '../gateway/backend.js';
import { composeGateway, type Composition, type SparkInstallation } from '../gateway/compose.js';
import type { SparkGateway } from '../gateway/index.js';
import type { BackendName } from '../schema/states.js';
import { openDatabase, type Database } from '../store/db.js';
import type { ExecutionStore } from '../store/executions.js';
import {
  activityMetrics,
  backendAvailability,
  InstrumentedStore,
  lifecycleMetrics,
  processRegistry,
  startMetricsListener,
  type MetricsListener,
} from '../observability/telemetry-metrics.js';
import { startTracing, tracingWorkerPlugins } from '../observability/telemetry.js';
import { correlatedLogger, executionLogScope } from '../observability/log-context.js';
import { startMetricsExport } from '../observability/metrics-otlp.js';
import { registerPlatformMetrics } from '../observability/platform-metrics.js';
import type { WorkflowSettings } from '../workflows/definitions.js';
import { sessionActivities, startDefaultPool } from './sessions.js';
import { forwardStatus, type StatusForwarder } from './status-forwarder.js';

/** The workflow code's entry module (workflows/index.ts from source, .js in the built package). */
export const WORKFLOWS_PATH = path.join(
  import.meta.dirname,
  '..',
  'workflows',
  `index${path.extname(import.meta.filename)}`,
);
/** `npm run build` bundles the workflow code ahead of time; a worker started from dist/ loads it instead of webpack. */
export const PREBUILT_WORKFLOW_BUNDLE = path.join(import.meta.dirname, '..', 'workflows', 'bundle.js');

export function settingsFrom(config: Config): WorkflowSettings {
  return {
    pollIntervalMs: config.STATUS_POLL_INTERVAL_MS,
    watchedPollIntervalMs: config.STATUS_WATCHED_CHECK_INTERVAL_MS,
    oomMemoryFactor: config.AR_OOM_MEMORY_FACTOR,
    maxMemoryMb: config.AR_MAX_MEMORY_MB,
    maxBackoffMs: config.AR_MAX_BACKOFF_MS,
    teamQueuePollMs: config.TEAM_QUEUE_POLL_MS,
    noBackendTimeoutMs: config.GATEWAY_NO_BACKEND_TIMEOUT_MS,
    unreachableTimeoutMs: config.GATEWAY_UNREACHABLE_TIMEOUT_MS,
    placementRetryMs: config.GATEWAY_PLACEMENT_RETRY_MS,
  };
}

const SDK_LEVELS: Record<Config['LOG_LEVEL'], LogLevel> = {
  fatal: 'ERROR',
  error: 'ERROR',
  warn: 'WARN',
  info: 'INFO',
  debug: 'DEBUG',
  trace: 'TRACE',
  silent: 'ERROR',
};
let runtimeInstalled = false;

/**
 * The SDK's own logging follows LOG_LEVEL, and with TEMPORAL_CORE_METRICS_ADDRESS its Core serves Temporal's own
 * metrics (`temporal_*`: task slots, poll latency, workflow and activity outcomes) on `<address>/metrics`. Both can
 * only be set once per process, before the first worker.
 */
function installRuntime(config: Pick<Config, 'LOG_LEVEL' | 'TEMPORAL_CORE_METRICS_ADDRESS'>): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const address = config.TEMPORAL_CORE_METRICS_ADDRESS;
  try {
    Runtime.install({
      logger: new DefaultLogger(SDK_LEVELS[config.LOG_LEVEL]),
      ...(address
        ? {
            telemetryOptions: {
              metrics: {
                prometheus: { bindAddress: address, countersTotalSuffix: true, useSecondsForDurations: true },
              },
            },
          }
        : {}),
    });
  } catch {
    // Already installed by someone else in this process: keep theirs.
  }
}

export interface WorkerOptions {
  config: Config;
  /** Spark for the local backend, or one per engine version (the primary first); absent when LOCAL_BACKEND_ENABLED=false. */
  spark?: SparkInstallation | readonly SparkInstallation[];
  /** Extra or replacement backends (tests add `sim`); one that can watch is a status source too. */
  extra?: Partial<Record<BackendName, Backend & Partial<StatusSource>>>;
  logger?: Logger;
  /** Activity interceptors only (bench/ times every activity); workflow interceptors would change replay. */
  interceptors?: Pick<WorkerInterceptors, 'activity'>;
}

export interface RunningWorker {
  worker: Worker;
  database: Database;
  store: ExecutionStore;
  gateway: SparkGateway;
  composition: Composition;
  /** Where its Prometheus listener serves /metrics (WORKER_METRICS_PORT), if it has one. */
  metricsUrl?: string;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorker({
  config,
  spark,
  extra,
  logger: given = pino({ level: config.LOG_LEVEL }),
  interceptors,
}: WorkerOptions): Promise<RunningWorker> {
  installRuntime(config);
  // Lines written inside an execution's activity carry execution_id, attempt and trace_id (observability/log-context.ts).
  const logger = correlatedLogger(given);
  // Temporal first, nothing else open yet: the client connection's failure is one line naming the variable to fix,
  // and the worker's native connection takes the same options (TLS, mTLS, API key).
  const clientConnection = await connectTemporal(config);
  const nativeConnection = await NativeConnection.connect(temporalConnectionOptions(config)).catch(
    async (err: unknown) => {
      await clientConnection.close();
      throw err;
    },
  );
  const database = openDatabase(config.DATABASE_URL!, config.DATABASE_POOL_SIZE, config.DATABASE_POOL_WAIT_MS);
  const paths = dataPaths(config);
  // The process's default metrics only where a listener serves them; the lifecycle series always.
  const metrics = lifecycleMetrics(config.WORKER_METRICS_PORT !== undefined ? processRegistry('worker') : undefined);
  registerPlatformMetrics(metrics.registry);
  const store: ExecutionStore = new InstrumentedStore(database.db).instrument(metrics);
  const composition = await composeGateway({
    role: 'worker',
    config,
    logger,
    store,
    ...(spark ? { spark } : {}),
    ...(extra ? { extra } : {}),
  });
  const gateway = composition.gateway!;
  const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(fs.existsSync(PREBUILT_WORKFLOW_BUNDLE)
      ? { workflowBundle: { codePath: PREBUILT_WORKFLOW_BUNDLE } }
      : { workflowsPath: WORKFLOWS_PATH }),
    activities: {
      ...createActivities({
        gateway,
        store,
        clock: { now: () => new Date() },
        settings: settingsFrom(config),
        sizing: config,
      }),
      ...createContinuousActivities({ client, store, config }),
      ...sessionActivities({
        config,
        db: database.db,
        composition,
        ...(spark ? { spark } : {}),
        client,
        logger,
        registry: metrics.registry,
      }),
      ...createAttemptEndActivities({
        gateway,
        store,
        links: composition.links,
        settings: { historyWaitMs: config.HISTORY_SERVER_WAIT_MS, logArchiveMaxBytes: config.LOG_ARCHIVE_MAX_BYTES },
      }),
      ...createRetentionActivities({
        store,
        policy: retentionPolicy(config),
        ...(spark ? { runsDir: paths.runsDir, eventLogDir: paths.eventLogDir } : {}),
      }),
    },
    interceptors: {
      activity: [executionLogScope(logger), activityMetrics(metrics), ...(interceptors?.activity ?? [])],
    },
    // Workflow and activity tracing interceptors: only with TEMPORAL_OTEL_INTERCEPTORS (they change replay).
    plugins: tracingWorkerPlugins(startTracing(config, 'worker'), config),
  });
  // The retention sweep runs on a Temporal Schedule, which every worker of this task queue keeps in place.
  // A namespace that refuses schedules must not stop executions from running; the next worker start tries again.
  await ensureRetentionSchedule(client, config).catch((err: unknown) =>
    logger.error({ err }, 'could not create the retention sweep schedule: no sweeps until a worker can'),
  );
  await startDefaultPool({ config, db: database.db, client, logger });
  const forwarder: StatusForwarder = forwardStatus(composition.statusSources, client, logger);
  if (composition.monitor) backendAvailability(metrics.registry, () => composition.monitor!.snapshot());
  metrics.prime(
    gateway.available.map((backend) => ({ backend, ...(backend === 'local' ? { cluster: 'local' } : {}) })),
  );
  let metricsListener: MetricsListener | undefined;
  if (config.WORKER_METRICS_PORT !== undefined) {
    try {
      metricsListener = await startMetricsListener(
        metrics.registry,
        config.WORKER_METRICS_HOST,
        config.WORKER_METRICS_PORT,
      );
    } catch (err) {
      await forwarder.stop();
      await composition.stop();
      await Promise.allSettled([nativeConnection.close(), clientConnection.close(), database.close()]);
      throw new ConfigError(
        `WORKER_METRICS_PORT ${config.WORKER_METRICS_PORT} cannot be listened on: ${(err as Error).message}`,
      );
    }
  }
  // With OTEL_EXPORTER_OTLP_ENDPOINT, the same registry is pushed over OTLP too.
  const metricsExport = startMetricsExport(config, 'worker', metrics.registry);
  const done = worker.run();
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      await metricsListener?.close();
      await metricsExport?.shutdown().catch(() => undefined);
      await forwarder.stop();
      await composition.stop();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
      await Promise.allSettled([nativeConnection.close(), clientConnection.close(), database.close()]);
    })());
  return { worker, database, store, gateway, composition, done, shutdown, metricsUrl: metricsListener?.url };
}
