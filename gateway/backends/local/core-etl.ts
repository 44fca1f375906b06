/**
 * What the builtin CoreETL runtime needs on the local backend, found but never fetched here (the provisioning,
 * provision/core-etl-jars.ts, downloads them once into the cache):
 * - the Iceberg Spark runtime matched to the Spark version (Maven Central): 3.5 and 4.0 at Iceberg 1.10.0, 4.1
 *   from 1.11.0 (the first release for it);
 * - the Postgres JDBC driver, for `jdbc` sources.
 * Plus the Spark settings of the local Iceberg catalog (a Hadoop catalog in a warehouse directory) and the
 * environment that carries a team's JDBC secrets to the runtime (never argv: argv is recorded in run.json and
 * visible to `ps`).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../../../config/index.js';
import { minorOf } from './spark-install.js';

/** A jar on Maven Central. */
export interface MavenJar {
  group: string;
  artifact: string;
  version: string;
}

/** Engine version → the Iceberg Spark runtime built for it. */
const ICEBERG_RUNTIMES: Readonly<Record<string, MavenJar>> = {
  '3.5': { group: 'org.apache.iceberg', artifact: 'iceberg-spark-runtime-3.5_2.12', version: '1.10.0' },
  '4.0': { group: 'org.apache.iceberg', artifact: 'iceberg-spark-runtime-4.0_2.13', version: '1.10.0' },
  '4.1': { group: 'org.apache.iceberg', artifact: 'iceberg-spark-runtime-4.1_2.13', version: '1.11.0' },
};

export const POSTGRES_JDBC: MavenJar = { group: 'org.postgresql', artifact: 'postgresql', version: '42.7.4' };

/** The Iceberg runtime for a Spark version (`"3.5.5"` or `"3.5"`), or undefined when there is none. */
export function icebergRuntimeFor(sparkVersion: string): MavenJar | undefined {
  return ICEBERG_RUNTIMES[minorOf(sparkVersion)];
}

/** Spark versions the builtin runtime has an Iceberg runtime for. */
export const CORE_ETL_SPARK_VERSIONS = Object.keys(ICEBERG_RUNTIMES);

/** The jars the builtin runtime needs on a Spark version (empty when it has no Iceberg runtime). */
export function coreEtlJarsFor(sparkVersion: string): MavenJar[] {
  const iceberg = icebergRuntimeFor(sparkVersion);
  return iceberg ? [iceberg, POSTGRES_JDBC] : [];
}

/** Where the provisioning keeps a jar: `<cache>/jars/<artifact>-<version>.jar`. */
export function jarFile(cacheDir: string, jar: MavenJar): string {
  return path.join(cacheDir, 'jars', `${jar.artifact}-${jar.version}.jar`);
}

/** The jar's address on a Maven repository. */
export function mavenUrl(jar: MavenJar, repository = 'https://repo1.maven.org/maven2'): string {
  return `${repository}/${jar.group.replaceAll('.', '/')}/${jar.artifact}/${jar.version}/${jar.artifact}-${jar.version}.jar`;
}

/** The runtime's jars for a Spark version, and which of them are not in the cache yet. */
export function findCoreEtlJars(cacheDir: string, sparkVersion: string): { jars: string[]; missing: string[] } {
  const jars = coreEtlJarsFor(sparkVersion).map((j) => jarFile(cacheDir, j));
  return { jars, missing: jars.filter((f) => !fs.existsSync(f)) };
}

/** Spark settings for the local Iceberg catalog: a Hadoop catalog named `catalog` over `warehouse`. */
export function icebergCatalogConf(catalog: string, warehouse: string): Record<string, string> {
  const prefix = `spark.sql.catalog.${catalog}`;
  return {
    // MERGE INTO (the `merge` sink) needs Iceberg's SQL extensions.
    'spark.sql.extensions': 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
    [prefix]: 'org.apache.iceberg.spark.SparkCatalog',
    [`${prefix}.type`]: 'hadoop',
    [`${prefix}.warehouse`]: `file://${path.resolve(warehouse)}`,
  };
}

const dnsLabel = z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a lowercase DNS label');
const SecretsFile = z.record(
  dnsLabel,
  z.record(dnsLabel, z.object({ user: z.string().min(1), password: z.string() }).strict()),
);

/** Every team's secrets for JDBC sources: team → secret name → credentials (CORE_ETL_SECRETS_FILE). */
export type TeamSecrets = z.infer<typeof SecretsFile>;

/** Reads CORE_ETL_SECRETS_FILE; a problem names the file and the entry, never a value. */
export function loadTeamSecrets(file: string): TeamSecrets {
  let raw: unknown;
  try {
    raw = YAML.parse(fs.readFileSync(file, 'utf8')) ?? {};
  } catch (err) {
    throw new ConfigError(`CORE_ETL_SECRETS_FILE=${file} cannot be read: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = SecretsFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(`CORE_ETL_SECRETS_FILE=${file}: ${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  return parsed.data;
}

/** The environment variable prefix the runtime reads a secret from (coreetl/runtime.py `secret`). */
export function secretEnvPrefix(name: string): string {
  return `CORE_ETL_SECRET_${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}
