/**
 * Which Spark and which CoreETL runtime a job gets on the local backend, decided from the job alone (pure but for
 * checking that cached jars exist), so the gateway can refuse a job before placing it and submit runs exactly what
 * a dry-run showed:
 *
 * | the job asks for                         | answer                                                          |
 * |------------------------------------------|-----------------------------------------------------------------|
 * | `engineVersion` "3.5" / "3.5.5"          | the installed Spark 3.5.x / exactly 3.5.5; none: 422 naming the |
 * |                                          | command that installs it (never another version)                |
 * | `coreEtl`, runtime `builtin` (default)   | coreetl/runtime.py with the Iceberg runtime for that Spark and   |
 * |                                          | the Postgres driver; jars not fetched yet, or no Iceberg runtime |
 * |                                          | for the version: 422                                             |
 * | `coreEtl`, runtime `jar`                 | its jar and main class, as given                                 |
 * | a file outside `applicationRoots`        | 422 on its field: the backend runs only files under the roots    |
 * |                                          | (symlinks followed), never another scheme's (`https:`, `s3:`)    |
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Unsupported, VendorRun } from '../../backend.js';
import type { NormalizedJobSpec } from '../../../schema/job-spec.js';
import { CORE_ETL_RUNTIME } from '../../../coreetl/index.js';
import type { BuiltinCoreEtl } from './args.js';
import { CORE_ETL_SPARK_VERSIONS, findCoreEtlJars, icebergCatalogConf, type TeamSecrets } from './core-etl.js';
import { installCommand, minorOf } from './spark-install.js';

/** One Spark installation. */
export interface LocalSpark {
  sparkHome: string;
  python?: string;
  /** Its full version. Unset: it takes any engine version (only callers that never learnt it, such as tests). */
  version?: string;
}

/** How the local backend runs `coreEtl` jobs. */
export interface LocalCoreEtlOptions {
  runtime: 'builtin' | 'jar';
  /** SPARK_RUNNER_CACHE, where the provisioning keeps the runtime's jars. */
  cacheDir: string;
  /** The local Iceberg catalog (ICEBERG_CATALOG) and its warehouse directory. */
  catalog: string;
  warehouse: string;
  /** Every team's JDBC secrets (CORE_ETL_SECRETS_FILE). */
  secrets?: TeamSecrets;
}

export interface LocalPlanOptions {
  /** The Sparks this backend has, the primary first. */
  sparks: readonly LocalSpark[];
  /** LOCAL_SPARK_VERSIONS, to name the install command for a missing version. */
  offeredVersions?: readonly string[];
  coreEtl?: LocalCoreEtlOptions;
  /**
   * Directories (absolute) application files must lie under (LOCAL_APPLICATION_ROOTS); relative files are
   * resolved against this process's directory, which is spark-submit's too. Unset: no restriction (library use).
   */
  applicationRoots?: readonly string[];
}

/** What a job runs with: its Spark, and for a `coreEtl` job how (noted in SUBMIT) and the builtin's settings. */
export interface LocalPlan {
  spark: LocalSpark;
  coreEtl?: VendorRun['coreEtl'];
  builtin?: Omit<BuiltinCoreEtl, 'resultFile'>;
}

const BUILTIN_NOTE = 'jarPath and mainClass are not used: the builtin CoreETL runtime ran the job spec';

/** The plan for a job, or why this backend cannot run it. */
export function planLocalRun(spec: NormalizedJobSpec, options: LocalPlanOptions): LocalPlan | Unsupported {
  if (options.applicationRoots) {
    const outside = outsideRoots(spec, options.applicationRoots, options.coreEtl?.runtime ?? 'jar');
    if (outside) return outside;
  }
  const spark = sparkFor(spec.engineVersion, options.sparks);
  if (!spark) {
    const installed = options.sparks.map((s) => s.version).join(', ') || 'none';
    const command = installCommand(options.offeredVersions ?? [], minorOf(spec.engineVersion));
    return {
      field: 'engineVersion',
      message: `Spark ${spec.engineVersion} is not installed for the local backend (installed: ${installed}): install it with \`${command}\` and restart the worker and API with that LOCAL_SPARK_VERSIONS (\`npm run dev\` does both)`,
    };
  }
  const app = spec.application;
  if (app.type !== 'coreEtl') return { spark };
  const { jarPath, mainClass } = app;
  const coreEtl = options.coreEtl;
  if (!coreEtl || coreEtl.runtime === 'jar') return { spark, coreEtl: { runtime: 'jar', jarPath, mainClass } };
  const version = spark.version ?? spec.engineVersion;
  if (!CORE_ETL_SPARK_VERSIONS.includes(minorOf(version))) {
    return {
      field: 'engineVersion',
      message: `the builtin CoreETL runtime has no Iceberg runtime for Spark ${version} (it runs on ${CORE_ETL_SPARK_VERSIONS.join(', ')})`,
    };
  }
  const { jars, missing } = findCoreEtlJars(coreEtl.cacheDir, version);
  if (missing.length > 0) {
    return {
      field: 'application',
      message: `the builtin CoreETL runtime's jars for Spark ${minorOf(version)} are not fetched yet (${missing.join(', ')}): run \`npm run setup\``,
    };
  }
  const builtin = {
    runtime: CORE_ETL_RUNTIME,
    jars,
    catalogConf: icebergCatalogConf(coreEtl.catalog, coreEtl.warehouse),
  };
  return { spark, coreEtl: { runtime: 'builtin', jarPath, mainClass, note: BUILTIN_NOTE }, builtin };
}

