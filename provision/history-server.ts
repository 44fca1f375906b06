/**
 * A real Spark History Server from the pip pyspark distribution, for `npm run dev` and the tests (development
 * tooling: product code never starts one, it only reads one at HISTORY_SERVER_URL). It runs in the foreground
 * under `spark-class org.apache.spark.deploy.history.HistoryServer`, bound to loopback (SPARK_LOCAL_IP), reading
 * one event-log directory, with its cleaner on so event logs older than the max age go.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startProcess, waitFor, type ManagedProcess } from './process.js';

export interface HistoryServerOptions {
  sparkHome: string;
  /** The event-log directory the runs write to. */
  logDir: string;
  port: number;
  /** How often the server scans `logDir` for new and finished applications (what an attempt's end waits for). */
  updateIntervalMs: number;
  /** Event logs older than this are deleted by the server's cleaner. */
  maxAgeDays: number;
  /** Where its output goes; null discards it. */
  onLine?: ((line: string) => void) | null;
  /** JVM heap of the server (SPARK_DAEMON_MEMORY). */
  memory?: string;
}

export interface RunningHistoryServer {
  url: string;
  process: ManagedProcess;
  stop(): Promise<void>;
}

/** Starts the History Server and waits until its REST API answers. */
export async function startHistoryServer(options: HistoryServerOptions): Promise<RunningHistoryServer> {
  fs.mkdirSync(options.logDir, { recursive: true });
  const conf = {
    'spark.history.fs.logDirectory': pathToFileURL(options.logDir).href,
    'spark.history.ui.port': String(options.port),
    'spark.history.fs.update.interval': `${Math.max(1, Math.round(options.updateIntervalMs / 1000))}s`,
    'spark.history.fs.cleaner.enabled': 'true',
    'spark.history.fs.cleaner.maxAge': `${Math.max(1, Math.round(options.maxAgeDays * 24 * 60))}min`,
    'spark.history.fs.cleaner.interval': '1h',
  };
  const opts = Object.entries(conf)
    .map(([key, value]) => `-D${key}=${value}`)
    .join(' ');
  const process = startProcess(
    'history',
    path.join(options.sparkHome, 'bin', 'spark-class'),
    ['org.apache.spark.deploy.history.HistoryServer'],
    {
      env: {
        ...globalThis.process.env,
        SPARK_HOME: options.sparkHome,
        // Without it the server binds every interface.
        SPARK_LOCAL_IP: '127.0.0.1',
        SPARK_HISTORY_OPTS: opts,
        SPARK_DAEMON_MEMORY: options.memory ?? '512m',
      },
      ...(options.onLine !== undefined ? { onLine: options.onLine } : {}),
    },
  );
  const url = `http://localhost:${options.port}`;
  try {
    await waitFor(
      async () => (await fetch(`${url}/api/v1/applications?limit=1`, { signal: AbortSignal.timeout(2000) })).ok,
      { timeoutMs: 120_000, message: `the Spark History Server did not answer on ${url}`, exited: process.exited },
    );
  } catch (err) {
    await process.stop();
    throw err;
  }
  return { url, process, stop: () => process.stop() };
}
