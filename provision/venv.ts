/**
 * A pinned Python package from PyPI in a venv of its own under the cache, installed once under a cross-process
 * lock, and marked complete only when it imports: how the test stack gets moto, pyspark-client and Schemathesis.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

export interface PipVenv {
  /** The venv's directory, e.g. <cache>/moto/moto-5.2.5. */
  venv: string;
  /** What the log lines and errors call it. */
  name: string;
  /** The pip requirement, e.g. `moto[server]==5.2.5`. */
  requirement: string;
  /** Python statements that must run in the venv once installed (imports a missing wheel would break). */
  check?: string;
  /** What the first install is expected to take, for the progress line. */
  expected: string;
}

/** Installs `requirement` into `venv` once and returns the venv's python. */
export async function ensurePipVenv(spec: PipVenv, log: (line: string) => void): Promise<string> {
  const python = path.join(spec.venv, 'bin', 'python');
  const done = path.join(spec.venv, '.installed');
  if (!fs.existsSync(done)) {
    await withLock(
      `${spec.venv}.lock`,
      () => log(`another process is installing ${spec.name}; waiting for it...`),
      () => install(spec, python, done, log),
    );
  }
  return python;
}

async function install(spec: PipVenv, python: string, done: string, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(done)) return;
  log(`installing ${spec.requirement} from PyPI into ${spec.venv} (first run only; ${spec.expected})...`);
  fs.rmSync(spec.venv, { recursive: true, force: true });
  try {
    await run('python3', ['-m', 'venv', spec.venv], { timeout: 120_000 });
  } catch (err) {
    fs.rmSync(spec.venv, { recursive: true, force: true });
    throw new ProvisionError(
      `python3 -m venv failed (${failureDetail(err)}): ${spec.name} needs Python 3.9+ with venv (apt-get install python3-venv)`,
    );
  }
  try {
    const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', spec.requirement];
    await run(python, pip, { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
    // Fails here, not in the first test, when a wheel is missing a dependency on this platform.
    if (spec.check) await run(python, ['-c', spec.check], { timeout: 120_000 });
  } catch (err) {
    fs.rmSync(spec.venv, { recursive: true, force: true });
    throw new ProvisionError(
      `installing ${spec.requirement} failed (${failureDetail(err)}): check pip and access to PyPI`,
    );
  }
  fs.writeFileSync(done, new Date().toISOString());
}
