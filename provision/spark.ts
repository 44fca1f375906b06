/**
 * Installs the Sparks the local backend runs, for `npm run setup`, `npm run dev` and the tests: for each engine
 * version in LOCAL_SPARK_VERSIONS, pyspark at its SPARK_VERSIONS version from PyPI, in a venv under
 * ~/.cache/spark-runner/spark/pyspark-<version>/ (pyspark ships spark-submit and the jars), each under a
 * cross-process lock, one after the other (~30 s and ~450 MB each). SPARK_HOME serves the version it reports, so
 * that one is not installed. Finding and verifying them is the product's own (findLocalSparks), which never
 * installs anything.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/index.js';
import {
  findLocalSparks,
  localSparkPins,
  minorOf,
  PYSPARK_VERSION,
  pysparkVenv,
  type SparkInstall,
} from '../gateway/backends/local/spark-install.js';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

export { PYSPARK_VERSION, type SparkInstall };

/** Installs every listed version not installed yet; returns every Spark found, the primary first. */
export async function ensureSparks(config: Config, log: (line: string) => void): Promise<SparkInstall[]> {
  const fromHome = config.SPARK_HOME ? await sparkHomeMinor(config) : undefined;
  for (const { engine, pyspark } of localSparkPins(config)) {
    const venv = pysparkVenv(config.SPARK_RUNNER_CACHE, pyspark);
    if (engine === fromHome || fs.existsSync(venv.done)) continue;
    await withLock(
      `${venv.dir}.lock`,
      () => log(`another process is installing pyspark ${pyspark}; waiting for it...`),
      () => installPyspark(venv, pyspark, log),
    );
  }
  return findLocalSparks(config);
}

/** The engine version SPARK_HOME serves; a SPARK_HOME that is no Spark fails here, before anything is installed. */
async function sparkHomeMinor(config: Config): Promise<string | undefined> {
  const [home] = await findLocalSparks({ ...config, LOCAL_SPARK_VERSIONS: [] });
  return home ? minorOf(home.version) : undefined;
}

async function installPyspark(
  venv: ReturnType<typeof pysparkVenv>,
  version: string,
  log: (line: string) => void,
): Promise<void> {
  if (fs.existsSync(venv.done)) return;
  log(`installing pyspark ${version} from PyPI into ${venv.dir} (once; ~30 s and ~450 MB)...`);
  const started = Date.now();
  fs.rmSync(venv.dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(venv.dir), { recursive: true });
  try {
    await run('python3', ['-m', 'venv', venv.dir], { timeout: 120_000 });
    const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `pyspark==${version}`];
    await run(venv.python, pip, { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    fs.rmSync(venv.dir, { recursive: true, force: true });
    const detail = failureDetail(err);
    throw new ProvisionError(
      `installing pyspark ${version} failed (${detail}): check python3-venv and access to PyPI, or set SPARK_HOME`,
    );
  }
  fs.writeFileSync(venv.done, new Date().toISOString());
  log(`installed pyspark ${version} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
