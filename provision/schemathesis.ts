/**
 * Schemathesis, the property-based API fuzzer the schemathesis test runs against the live OpenAPI document (it
 * stands outside the product: nothing in it imports this). A pinned `schemathesis` from PyPI is installed into a
 * venv under <cache>/schemathesis/schemathesis-<version>/, the same way provision/moto.ts installs moto.
 */
import path from 'node:path';
import { ensurePipVenv } from './venv.js';

export const SCHEMATHESIS_VERSION = '4.32.5';

/** Installs Schemathesis once (under a cross-process lock) and returns the path of its `st` command. */
export async function ensureSchemathesis(cacheDir: string, log: (line: string) => void): Promise<string> {
  const venv = path.join(cacheDir, 'schemathesis', `schemathesis-${SCHEMATHESIS_VERSION}`);
  await ensurePipVenv(
    { venv, name: 'Schemathesis', requirement: `schemathesis==${SCHEMATHESIS_VERSION}`, expected: '~1 min' },
    log,
  );
  return path.join(venv, 'bin', 'st');
}
