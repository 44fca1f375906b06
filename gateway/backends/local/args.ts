/**
 * Pure builders for the spark-submit command line of one attempt (STYLE.md §4): the backend only runs what these
 * return, and `describeSubmission` shows exactly the same data for `?dryRun=true`.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AttemptRequest } from '../../backend.js';
import { eventLogConf } from '../../../observability/event-log.js';
import { formatMemory } from '../../../schema/job-spec.js';
import { assertNever } from '../../../schema/vocabulary.js';

/** The settings the command line depends on (a subset of `LocalBackendOptions`). */
export interface SparkSubmitSettings {
  sparkHome: string;
  master: string;
  pythonExecutable?: string;
  javaHome?: string;
  /** Where every run writes its Spark event log (the History Server's log directory); unset: no event log. */
  eventLogDir?: string;
  /** Set when a `coreEtl` job runs on the builtin runtime instead of its jar. */
  builtinCoreEtl?: BuiltinCoreEtl;
}

/** What running a `coreEtl` job on the builtin runtime (coreetl/runtime.py) takes. */
export interface BuiltinCoreEtl {
  /** The runtime program. */
  runtime: string;
  /** The Iceberg runtime and JDBC driver jars for this Spark version. */
  jars: readonly string[];
  /** The local Iceberg catalog's settings (core-etl.ts `icebergCatalogConf`). */
  catalogConf: Readonly<Record<string, string>>;
  /** Where the runtime writes its result record: the attempt's `result.json` (files.ts). */
  resultFile: string;
}

/** What would be run for one attempt: the executable, its argv and the environment variables set on top. */
export interface LocalSubmission {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/**
 * The spark-submit argv (without the executable) for one attempt: master, name, resources, sparkConf, then the
 * application and its arguments. Platform defaults come before the job's sparkConf so a job can override them.
 */
export function buildSparkSubmitArgs(
  req: AttemptRequest,
  settings: Pick<SparkSubmitSettings, 'master' | 'eventLogDir' | 'builtinCoreEtl'>,
): string[] {
  const { spec } = req;
  const { driver, executor, dynamicAllocation } = spec.resources;
  const conf: Record<string, string> = {
    // Port 0: concurrent local runs must not fight over 4040; the real port is read back from the log.
    'spark.ui.port': '0',
    'spark.executor.cores': String(executor.cores),
    'spark.executor.instances': String(executor.instances),
    ...(settings.eventLogDir ? eventLogConf(pathToFileURL(settings.eventLogDir).href) : {}),
    ...(settings.builtinCoreEtl && spec.application.type === 'coreEtl' ? settings.builtinCoreEtl.catalogConf : {}),
  };
  if (dynamicAllocation) {
    conf['spark.dynamicAllocation.enabled'] = String(dynamicAllocation.enabled);
    conf['spark.dynamicAllocation.minExecutors'] = String(dynamicAllocation.minExecutors);
    conf['spark.dynamicAllocation.maxExecutors'] = String(dynamicAllocation.maxExecutors);
  }
  Object.assign(conf, spec.sparkConf);

  const args = ['--master', settings.master, '--name', `${req.jobPath}#${req.attempt}`];
  args.push('--driver-memory', formatMemory(driver.memoryMb), '--driver-cores', String(driver.cores));
  args.push('--executor-memory', formatMemory(executor.memoryMb));
  for (const [key, value] of Object.entries(conf)) args.push('--conf', `${key}=${value}`);
  return [...args, ...applicationArgs(spec.application, settings.builtinCoreEtl), ...spec.args];
}

function applicationArgs(app: AttemptRequest['spec']['application'], builtin: BuiltinCoreEtl | undefined): string[] {
  switch (app.type) {
    case 'python':
      return [...(app.pyFiles.length > 0 ? ['--py-files', app.pyFiles.join(',')] : []), app.file];
    case 'jvm':
      return ['--class', app.mainClass, app.jar];
    case 'coreEtl': {
      const spec = ['--job-spec', JSON.stringify(app.jobSpec)];
      if (!builtin) return ['--class', app.mainClass, app.jarPath, ...spec];
      return ['--jars', builtin.jars.join(','), builtin.runtime, ...spec, '--result-file', builtin.resultFile];
    }
    default:
      return assertNever(app);
  }
}

/**
 * Environment variables set for spark-submit. SPARK_HOME is pinned because spark-submit trusts an inherited
 * SPARK_HOME over its own location, which would silently run a different Spark.
 */
export function buildSubmitEnv(settings: SparkSubmitSettings): Record<string, string> {
  const env: Record<string, string> = { SPARK_HOME: settings.sparkHome };
  if (settings.pythonExecutable) {
    env.PYSPARK_PYTHON = settings.pythonExecutable;
    env.PYSPARK_DRIVER_PYTHON = settings.pythonExecutable;
  }
  if (settings.javaHome) env.JAVA_HOME = settings.javaHome;
  return env;
}

/** The full submission for one attempt, as data. */
export function describeLocalSubmission(req: AttemptRequest, settings: SparkSubmitSettings): LocalSubmission {
  return {
    command: join(settings.sparkHome, 'bin', 'spark-submit'),
    args: buildSparkSubmitArgs(req, settings),
    env: buildSubmitEnv(settings),
  };
}
