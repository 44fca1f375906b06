/**
 * Schemathesis (4.32.5 from PyPI, provision/schemathesis.ts) fuzzes the live API from its own OpenAPI document,
 * every route, with valid tokens and `--checks all`: no 5xx, and no check fails (status codes and content types
 * as documented, response bodies matching their schemas, bad input refused, 405 with `Allow` for undeclared
 * methods...). Real Temporal and Postgres; the sim backend is DEFAULT_BACKEND, so a valid `POST /jobs` runs no JVM.
 *
 * The API gets a database of its own, so "nothing changes" can be counted over every table: after the negative
 * mode (only invalid requests) every table has as many rows as before. The positive mode then runs under a team
 * of its own.
 */
import crypto from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { sql } from 'drizzle-orm';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { ensureSchemathesis } from '../../provision/schemathesis.js';
import { openDatabase, runMigrations, type Database } from '../../store/db.js';
import { SessionStore } from '../../store/sessions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';

const run = promisify(execFile);
const CONFIG = path.join(import.meta.dirname, 'schemathesis.toml');
const suffix = crypto.randomUUID().slice(0, 8);
const NEGATIVE_TEAM = `st-neg-${suffix}`;
const POSITIVE_TEAM = `st-pos-${suffix}`;
const NEGATIVE_TOKEN = crypto.randomUUID();
const POSITIVE_TOKEN = crypto.randomUUID();
/** Examples per operation and mode: enough to reach every route's edges, few enough for two shared cores. */
const MAX_EXAMPLES = Number(process.env.SCHEMATHESIS_MAX_EXAMPLES ?? 15);

let stack: TestStack;
let api: TestApi;
let database: Database;
let st: string;
let reportDir: string;
let adminUrl: string;
let dbName: string;

beforeAll(async () => {
  // A database of this file's own on the shared server, migrated like any other.
  const shared = new URL(process.env.DATABASE_URL!);
  dbName = `schemathesis_${suffix.replace(/-/g, '')}`;
  adminUrl = shared.toString();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  await admin.end();
  const own = new URL(shared);
  own.pathname = `/${dbName}`;
  await runMigrations(own.toString());
  stack = await openTestStack({ DATABASE_URL: own.toString(), DEFAULT_BACKEND: 'sim' });
  const sim = createSimBackend();
  await stack.startWorker({ sim });
  database = openDatabase(own.toString());
  api = await startTestApi(stack, {
    backends: { sim },
    sessions: new SessionStore(database.db),
    teamTokens: { [NEGATIVE_TEAM]: NEGATIVE_TOKEN, [POSITIVE_TEAM]: POSITIVE_TOKEN },
  });
  st = await ensureSchemathesis(stack.config.SPARK_RUNNER_CACHE, (line) => console.log(`[schemathesis] ${line}`));
  reportDir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'schemathesis-'));
}, 900_000);

afterAll(async () => {
  await api?.close();
  await database?.close();
  await stack?.close();
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`drop database if exists ${dbName} with (force)`).catch(() => undefined);
  await admin.end();
});

/** Rows in every table of the API's database. */
async function tableCounts(): Promise<Record<string, number>> {
  const { rows } = await database.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
  );
  const counts: Record<string, number> = {};
  for (const { table_name: table } of rows as { table_name: string }[]) {
    const result = await database.db.execute(sql.raw(`select count(*)::int as n from "${table}"`));
    counts[table] = (result.rows[0] as { n: number }).n;
  }
  return counts;
}

interface Outcome {
  code: number;
  output: string;
  cases: number;
  serverErrors: number;
  failures: string[];
}

/** Runs `st run` in one mode and reads its JUnit report. */
async function fuzz(mode: 'negative' | 'positive', token: string, extra: string[] = []): Promise<Outcome> {
  const junit = path.join(reportDir, `${mode}.xml`);
  const args = [
    '--config-file',
    CONFIG,
    'run',
    `${api.url}/api/v1/openapi.json`,
    '--url',
    api.url,
    '--checks',
    'all',
    '--mode',
    mode,
    '--phases',
    'examples,coverage,fuzzing',
    '--max-examples',
    String(MAX_EXAMPLES),
    '--header',
    `Authorization: Bearer ${token}`,
    '--workers',
    '1',
    '--request-timeout',
    '30',
    '--seed',
    '42',
    '--no-color',
    '--generation-database',
    'none',
    '--report',
    'junit',
    '--report-junit-path',
    junit,
    ...extra,
  ];
  let code = 0;
  let output = '';
  try {
    // In the report directory: Schemathesis and Hypothesis keep state (.schemathesis/, .hypothesis/) in their cwd.
    const r = await run(st, args, { cwd: reportDir, timeout: 1_200_000, maxBuffer: 64 * 1024 * 1024 });
    output = r.stdout + r.stderr;
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    code = typeof e.code === 'number' ? e.code : 1;
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  const xml = fs.existsSync(junit) ? fs.readFileSync(junit, 'utf8') : '';
  const failures = [...xml.matchAll(/<(failure|error)[^>]*message="([^"]*)"/g)].map((m) => m[2]!);
  const cases = Number(/Test cases:\s*\n?\s*(\d+)/i.exec(output)?.[1] ?? /(\d+) generated/.exec(output)?.[1] ?? 0);
  const serverErrors = (output.match(/Server error/gi) ?? []).length;
  console.log(`[schemathesis ${mode}] exit ${code}\n${output.split('\n').slice(-40).join('\n')}`);
  // SCHEMATHESIS_OUTPUT_DIR keeps the full output and report, e.g. for CI artifacts.
  const keep = process.env.SCHEMATHESIS_OUTPUT_DIR;
  if (keep) {
    fs.mkdirSync(keep, { recursive: true });
    fs.writeFileSync(path.join(keep, `${mode}.txt`), output);
    if (xml) fs.writeFileSync(path.join(keep, `${mode}.xml`), xml);
  }
  return { code, output, cases, serverErrors, failures };
}

describe('Schemathesis against the live OpenAPI document', () => {
  it('finds no server error and no failed check among invalid requests, which change no row of any table', async () => {
    const before = await tableCounts();
    const outcome = await fuzz('negative', NEGATIVE_TOKEN);
    expect(outcome.serverErrors, outcome.output).toBe(0);
    expect(outcome.failures, outcome.output).toEqual([]);
    expect(outcome.code, outcome.output).toBe(0);
    expect(await tableCounts()).toEqual(before);
  }, 1_500_000);

  it('finds no server error and no failed check among valid requests, under a team of its own', async () => {
    // A valid session create starts a Spark Connect server (a JVM) per case: fuzzed in the negative mode only.
    const outcome = await fuzz('positive', POSITIVE_TOKEN, ['--exclude-name', 'POST /api/v1/sessions']);
    expect(outcome.serverErrors, outcome.output).toBe(0);
    expect(outcome.failures, outcome.output).toEqual([]);
    expect(outcome.code, outcome.output).toBe(0);
  }, 1_500_000);
});
