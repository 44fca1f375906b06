/**
 * Spark for the local backend. SPARK_HOME wins; otherwise a pinned pyspark from PyPI is installed into a venv
 * under ~/.cache/spark-runner/spark/pyspark-<version>/ (pyspark ships spark-submit and the jars). Either way,
 * `spark-submit --version` must run on this machine's Java before we call Spark usable.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/index.js';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

export const PYSPARK_VERSION = '4.0.1';

export interface SparkInstall {
  sparkHome: string;
  /** Python with pyspark importable, for PySpark jobs. */
  python: string;
  version: string;
}

export async function ensureSpark(config: Config, log: (line: string) => void): Promise<SparkInstall> {
  await checkJava();
  let install: Omit<SparkInstall, 'version'>;
  if (config.SPARK_HOME) {
    const submit = path.join(config.SPARK_HOME, 'bin', 'spark-submit');
    if (!fs.existsSync(submit)) {
      throw new ProvisionError(
        `SPARK_HOME=${config.SPARK_HOME} has no bin/spark-submit: point SPARK_HOME at a Spark distribution, or unset it to install pyspark ${PYSPARK_VERSION}`,
      );
    }
    install = { sparkHome: config.SPARK_HOME, python: config.SPARK_PYTHON ?? 'python3' };
  } else {
    install = await ensurePyspark(config, log);
  }
  return { ...install, version: await sparkVersion(install.sparkHome) };
}

async function checkJava(): Promise<void> {
  try {
    await run('java', ['-version'], { timeout: 30_000 });
  } catch {
    throw new ProvisionError(
      'Java not found: Spark needs Java 17 or 21 on PATH (apt-get install openjdk-17-jre-headless), or JAVA_HOME/bin on PATH',
    );
  }
}

async function ensurePyspark(config: Config, log: (line: string) => void): Promise<Omit<SparkInstall, 'version'>> {
  const venv = path.join(config.SPARK_RUNNER_CACHE, 'spark', `pyspark-${PYSPARK_VERSION}`);
  const python = path.join(venv, 'bin', 'python');
  const done = path.join(venv, '.installed');
  if (!fs.existsSync(done)) {
    await withLock(
      `${venv}.lock`,
      () => log('another process is installing pyspark; waiting for it...'),
      () => installPyspark(venv, python, done, log),
    );
  }
  const { stdout } = await run(python, ['-c', 'import pyspark, os; print(os.path.dirname(pyspark.__file__))']);
  return { sparkHome: stdout.trim(), python };
}

async function installPyspark(venv: string, python: string, done: string, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(done)) return;
  log(`installing pyspark ${PYSPARK_VERSION} from PyPI into ${venv} (first run only; ~1 min)...`);
  fs.rmSync(venv, { recursive: true, force: true });
  try {
    await run('python3', ['-m', 'venv', venv], { timeout: 120_000 });
    const pip = ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `pyspark==${PYSPARK_VERSION}`];
    await run(python, pip, { timeout: 900_000, maxBuffer: 64 * 1024 * 1024 });
  } catch (err) {
    fs.rmSync(venv, { recursive: true, force: true });
    const detail = failureDetail(err);
    throw new ProvisionError(
      `installing pyspark ${PYSPARK_VERSION} failed (${detail}): check python3-venv and access to PyPI, or set SPARK_HOME`,
    );
  }
  fs.writeFileSync(done, new Date().toISOString());
}

/** Runs `spark-submit --version` once per Spark home and Java; the result is remembered in a stamp file. */
async function sparkVersion(sparkHome: string): Promise<string> {
  const { stderr: javaVersion } = await run('java', ['-version']);
  const stamp = path.join(sparkHome, '.spark-runner-verified');
  const key = javaVersion.split('\n')[0] ?? '';
  try {
    const [seenJava, version] = fs.readFileSync(stamp, 'utf8').split('\n');
    if (seenJava === key && version) return version;
  } catch {
    // not verified yet
  }
  let output: string;
  try {
    const result = await run(path.join(sparkHome, 'bin', 'spark-submit'), ['--version'], { timeout: 120_000 });
    output = result.stdout + result.stderr;
  } catch (err) {
    const detail = failureDetail(err);
    throw new ProvisionError(`spark-submit --version failed in ${sparkHome} (${detail}): check Java 17 and SPARK_HOME`);
  }
  const version = /version (\d+\.\d+\.\d+)/.exec(output)?.[1] ?? 'unknown';
  try {
    fs.writeFileSync(stamp, `${key}\n${version}`);
  } catch {
    // a read-only SPARK_HOME is fine; we just verify again next time
  }
  return version;
}
