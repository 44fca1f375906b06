/**
 * Fetches what the builtin CoreETL runtime needs beside Spark, once, into ~/.cache/spark-runner/jars/: the Iceberg
 * Spark runtime matched to each installed Spark version and the Postgres JDBC driver, from Maven Central, each
 * checked against the SHA-1 Maven Central publishes beside it, under a cross-process lock. The local backend only
 * finds them (gateway/backends/local/core-etl.ts) and answers 422 while one is missing.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { coreEtlJarsFor, jarFile, mavenUrl, type MavenJar } from '../gateway/backends/local/core-etl.js';
import { ProvisionError } from './errors.js';
import { withLock } from './lock.js';

/** Fetches the runtime's jars for each Spark version that are not cached yet; returns every jar's path. */
export async function ensureCoreEtlJars(
  cacheDir: string,
  sparkVersions: readonly string[],
  log: (line: string) => void,
): Promise<string[]> {
  const wanted = new Map<string, MavenJar>();
  for (const version of sparkVersions)
    for (const jar of coreEtlJarsFor(version)) wanted.set(jarFile(cacheDir, jar), jar);
  const missing = [...wanted].filter(([file]) => !fs.existsSync(file));
  if (missing.length > 0) {
    await withLock(
      path.join(cacheDir, 'jars.lock'),
      () => log('another process is fetching the CoreETL runtime jars; waiting for it...'),
      async () => {
        for (const [file, jar] of missing) if (!fs.existsSync(file)) await fetchJar(jar, file, log);
      },
    );
  }
  return [...wanted.keys()];
}

async function fetchJar(jar: MavenJar, file: string, log: (line: string) => void): Promise<void> {
  const url = mavenUrl(jar);
  log(`fetching ${jar.artifact} ${jar.version} from Maven Central (once)...`);
  const started = Date.now();
  try {
    const [body, sha1] = await Promise.all([download(url), download(`${url}.sha1`)]);
    const expected = sha1.toString('utf8').trim().split(/\s+/)[0];
    const actual = crypto.createHash('sha1').update(body).digest('hex');
    if (actual !== expected) throw new Error(`SHA-1 ${actual} does not match the published ${expected}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, file);
    const mb = (body.length / 1024 / 1024).toFixed(0);
    log(`fetched ${path.basename(file)} (${mb} MB) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } catch (err) {
    throw new ProvisionError(
      `fetching ${url} failed (${(err as Error).message}): check access to Maven Central, or put the jar at ${file}`,
    );
  }
}

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url, { signal: AbortSignal.timeout(600_000) });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}
