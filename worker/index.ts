/**
 * Assembles a worker: the Temporal Worker with the execution workflow and its activities, the gateway's worker
 * composition (gateway/compose.ts), and the status forwarder that turns status sources' changes into signals. Used by bin/worker.ts, `npm run dev`
 * and the tests (each test file with its own task queue).
 */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker, type LogLevel } from '@temporalio/worker';
import fs from 'node:fs';
import path from 'node:path';
import pino, { type Logger } from 'pino';
import { createActivities } from '../activities/index.js';
import { createContinuousActivities } from '../activities/continuous.js';
import type { Config } from '../config/index.js';
import { temporalAddress } from '../config/index.js';
import type { Backend, StatusSource } from '../gateway/backend.js';
import { composeGateway, type Composition, type SparkInstallation } from '../gateway/compose.js';
import type { SparkGateway } from '../gateway/index.js';
import type { BackendName } from '../schema/states.js';
import { openDatabase, type Database } from '../store/db.js';
import { ExecutionStore } from '../store/executions.js';
import type { WorkflowSettings } from '../workflows/definitions.js';
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

/** The SDK's own logging follows LOG_LEVEL; it can only be set once per process, before the first worker. */
function installRuntime(level: Config['LOG_LEVEL']): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger(SDK_LEVELS[level]) });
  } catch {
    // Already installed by someone else in this process: keep theirs.
  }
}

export interface WorkerOptions {
  config: Config;
  /** Spark for the local backend; absent when LOCAL_BACKEND_ENABLED=false. */
  spark?: SparkInstallation;
  /** Extra or replacement backends (tests add `sim`); one that can watch is a status source too. */
  extra?: Partial<Record<BackendName, Backend & Partial<StatusSource>>>;
  logger?: Logger;
}

export interface RunningWorker {
  worker: Worker;
  database: Database;
  store: ExecutionStore;
  gateway: SparkGateway;
  composition: Composition;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  shutdown(): Promise<void>;
}

export async function startWorker({
  config,
  spark,
  extra,
  logger = pino({ level: config.LOG_LEVEL }),
}: WorkerOptions): Promise<RunningWorker> {
  installRuntime(config.LOG_LEVEL);
  const address = temporalAddress(config);
  const database = openDatabase(config.DATABASE_URL!);
  const store = new ExecutionStore(database.db);
  const composition = await composeGateway({
    role: 'worker',
    config,
    logger,
    store,
    ...(spark ? { spark } : {}),
    ...(extra ? { extra } : {}),
  });
  const gateway = composition.gateway!;
  const nativeConnection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace: config.TEMPORAL_NAMESPACE });
  const worker = await Worker.create({
    connection: nativeConnection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...(fs.existsSync(PREBUILT_WORKFLOW_BUNDLE)
      ? { workflowBundle: { codePath: PREBUILT_WORKFLOW_BUNDLE } }
      : { workflowsPath: WORKFLOWS_PATH }),
    activities: {
      ...createActivities({ gateway, store, clock: { now: () => new Date() }, settings: settingsFrom(config) }),
      ...createContinuousActivities({ client }),
    },
  });
  const forwarder: StatusForwarder = forwardStatus(composition.statusSources, client, logger);
  const done = worker.run();
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      await forwarder.stop();
      await composition.stop();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await done.catch(() => undefined);
      await Promise.allSettled([nativeConnection.close(), clientConnection.close(), database.close()]);
    })());
  return { worker, database, store, gateway, composition, done, shutdown };
}
