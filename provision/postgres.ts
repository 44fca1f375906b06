/**
 * Postgres for the executions store. With DATABASE_URL set, that server is used as is (after a reachability
 * check). Otherwise a private cluster is created with Debian's initdb in a data directory, listening on
 * loopback only, on a free port, with trust auth (nothing but this machine can connect).
 *
 * Postgres refuses to run as root. When we are root (CI containers), the server runs as the `postgres` user
 * (or `nobody`) through spawn's uid/gid, and the data directory is handed to that user. When that user cannot
 * reach the data directory (a checkout under root's 0700 home, the usual case in containers), the cluster lives
 * instead under RELOCATED_PG_ROOT, in a directory named after the one asked for (so the next start finds the same
 * cluster), and `StartedPostgres.dataDir` says where (`npm run dev` logs it).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { canQuery } from '../store/db.js';
import { failureDetail, ProvisionError } from './errors.js';
import { startProcess, waitFor, type ManagedProcess, type StartOptions } from './process.js';

const run = promisify(execFile);

export const PG_USER = 'spark_runner';
export const PG_DATABASE = 'spark_runner';

/** Finds initdb/postgres: PG_BIN, else the newest /usr/lib/postgresql/<version>/bin. */
export function findPostgresBin(pgBin: string | undefined): string {
  if (pgBin) {
    if (!fs.existsSync(path.join(pgBin, 'initdb'))) {
      throw new ProvisionError(`PG_BIN=${pgBin} has no initdb: point it at a Postgres bin directory, or unset it`);
    }
    return pgBin;
  }
  const root = '/usr/lib/postgresql';
  const versions = fs.existsSync(root)
    ? fs
        .readdirSync(root)
        .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0) {
    throw new ProvisionError(
      'Postgres server binaries not found under /usr/lib/postgresql/*/bin: install them (apt-get install postgresql), set PG_BIN, or set DATABASE_URL',
    );
  }
  return path.join(root, versions[0]!, 'bin');
}

interface RunAs {
  uid: number;
  gid: number;
}

/** The unprivileged account the server runs as when we are root; undefined when we are not root. */
function runAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const entry = passwd.find((l) => l.startsWith(`${name}:`))?.split(':');
    if (entry) return { uid: Number(entry[2]), gid: Number(entry[3]) };
  }
  throw new ProvisionError('running as root, and there is no postgres or nobody user to run Postgres as: create one');
}

/** Where clusters go when the server user cannot reach the data directory asked for (root only). */
export const RELOCATED_PG_ROOT = '/var/lib/spark-runner';

/**
 * The directory the cluster for `dataDir` really lives in: `dataDir` itself, or, when we are root and the server
 * user cannot enter one of its parents, `<relocatedRoot>/postgres-<name>-<hash of dataDir>`.
 */
export function clusterDir(dataDir: string, relocatedRoot = RELOCATED_PG_ROOT): string {
  const owner = runAs();
  const resolved = path.resolve(dataDir);
  if (!owner || unreachableParent(resolved, owner) === undefined) return resolved;
  const hash = createHash('sha256').update(resolved).digest('hex').slice(0, 12);
  return path.join(relocatedRoot, `postgres-${path.basename(path.dirname(resolved))}-${hash}`);
}

/**
 * Creates the cluster for `dataDir` unless it already exists, and returns the directory it is in (see
 * clusterDir). Idempotent.
 */
export async function initCluster(
  binDir: string,
  requestedDir: string,
  relocatedRoot = RELOCATED_PG_ROOT,
): Promise<string> {
  const dataDir = clusterDir(requestedDir, relocatedRoot);
  if (fs.existsSync(path.join(dataDir, 'PG_VERSION'))) return dataDir;
  const owner = runAs();
  // The relocated root's parents are root's own and world-enterable (/var/lib), so the server user reaches it.
  fs.mkdirSync(path.dirname(dataDir), { recursive: true, mode: 0o755 });
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (owner) {
    fs.chownSync(dataDir, owner.uid, owner.gid);
    assertReachableBy(dataDir, owner);
  }
  try {
    await run(
      path.join(binDir, 'initdb'),
      ['-D', dataDir, '-U', PG_USER, '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'],
      { uid: owner?.uid, gid: owner?.gid, cwd: dataDir, timeout: 120_000 },
    );
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true });
    const detail = failureDetail(err);
    throw new ProvisionError(`initdb failed for ${dataDir} (${detail}): set DATABASE_URL to use an existing server`);
  }
  return dataDir;
}

/** The first parent of `dir` the server user cannot enter, or undefined when it can reach `dir`. */
function unreachableParent(dir: string, owner: RunAs): string | undefined {
  for (let d = path.dirname(path.resolve(dir)); d !== path.dirname(d); d = path.dirname(d)) {
    let st: fs.Stats;
    try {
      st = fs.statSync(d);
    } catch {
      continue; // not created yet: mkdir makes it root's, 0755
    }
    const canEnter = st.uid === owner.uid ? st.mode & 0o100 : st.gid === owner.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!canEnter) return d;
  }
  return undefined;
}

/** The server user must be able to reach its data directory (e.g. a checkout under /root is not reachable). */
function assertReachableBy(dir: string, owner: RunAs): void {
  const d = unreachableParent(dir, owner);
  if (d !== undefined) {
    throw new ProvisionError(
      `Postgres runs as uid ${owner.uid} when started by root, but it cannot enter ${d}: move SPARK_RUNNER_DATA elsewhere, or set DATABASE_URL`,
    );
  }
}

export interface StartedPostgres {
  process: ManagedProcess;
  url: string;
  /** Where the cluster's files are: the directory asked for, or its relocation (see clusterDir). */
  dataDir: string;
}

/** Starts the cluster in the foreground as a child process and creates the database. */
export async function startPostgres(
  binDir: string,
  requestedDir: string,
  port: number,
  onLine?: StartOptions['onLine'],
  relocatedRoot = RELOCATED_PG_ROOT,
): Promise<StartedPostgres> {
  const dataDir = await initCluster(binDir, requestedDir, relocatedRoot);
  // A stale pid file from a killed run would stop the server from starting; postgres checks it is really stale.
  const owner = runAs();
  const args = ['-D', dataDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-k', dataDir];
  // fsync and full-page writes only guard against the machine crashing. synchronous_commit stays on: off, a commit
  // was acknowledged before its WAL left Postgres' shared memory, so a SIGKILLed server lost the last commits (the
  // fault drill, bench/drill.ts, found a SUCCEEDED execution whose SUBMIT event and attempt were gone).
  args.push('-c', 'fsync=off', '-c', 'full_page_writes=off');
  args.push('-c', 'max_connections=200');
  const server = startProcess('postgres', path.join(binDir, 'postgres'), args, {
    uid: owner?.uid,
    gid: owner?.gid,
    cwd: dataDir,
    onLine,
    // SIGINT is Postgres' "fast" shutdown: it does not wait for clients to disconnect.
    stopSignal: 'SIGINT',
  });
  const url = `postgres://${PG_USER}@127.0.0.1:${port}/${PG_DATABASE}`;
  const adminUrl = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
  try {
    await waitFor(() => canQuery(adminUrl).then(() => true), {
      timeoutMs: 60_000,
      message: `Postgres did not start on port ${port} (data directory ${dataDir})`,
      exited: server.exited,
    });
    await createDatabaseIfMissing(adminUrl, PG_DATABASE);
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
  return { process: server, url, dataDir };
}

async function createDatabaseIfMissing(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (!rowCount) await client.query(`create database ${name}`);
  } finally {
    await client.end();
  }
}
