/**
 * Per-file access to the real stack the global setup started: a config pointing at it, a task queue of the
 * file's own, a Temporal client, the store, and a worker bound to that task queue.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import pino from 'pino';
import { loadConfig, type Config } from '../../config/index.js';
import { connectTemporal } from '../../config/temporal.js';
import type { Backend, StatusSource } from '../../gateway/backend.js';
import { findLocalSparks } from '../../gateway/backends/local/spark-install.js';
import { composeGateway } from '../../gateway/compose.js';
import type { SparkGateway } from '../../gateway/index.js';
import type { BackendName } from '../../schema/states.js';
import { openDatabase } from '../../store/db.js';
import { ExecutionStore } from '../../store/executions.js';
import { startWorker, type RunningWorker } from '../../worker/index.js';

/** The environment for this test file: its own task queue and data directory, short poll intervals. */
export function testEnv(overrides: Record<string, string> = {}): NodeJS.ProcessEnv {
  const id = crypto.randomUUID().slice(0, 8);
  const tmp = process.env.SPARK_RUNNER_TEST_TMP;
  if (!tmp) throw new Error('the vitest global setup did not run (SPARK_RUNNER_TEST_TMP is unset)');
  return {
    ...process.env,
    TEMPORAL_TASK_QUEUE: `test-${id}`,
    SPARK_RUNNER_DATA: path.join(tmp, `data-${id}`),
    STATUS_POLL_INTERVAL_MS: '5000',
    LOCAL_WATCH_INTERVAL_MS: '250',
    LOG_LEVEL: 'warn',
    // Tests write their applications to temporary directories besides running the checkout's examples.
    LOCAL_APPLICATION_ROOTS: [process.cwd(), os.tmpdir(), tmp].join(','),
    ...overrides,
  };
}

export interface TestStack {
  config: Config;
  /** The environment `config` was parsed from, for processes the test starts (e.g. bin/worker.ts). */
  env: NodeJS.ProcessEnv;
  client: Client;
  store: ExecutionStore;
  /** Starts a worker on this file's task queue with the local backend plus any extra backends. */
  startWorker(extra?: Partial<Record<BackendName, Backend & Partial<StatusSource>>>): Promise<RunningWorker>;
  /** Starts bin/worker.ts as a process of its own, with `env` (a test may SIGKILL it); close() kills what is left. */
  startWorkerProcess(): ChildProcess;
  /**
   * For submits through the service layer, which check placeability: the newest in-process worker's gateway (it
   * knows the extra backends the test gave it), else an API-role one.
   */
  readonly gateway: SparkGateway;
  close(): Promise<void>;
}

export async function openTestStack(overrides: Record<string, string> = {}): Promise<TestStack> {
  const env = testEnv(overrides);
  const config = loadConfig(env);
  fs.mkdirSync(config.SPARK_RUNNER_DATA, { recursive: true });
  const connection = await connectTemporal(config);
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const database = openDatabase(config.DATABASE_URL!);
  const store = new ExecutionStore(database.db);
  const workers: RunningWorker[] = [];
  const processes: ChildProcess[] = [];
  const logger = pino({ level: config.LOG_LEVEL });
  // Every Spark the global setup provisioned (LOCAL_SPARK_VERSIONS), as a worker would find them.
  const spark = await findLocalSparks(config);
  // For submits while no worker runs in this process (tests that run bin/worker.ts as a process of its own).
  const apiComposition = await composeGateway({ role: 'api', config, logger, store, spark });
  return {
    config,
    env,
    client,
    store,
    async startWorker(extra = {}) {
      const worker = await startWorker({ config, spark, extra, logger });
      workers.push(worker);
      return worker;
    },
    startWorkerProcess() {
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bin/worker.ts')], {
        env,
        stdio: 'ignore',
      });
      processes.push(child);
      return child;
    },
    get gateway() {
      return workers.at(-1)?.gateway ?? apiComposition.gateway!;
    },
    async close() {
      for (const child of processes) child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.shutdown()));
      await connection.close();
      await database.close();
    },
  };
}

/** Polls `probe` until it returns a value that is not undefined; fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : JSON.stringify(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? ` (last error: ${last})` : ''}`);
}
