/**
 * moto, the AWS emulator the EMR on EKS backend is tested against (it stands in for AWS only; nothing in the
 * product talks to it). A pinned `moto[server]` from PyPI is installed into a venv under
 * <cache>/moto/moto-<version>/, the same way provision/spark.ts installs pyspark, and started through the wrapper
 * next to this file (moto/moto_server.py), which makes EMR on EKS job runs advance through moto's state manager.
 */
import path from 'node:path';
import { ensurePipVenv } from './venv.js';

export const MOTO_VERSION = '5.2.5';

/** The wrapper that applies moto's state manager to EMR on EKS job runs, then runs `moto.server.main`. */
export const MOTO_SERVER_SCRIPT = path.join(import.meta.dirname, 'moto', 'moto_server.py');

export interface MotoOptions {
  /** The Spark Runner cache directory (config SPARK_RUNNER_CACHE). */
  cacheDir: string;
}

/** Installs moto once (under a cross-process lock) and returns the venv's python, which can import it. */
export function ensureMoto(options: MotoOptions, log: (line: string) => void): Promise<string> {
  return ensurePipVenv(
    {
      venv: path.join(options.cacheDir, 'moto', `moto-${MOTO_VERSION}`),
      name: 'moto',
      requirement: `moto[server]==${MOTO_VERSION}`,
      check: 'import moto.server',
      expected: '~30 s',
    },
    log,
  );
}