/** The real path of `file`, following symlinks as far as the path exists (a missing file cannot escape by one). */
function realPath(file: string): string {
  const parts: string[] = [];
  let at = path.resolve(file);
  for (;;) {
    try {
      return path.join(fs.realpathSync(at), ...parts.reverse());
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return path.resolve(file);
      parts.push(path.basename(at));
      at = parent;
    }
  }
}

/** The first application file of `spec` that is not under one of `roots`, as an Unsupported naming its field. */
function outsideRoots(spec: NormalizedJobSpec, roots: readonly string[], coreEtlRuntime: 'builtin' | 'jar') {
  const app = spec.application;
  const files: [string, string][] =
    app.type === 'python'
      ? [
          ['application.file', app.file],
          ...app.pyFiles.map((f, i): [string, string] => [`application.pyFiles.${i}`, f]),
        ]
      : app.type === 'jvm'
        ? [['application.jar', app.jar]]
        : coreEtlRuntime === 'jar'
          ? [['application.jarPath', app.jarPath]]
          : [];
  const realRoots = roots.map(realPath);
  for (const [field, file] of files) {
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(file)?.[1]?.toLowerCase();
    if (scheme && scheme !== 'file' && scheme !== 'local') {
      return {
        field,
        message: `the local backend runs only files on this host under ${roots.join(', ')}; "${file}" is a ${scheme}: URI`,
      };
    }
    const local = scheme ? file.replace(/^[a-z]+:(\/\/)?/i, '') : file;
    const real = realPath(local);
    if (!realRoots.some((root) => real === root || real.startsWith(root.endsWith(path.sep) ? root : root + path.sep))) {
      return {
        field,
        message: `"${file}" is outside the directories the local backend may run files from (LOCAL_APPLICATION_ROOTS: ${roots.join(', ')})`,
      };
    }
  }
  return undefined;
}

export function isUnsupported<T extends object>(answer: T | Unsupported): answer is Unsupported {
  return 'field' in answer && 'message' in answer;
}

/**
 * The Spark for an engine version: "3.5" takes any installed 3.5.x, "3.5.5" only 3.5.5. An installation of unknown
 * version takes anything (see `LocalSpark.version`).
 */
function sparkFor(engineVersion: string, sparks: readonly LocalSpark[]): LocalSpark | undefined {
  const exact = engineVersion.split('.').length > 2;
  return sparks.find(
    (s) => s.version === undefined || (exact ? s.version === engineVersion : minorOf(s.version) === engineVersion),
  );
}

/**
 * The environment that carries the job's JDBC secrets to the runtime, from the team's secrets. Throws the name of a
 * secret the team does not have (the values never appear in a message).
 */
export function secretsEnv(
  team: string,
  spec: NormalizedJobSpec,
  secrets: TeamSecrets | undefined,
  envPrefix: (name: string) => string,
): { env: Record<string, string> } | Unsupported {
  if (spec.application.type !== 'coreEtl') return { env: {} };
  const env: Record<string, string> = {};
  for (const [i, source] of spec.application.jobSpec.sources.entries()) {
    if (source.type !== 'jdbc') continue;
    const found = secrets?.[team]?.[source.secret];
    if (!found) {
      return {
        field: `application.jobSpec.sources.${i}.secret`,
        message: `team "${team}" has no secret "${source.secret}" (CORE_ETL_SECRETS_FILE)`,
      };
    }
    env[`${envPrefix(source.secret)}_USER`] = found.user;
    env[`${envPrefix(source.secret)}_PASSWORD`] = found.password;
  }
  return { env };
}
