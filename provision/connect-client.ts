/**
 * The thin Spark Connect client, for tests only: a pinned `pyspark-client` from PyPI (pure Python, with pandas,
 * pyarrow and grpcio; no JVM, no jars) installed into a venv under <cache>/connect-client/pyspark-client-<version>/,
 * the same way provision/spark.ts installs pyspark. The tests drive it against a real Spark Connect server, directly
 * and through gateway/connect/proxy.ts. Its version matches the server's (PYSPARK_VERSION).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';
import { PYSPARK_VERSION } from './spark.js';

const run = promisify(execFile);

export const CONNECT_CLIENT_VERSION = PYSPARK_VERSION;

export interface ConnectClientOptions {
  /** The Spark Runner cache directory (config SPARK_RUNNER_CACHE). */
  cacheDir: string;
}

/** Installs pyspark-client once (under a cross-process lock) and returns the venv's python, which can import it. */
export async function ensureConnectClient(options: ConnectClientOptions, log: (line: string) => void): Promise<string> {
  const venv = path.join(options.cacheDir, 'connect-client', `pyspark-client-${CONNECT_CLIENT_VERSION}`);
  const python = path.join(venv, 'bin', 'python');
  const done = path.join(venv, '.installed');
  if (!fs.existsSync(done)) {
    await withLock(
      `${venv}.lock`,
      () => log('another process is installing pyspark-client; waiting for it...'),
      () => installClient(venv, python, done, log),
    );
  }
  return python;
}

async function installClient(venv: string, python: string, done: string, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(done)) return;
  log(`installing pyspark-client ${CONNECT_CLIENT_VERSION} from PyPI into ${venv} (first run only; ~1 min)...`);
  fs.rmSync(venv, { recursive: true, force: true });
  try {
    await run('python3', ['-m', 'venv', venv], { timeout: 120_000 });
  } catch (err) {
    fs.rmSync(venv, { recursive: true, force: true });
    throw new ProvisionError(
      `python3 -m venv failed (${failureDetail(err)}): pyspark-client needs Python 3.9+ with venv (apt-get install python3-venv)`,
    );
  }
  try {
    const pip = [
      ...['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check'],
      `pyspark-client==${CONNECT_CLIENT_VERSION}`,
    ];
    await run(python, pip, { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
    // Fails here, not in the first test, when a wheel is missing a dependency on this platform.
    await run(python, ['-c', 'import pyspark.sql.connect.session, pandas, pyarrow, grpc'], { timeout: 120_000 });
  } catch (err) {
    fs.rmSync(venv, { recursive: true, force: true });
    throw new ProvisionError(
      `installing pyspark-client ${CONNECT_CLIENT_VERSION} failed (${failureDetail(err)}): check pip and access to PyPI`,
    );
  }
  fs.writeFileSync(done, new Date().toISOString());
}
