import path from 'node:path';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import * as schema from '../schema/index.js';

export type Db = NodePgDatabase<typeof schema>;

export interface Database {
  db: Db;
  pool: pg.Pool;
  close(): Promise<void>;
}

export const MIGRATIONS_DIR = path.join(import.meta.dirname, '..', 'migrations');

export function openDatabase(url: string, max = 10): Database {
  const pool = new pg.Pool({ connectionString: url, max });
  // An idle client losing its server (Postgres restarted) must not crash the process; the pool reconnects.
  pool.on('error', () => undefined);
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
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
