import path from 'node:path';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { DependencyError } from '../config/index.js';
import * as schema from '../schema/index.js';

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(import.meta.dirname, '..', 'migrations');

/**
 * A pool of at most `max` connections. A query that waits `waitMs` for one (all busy) fails with
 * pg-pool's "timeout exceeded when trying to connect", which `isPoolExhausted` recognises (the API's 503).
 */
export function openDatabase(url: string, max = 10, waitMs = 5000): Database {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: waitMs });
  // An idle client losing its server (Postgres restarted) must not crash the process; the pool reconnects.
  pool.on('error', () => undefined);
  // Nor may a checked-out one (inside a transaction): pg-pool listens for errors only on idle clients, so a server
  // gone mid-transaction emitted an unhandled 'error' that killed the worker (57P01, found by bench/drill.ts). Its
  // queries still fail with the error, and the pool drops the broken client when it is released.
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

/** True when `err` (or a cause of it, as drizzle wraps driver errors) is a wait for a pooled connection that timed out. */
export function isPoolExhausted(err: unknown): boolean {
  return causes(err).some((e) =>
    /timeout exceeded when trying to connect|connection terminated due to connection timeout/i.test(e.message),
  );
}

/** `err` and its causes, the few levels drizzle and pg wrap a driver error in. */
function causes(err: unknown): Error[] {
  const chain: Error[] = [];
  for (let e = err; e instanceof Error && chain.length < 5; e = e.cause) chain.push(e);
  return chain;
}

/**
 * True when `err` (or a cause of it) says Postgres is not there right now: the connection was refused or reset, or
 * the server is shutting down, crashed or still starting (SQLSTATE 57P01-57P03). An outage, not a bug: a client
 * should retry (the API answers 503 with Retry-After).
 */
export function isDatabaseUnreachable(err: unknown): boolean {
  return causes(err).some(
    (e) =>
      ['ECONNREFUSED', 'ECONNRESET', '57P01', '57P02', '57P03'].includes((e as { code?: unknown }).code as string) ||
      e.message === 'Connection terminated unexpectedly',
  );
}

/** Applies the committed migrations in migrations/. Safe to run concurrently and repeatedly. */
export async function runMigrations(url: string): Promise<void> {
  const database = openDatabase(url, 1);
  try {
    // Serialize concurrent starters (API and worker) with an advisory lock.
    await database.pool.query('select pg_advisory_lock(727274)');
    await migrate(database.db, { migrationsFolder: MIGRATIONS_DIR });
  } finally {
    await database.pool.query('select pg_advisory_unlock(727274)').catch(() => undefined);
    await database.close();
  }
}

/** Connects once and runs `select 1`; throws the driver's error when the server does not answer. */
export async function canQuery(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query('select 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Checks that DATABASE_URL answers; throws a one-line DependencyError naming the variable otherwise. */
export async function checkDatabaseUrl(url: string): Promise<void> {
  try {
    await canQuery(url);
  } catch (err) {
    let where = url;
    try {
      const u = new URL(url);
      where = `${u.hostname}:${u.port || 5432}${u.pathname}`;
    } catch {
      // not a URL; show it as given
    }
    throw new DependencyError(
      `DATABASE_URL (${where}) is not reachable: ${(err as Error).message}. Start that server, fix the URL, or unset DATABASE_URL to use a private cluster`,
    );
  }
}
