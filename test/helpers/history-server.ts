/**
 * A real Spark History Server for a test file (provision/history-server.ts), from the pyspark the global setup
 * provisioned, reading the file's event-log directory and scanning it every second.
 */
import { startHistoryServer, type RunningHistoryServer } from '../../provision/history-server.js';
import { freePort } from '../../provision/process.js';

export async function startTestHistoryServer(logDir: string, port?: number): Promise<RunningHistoryServer> {
  return startHistoryServer({
    sparkHome: process.env.SPARK_HOME!,
    logDir,
    port: port ?? (await freePort()),
    updateIntervalMs: 1000,
    maxAgeDays: 30,
    onLine: null,
  });
}
