/**
 * Finding the Sparks the local backend runs, without installing anything (production processes never install;
 * `npm run setup`, `npm run dev` and the tests provision them, with provision/spark.ts). SPARK_HOME serves the version
 * it reports; the pinned pyspark venv of each LOCAL_SPARK_VERSIONS entry (at its SPARK_VERSIONS version) serves its
 * own. Either way `spark-submit --version` must run on this machine's Java before an install counts as usable; the
 * answer is remembered in a stamp file per Java.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { DependencyError, type Config } from '../../../config/index.js';

const run = promisify(execFile);

/** The pyspark of the image (Dockerfile) and of the Spark Connect client; also SPARK_VERSIONS' default for 4.0. */
export const PYSPARK_VERSION = '4.0.1';

export interface SparkInstall {
  sparkHome: string;
  /** Python with pyspark importable, for PySpark jobs. */
  python: string;
  /** The full Spark version, as `spark-submit --version` reports it. */
  version: string;
}

type FinderConfig = Pick<
  Config,
  'SPARK_HOME' | 'SPARK_PYTHON' | 'SPARK_RUNNER_CACHE' | 'LOCAL_SPARK_VERSIONS' | 'SPARK_VERSIONS'
>;

/** Where the provisioning installs pyspark `version` (a venv), and the file that says it finished. */
export function pysparkVenv(
  cacheDir: string,
  version = PYSPARK_VERSION,
): { dir: string; python: string; done: string } {
  const dir = path.join(cacheDir, 'spark', `pyspark-${version}`);
  return { dir, python: path.join(dir, 'bin', 'python'), done: path.join(dir, '.installed') };
}

/** `"3.5.5"` → `"3.5"`. */
export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/** The pyspark each LOCAL_SPARK_VERSIONS entry is installed at (SPARK_VERSIONS), e.g. `{ engine: '3.5', pyspark: '3.5.5' }`. */
export function localSparkPins(config: Pick<Config, 'LOCAL_SPARK_VERSIONS' | 'SPARK_VERSIONS'>) {
  return config.LOCAL_SPARK_VERSIONS.map((engine) => {
    const pyspark = config.SPARK_VERSIONS[engine];
    if (!pyspark || minorOf(pyspark) !== engine) {
      throw new DependencyError(
        `LOCAL_SPARK_VERSIONS names Spark ${engine}, but SPARK_VERSIONS maps it to ${pyspark ?? 'nothing'}: add ${engine}=${engine}.<patch> to SPARK_VERSIONS`,
      );
    }
    return { engine, pyspark };
  });
}

/**
 * The command that makes Spark `engine` available to the local backend, for messages: `npm run setup` with
 * LOCAL_SPARK_VERSIONS listing it, then a restart, since processes find their Sparks at start.
 */
export function installCommand(localSparkVersions: readonly string[], engine: string): string {
  const listed = localSparkVersions.includes(engine) ? localSparkVersions : [...localSparkVersions, engine];
  return `LOCAL_SPARK_VERSIONS=${listed.join(',')} npm run setup`;
}

/**
 * Every Spark the local backend can run, the primary first (see `findSpark`): SPARK_HOME, then the installed
 * venvs of LOCAL_SPARK_VERSIONS, one per engine version. A listed version that is not installed is left out (a
 * submit asking for it answers 422, naming the command that installs it). Throws a one-line DependencyError when
 * there is none at all, naming how to get one.
 */
export async function findLocalSparks(config: FinderConfig): Promise<SparkInstall[]> {
  await checkJava();
  const found: SparkInstall[] = [];
  if (config.SPARK_HOME) {
    if (!fs.existsSync(path.join(config.SPARK_HOME, 'bin', 'spark-submit'))) {
      throw new DependencyError(
        `SPARK_HOME=${config.SPARK_HOME} has no bin/spark-submit: point SPARK_HOME at a Spark distribution, or unset it to install pyspark ${PYSPARK_VERSION}`,
      );
    }
    const sparkHome = config.SPARK_HOME;
    found.push({ sparkHome, python: config.SPARK_PYTHON ?? 'python3', version: await sparkVersion(sparkHome) });
  }
  const pins = localSparkPins(config);
  // The primary is the pinned default's venv when it is listed, so SPARK_HOME-less processes agree on it.
  pins.sort((a, b) => Number(b.pyspark === PYSPARK_VERSION) - Number(a.pyspark === PYSPARK_VERSION));
  for (const { engine, pyspark } of pins) {
    const venv = pysparkVenv(config.SPARK_RUNNER_CACHE, pyspark);
    if (found.some((f) => minorOf(f.version) === engine) || !fs.existsSync(venv.done)) continue;
    const { stdout } = await run(venv.python, ['-c', 'import pyspark, os; print(os.path.dirname(pyspark.__file__))']);
    const sparkHome = stdout.trim();
    found.push({ sparkHome, python: venv.python, version: await sparkVersion(sparkHome) });
  }
  if (found.length === 0) {
    const missing = pins.map((p) => `pyspark ${p.pyspark}`).join(', ') || `pyspark ${PYSPARK_VERSION}`;
    throw new DependencyError(
      `Spark is not installed for the local backend: run \`npm run setup\` (installs ${missing} under ${path.join(config.SPARK_RUNNER_CACHE, 'spark')}), set SPARK_HOME, or set LOCAL_BACKEND_ENABLED=false`,
    );
  }
  return found;
}

/**
 * The primary Spark: SPARK_HOME, else the venv of PYSPARK_VERSION when LOCAL_SPARK_VERSIONS lists its engine
 * version, else the first one installed. It is the one `/healthz` checks and `npm run dev` hands on as SPARK_HOME.
 */
export async function findSpark(config: FinderConfig): Promise<SparkInstall> {
  return (await findLocalSparks(config))[0]!;
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
