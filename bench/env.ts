/**
 * The benchmarks' stack: a throwaway Temporal server (the CLI's dev server, or with `temporal: 'real'` the Temporal
 * server on Postgres) and Postgres (see provision/ephemeral.ts), a config pointing at them, and a worker with the
 * sim backend. Nothing here is timed.
 */
import { Client } from '@temporalio/client';
import type { WorkerInterceptors } from '@temporalio/worker';
import pino from 'pino';
import { loadConfig, type Config } from '../config/index.js';
import { connectTemporal } from '../config/temporal.js';
import { createSimBackend } from '../gateway/backends/sim/index.js';
import { startEphemeralStack, type EphemeralStack } from '../provision/ephemeral.js';
import { DEPLOYED_DYNAMIC_CONFIG } from '../provision/temporal-server.js';
import { openDatabase, type Database } from '../store/db.js';
import { ExecutionStore } from '../store/executions.js';
import { composeGateway } from '../gateway/compose.js';
import type { SparkGateway } from '../gateway/index.js';
import { startWorker, type RunningWorker } from '../worker/index.js';

/** The job both benchmarks submit: a sim run that is RUNNING after 200 ms and SUCCEEDED after 1 s. */
export const BENCH_JOB = {
  name: 'bench',
  engineVersion: '4.0',
  backend: 'sim',
  application: { type: 'python', file: 'bench.py' },
  sim: { attempts: [{ runningAfterMs: 200, endAfterMs: 1000 }] },
} as const;

export interface BenchEnv {
  stack: EphemeralStack;
  config: Config;
  client: Client;
  store: ExecutionStore;
  sim: ReturnType<typeof createSimBackend>;
  /** An API-role gateway that knows the sim backend, for submits and the bench's API. */
  gateway: SparkGateway;
  /** Absent when the bench runs without one (the API's own cost, with nothing executing the workflows). */
  worker: RunningWorker | undefined;
  close(): Promise<void>;
}

export interface BenchEnvOptions {
  /** false: no worker (the API's own cost, with nothing executing the workflows). */
  worker?: boolean;
  /** Which Temporal server: the CLI's dev server (default) or the real server on Postgres. */
  temporal?: 'dev' | 'real';
  /** Activity interceptors for the worker (timings). */
  interceptors?: Pick<WorkerInterceptors, 'activity'>;
}

export async function openBenchEnv(taskQueue: string, options: BenchEnvOptions = {}): Promise<BenchEnv> {
  const stack = await startEphemeralStack(loadConfig(), (l) => console.log(`[bench] ${l}`), {
    temporal: options.temporal ?? 'dev',
    dynamicConfig: DEPLOYED_DYNAMIC_CONFIG,
  });
  const config = loadConfig({
    ...process.env,
    TEMPORAL_ADDRESS: stack.temporalAddress,
    DATABASE_URL: stack.databaseUrl,
    TEMPORAL_TASK_QUEUE: taskQueue,
    STATUS_POLL_INTERVAL_MS: '30000',
    LOG_LEVEL: 'warn',
  });
  const sim = createSimBackend();
  const worker =
    options.worker === false
      ? undefined
      : await startWorker({
          config,
          extra: { sim },
          logger: pino({ level: 'warn' }),
          ...(options.interceptors ? { interceptors: options.interceptors } : {}),
        });
  const connection = await connectTemporal(config);
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const database: Database = openDatabase(stack.databaseUrl, 20);
  const store = new ExecutionStore(database.db);
  const { gateway } = await composeGateway({
    role: 'api',
    config,
    store,
    logger: pino({ level: 'warn' }),
    extra: { sim },
  });
  return {
    stack,
    config,
    client,
    store,
    sim,
    gateway: gateway!,
    worker,
    async close() {
      await worker?.shutdown();
      await connection.close();
      await database.close();
      await stack.stop();
    },
  };
}
