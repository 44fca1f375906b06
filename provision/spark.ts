/**
 * Installs the Spark the local backend runs, for `npm run setup`, `npm run dev` and the tests: a pinned pyspark
 * from PyPI in a venv under ~/.cache/spark-runner/spark/pyspark-<version>/ (pyspark ships spark-submit and the
 * jars), under a cross-process lock. Finding and verifying it is the product's own (findSpark), which never
 * installs anything; SPARK_HOME skips the install.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import type { Config } from '../config/index.js';
import { findSpark, PYSPARK_VERSION, pysparkVenv, type SparkInstall } from '../gateway/backends/local/spark-install.js';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

export { PYSPARK_VERSION, type SparkInstall };

export async function ensureSpark(config: Config, log: (line: string) => void): Promise<SparkInstall> {
  if (!config.SPARK_HOME) {
    const venv = pysparkVenv(config.SPARK_RUNNER_CACHE);
    if (!fs.existsSync(venv.done)) {
      await withLock(
        `${venv.dir}.lock`,
        () => log('another process is installing pyspark; waiting for it...'),
        () => installPyspark(venv, log),
      );
    }
  }
  return findSpark(config);
}

async function installPyspark(venv: ReturnType<typeof pysparkVenv>, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(venv.done)) return;
  log(`installing pyspark ${PYSPARK_VERSION} from PyPI into ${venv.dir} (first run only; ~1 min)...`);
  fs.rmSync(venv.dir, { recursive: true, force: true });
  try {
    await run('python3', ['-m', 'venv', venv.dir], { timeout: 120_000 });
    const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `pyspark==${PYSPARK_VERSION}`];
    await run(venv.python, pip, { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    fs.rmSync(venv.dir, { recursive: true, force: true });
    const detail = failureDetail(err);
    throw new ProvisionError(
      `installing pyspark ${PYSPARK_VERSION} failed (${detail}): check python3-venv and access to PyPI, or set SPARK_HOME`,
    );
  }
  fs.writeFileSync(venv.done, new Date().toISOString());
}
