/**
 * The thin Spark Connect client, for tests only: a pinned `pyspark-client` from PyPI (pure Python, with pandas,
 * pyarrow and grpcio; no JVM, no jars) installed into a venv under <cache>/connect-client/pyspark-client-<version>/,
 * the same way provision/spark.ts installs pyspark. The tests drive it against a real Spark Connect server, directly
 * and through gateway/connect/proxy.ts. Its version matches the server's (PYSPARK_VERSION).
 */
import path from 'node:path';
import { PYSPARK_VERSION } from './spark.js';
import { ensurePipVenv } from './venv.js';

export const CONNECT_CLIENT_VERSION = PYSPARK_VERSION;

export interface ConnectClientOptions {
  /** The Spark Runner cache directory (config SPARK_RUNNER_CACHE). */
  cacheDir: string;
}

/** Installs pyspark-client once (under a cross-process lock) and returns the venv's python, which can import it. */
export function ensureConnectClient(options: ConnectClientOptions, log: (line: string) => void): Promise<string> {
  return ensurePipVenv(
    {
      venv: path.join(options.cacheDir, 'connect-client', `pyspark-client-${CONNECT_CLIENT_VERSION}`),
      name: 'pyspark-client',
      requirement: `pyspark-client==${CONNECT_CLIENT_VERSION}`,
      check: 'import pyspark.sql.connect.session, pandas, pyarrow, grpc',
      expected: '~1 min',
    },
    log,
  );
}
