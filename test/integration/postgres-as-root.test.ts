/**
 * Started as root from a checkout the `postgres` user cannot enter (a clone under root's 0700 home, the usual
 * case in containers), the private Postgres cluster `npm run dev` starts still comes up: its data directory moves
 * to a place that user reaches, named after the one asked for, so the next start finds the same data. Real
 * initdb and postgres. Root is what this is about: as another user there is nothing to relocate, and the test
 * says so rather than passing.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterDir, findPostgresBin, startPostgres } from '../../provision/postgres.js';
import { freePort } from '../../provision/process.js';

const base = fs.mkdtempSync(path.join(os.tmpdir(), 'pg-root-'));
// The checkout: inside a directory only root may enter, like /root.
const home = path.join(base, 'root-home');
fs.mkdirSync(home, { mode: 0o700 });
fs.chmodSync(home, 0o700);
const requested = path.join(home, 'spark-runner', '.data', 'postgres');
// Where relocated clusters go (the product's default is /var/lib/spark-runner); enterable by everyone.
const relocated = path.join(base, 'var-lib-spark-runner');
fs.chmodSync(base, 0o755);

afterAll(() => fs.rmSync(base, { recursive: true, force: true }));

async function query(url: string, text: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<Record<string, unknown>>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('Postgres started by root for a checkout in a 0700 directory', () => {
  it('is started as root here', () => {
    expect(process.getuid?.(), 'this test must run as root, as CI does').toBe(0);
  });

  it('starts in a directory the postgres user reaches, reports it, and finds the same data on the next start', async () => {
    const bin = findPostgresBin(process.env.PG_BIN);
    const first = await startPostgres(bin, requested, await freePort(), null, relocated);
    let second: Awaited<ReturnType<typeof startPostgres>> | undefined;
    try {
      expect(first.dataDir.startsWith(relocated + path.sep)).toBe(true);
      expect(first.dataDir).toBe(clusterDir(requested, relocated));
      const owner = fs.statSync(first.dataDir);
      expect(owner.uid).not.toBe(0);
      expect(owner.mode & 0o777).toBe(0o700);
      // Nothing was written where the postgres user could not go.
      expect(fs.existsSync(path.join(requested, 'PG_VERSION'))).toBe(false);
      await query(first.url, 'create table kept (n int); insert into kept values (42)');
      await first.process.stop();

      second = await startPostgres(bin, requested, await freePort(), null, relocated);
      expect(second.dataDir).toBe(first.dataDir);
      expect(await query(second.url, 'select n from kept')).toEqual([{ n: 42 }]);
    } finally {
      await first.process.stop().catch(() => undefined);
      await second?.process.stop().catch(() => undefined);
    }
  }, 120_000);

  it('keeps a data directory the postgres user can reach where it was asked for', () => {
    const open = path.join(base, 'open', '.data', 'postgres');
    expect(clusterDir(open, relocated)).toBe(path.resolve(open));
  });
});
