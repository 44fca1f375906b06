/**
 * moto, the AWS emulator the EMR on EKS backend is tested against (it stands in for AWS only; nothing in the
 * product talks to it). A pinned `moto[server]` from PyPI is installed into a venv under
 * <cache>/moto/moto-<version>/, the same way provision/spark.ts installs pyspark, and started through the wrapper
 * next to this file (moto/moto_server.py), which makes EMR on EKS job runs advance through moto's state manager.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

export const MOTO_VERSION = '5.2.5';

/** The wrapper that applies moto's state manager to EMR on EKS job runs, then runs `moto.server.main`. */
export const MOTO_SERVER_SCRIPT = path.join(import.meta.dirname, 'moto', 'moto_server.py');

export interface MotoOptions {
  /** The Spark Runner cache directory (config SPARK_RUNNER_CACHE). */
  cacheDir: string;
}

/** Installs moto once (under a cross-process lock) and returns the venv's python, which can import it. */
export async function ensureMoto(options: MotoOptions, log: (line: string) => void): Promise<string> {
  const venv = path.join(options.cacheDir, 'moto', `moto-${MOTO_VERSION}`);
  const python = path.join(venv, 'bin', 'python');
  const done = path.join(venv, '.installed');
  if (!fs.existsSync(done)) {
    await withLock(
      `${venv}.lock`,
      () => log('another process is installing moto; waiting for it...'),
      () => installMoto(venv, python, done, log),
    );
  }
  return python;
}

async function installMoto(venv: string, python: string, done: string, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(done)) return;
  log(`installing moto[server] ${MOTO_VERSION} from PyPI into ${venv} (first run only; ~30 s)...`);
  fs.rmSync(venv, { recursive: true, force: true });
  try {
    await run('python3', ['-m', 'venv', venv], { timeout: 120_000 });
  } catch (err) {
    fs.rmSync(venv, { recursive: true, force: true });
    throw new ProvisionError(
      `python3 -m venv failed (${failureDetail(err)}): moto needs Python 3.9+ with venv (apt-get install python3-venv)`,
    );
  }
  try {
    const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `moto[server]==${MOTO_VERSION}`];
    await run(python, pip, { timeout: 600_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    fs.rmSync(venv, { recursive: true, force: true });
    throw new ProvisionError(
      `installing moto[server] ${MOTO_VERSION} failed (${failureDetail(err)}): check pip and access to PyPI`,
    );
  }
  fs.writeFileSync(done, new Date().toISOString());
}
