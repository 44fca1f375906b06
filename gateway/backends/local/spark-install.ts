/**
 * Finding the Spark the local backend runs, without installing anything (production processes never install;
 * `npm run setup`, `npm run dev` and the tests provision it, with provision/spark.ts). SPARK_HOME wins; else the
 * pinned pyspark venv the provisioning keeps under the cache. Either way `spark-submit --version` must run on this
 * machine's Java before the install counts as usable; the answer is remembered in a stamp file per Java.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DependencyError, type Config } from '../../../config/index.js';

const run = promisify(execFile);

export const PYSPARK_VERSION = '4.0.1';

export interface SparkInstall {
  sparkHome: string;
  /** Python with pyspark importable, for PySpark jobs. */
  python: string;
  version: string;
}

/** Where the provisioning installs pyspark `version` (a venv), and the file that says it finished. */
export function pysparkVenv(
  cacheDir: string,
  version = PYSPARK_VERSION,
): { dir: string; python: string; done: string } {
  const dir = path.join(cacheDir, 'spark', `pyspark-${version}`);
  return { dir, python: path.join(dir, 'bin', 'python'), done: path.join(dir, '.installed') };
}

/**
 * The Spark to run: SPARK_HOME, or the provisioned pyspark venv. Throws a one-line DependencyError when there is
 * none, naming how to get it.
 */
export async function findSpark(
  config: Pick<Config, 'SPARK_HOME' | 'SPARK_PYTHON' | 'SPARK_RUNNER_CACHE'>,
): Promise<SparkInstall> {
  await checkJava();
  let install: Omit<SparkInstall, 'version'>;
  if (config.SPARK_HOME) {
    if (!fs.existsSync(path.join(config.SPARK_HOME, 'bin', 'spark-submit'))) {
      throw new DependencyError(
        `SPARK_HOME=${config.SPARK_HOME} has no bin/spark-submit: point SPARK_HOME at a Spark distribution, or unset it to install pyspark ${PYSPARK_VERSION}`,
      );
    }
    install = { sparkHome: config.SPARK_HOME, python: config.SPARK_PYTHON ?? 'python3' };
  } else {
    const venv = pysparkVenv(config.SPARK_RUNNER_CACHE);
    if (!fs.existsSync(venv.done)) {
      throw new DependencyError(
        `Spark is not installed for the local backend: run \`npm run setup\` (installs pyspark ${PYSPARK_VERSION} into ${venv.dir}), set SPARK_HOME, or set LOCAL_BACKEND_ENABLED=false`,
      );
    }
    const { stdout } = await run(venv.python, ['-c', 'import pyspark, os; print(os.path.dirname(pyspark.__file__))']);
    install = { sparkHome: stdout.trim(), python: config.SPARK_PYTHON ?? venv.python };
  }
  return { ...install, version: await sparkVersion(install.sparkHome) };
}

async function checkJava(): Promise<void> {
  try {
    await run('java', ['-version'], { timeout: 30_000 });
  } catch {
    throw new DependencyError(
      'Java not found: Spark needs Java 17 or 21 on PATH (apt-get install openjdk-17-jre-headless), or JAVA_HOME/bin on PATH',
    );
  }
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
    const detail = String((err as { stderr?: string }).stderr ?? err)
      .trim()
      .split('\n')
      .at(-1);
    throw new DependencyError(
      `spark-submit --version failed in ${sparkHome} (${detail}): check Java 17 and SPARK_HOME`,
    );
  }
  const version = /version (\d+\.\d+\.\d+)/.exec(output)?.[1] ?? 'unknown';
  try {
    fs.writeFileSync(stamp, `${key}\n${version}`);
  } catch {
    // a read-only SPARK_HOME is fine; we just verify again next time
  }
  return version;
}
