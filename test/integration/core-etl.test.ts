/**
 * CoreETL jobs on the builtin runtime (coreetl/runtime.py), end to end: submitted through the API, run by a real
 * worker on real local Spark with the real Iceberg runtime over a Hadoop catalog in this file's warehouse, reading a
 * table of the test Postgres over JDBC. Row counts come from METRICS_SUMMARY and are checked against the Iceberg
 * tables' own metadata. Four Spark runs: two jobs that cover every source and sink kind, a failing query and a
 * missing table (the last two side by side with the first job).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import { openDatabase, type Database } from '../../store/db.js';
import type { EventRow, ExecutionRow } from '../../store/executions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { icebergTable } from '../helpers/iceberg.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const run = crypto.randomUUID().slice(0, 8);
const scratch = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? '/tmp', 'core-etl-'));
const SCHEMA = `core_etl_${run}`;
// Not a secret anywhere but here: the test looks for it where it must never appear.
const PASSWORD = `pw-${crypto.randomUUID()}`;
const CATALOG = 'pedregal';

let stack: TestStack;
let api: TestApi;
let database: Database;
let warehouse: string;

interface Finished {
  row: ExecutionRow;
  events: EventRow[];
  log: string;
}
let files: Promise<Finished>;
let badSql: Promise<Finished>;
let missingTable: Promise<Finished>;

beforeAll(async () => {
  const secrets = path.join(scratch, 'secrets.yaml');
  fs.writeFileSync(
    secrets,
    YAML.stringify({ 'data-infra': { 'crm-db': { user: 'spark_runner', password: PASSWORD } } }),
  );
  stack = await openTestStack({ CORE_ETL_SECRETS_FILE: secrets });
  warehouse = dataPaths(stack.config).icebergWarehouse;
  await stack.startWorker();
  api = await startTestApi(stack);
  database = openDatabase(stack.config.DATABASE_URL!);
  await database.db.execute(sql.raw(`CREATE SCHEMA ${SCHEMA}`));
  await database.db.execute(sql.raw(`CREATE TABLE ${SCHEMA}.customers (person_id int, tier text)`));
  await database.db.execute(
    sql.raw(`INSERT INTO ${SCHEMA}.customers VALUES (1, 'gold'), (2, 'silver'), (3, 'gold'), (4, 'none')`),
  );
  fs.writeFileSync(path.join(scratch, 'people.csv'), 'id,name\n1,ada\n2,grace\n3,edsger\n');
  fs.writeFileSync(
    path.join(scratch, 'orders.json'),
    [
      [1, 1, 5],
      [2, 1, 20],
      [3, 2, 30],
      [4, 3, 40],
      [5, 3, 50],
    ]
      .map(([order_id, person_id, amount]) => JSON.stringify({ order_id, person_id, amount }))
      .join('\n'),
  );
  files = runJob('files-and-jdbc', FILES_JOB);
  badSql = runJob('bad-sql', {
    transformations: [{ type: 'sql', query: 'SELECT no_such_column FROM range(3)' }],
    sinks: [{ type: 'console' }],
  });
  missingTable = runJob('missing-table', {
    sources: [{ type: 'iceberg', catalog: CATALOG, database: 'raw', table: `missing_${run}` }],
    sinks: [{ type: 'console' }],
  });
  // Settle them all here, so a failure shows up in the tests that read them, not as an unhandled rejection.
  await Promise.allSettled([files, badSql, missingTable]);
});
afterAll(async () => {
  await database?.db.execute(sql.raw(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`));
  await database?.close();
  await api?.close();
  await stack?.close();
});

const FILES_JOB = {
  sources: [
    { type: 'csv', path: path.join(scratch, 'people.csv'), alias: 'people' },
    { type: 'json', path: path.join(scratch, 'orders.json'), alias: 'orders' },
    {
      type: 'jdbc',
      url: '', // filled in below, from the test Postgres
      table: `${SCHEMA}.customers`,
      secret: 'crm-db',
      alias: 'customers',
    },
  ],
  transformations: [
    {
      type: 'sql',
      query:
        'SELECT o.order_id, p.name, o.amount, c.tier FROM orders o JOIN people p ON o.person_id = p.id ' +
        'JOIN customers c ON c.person_id = p.id',
    },
    { type: 'filter', condition: 'amount > 10' },
    { type: 'select', columns: ['order_id', 'name', 'amount * 2 AS doubled'] },
  ],
  sinks: [
    { type: 'parquet', path: path.join(scratch, 'out', 'orders'), mode: 'overwrite' },
    { type: 'iceberg', catalog: CATALOG, database: `ce_${run}`, table: 'orders', mode: 'append' },
    { type: 'iceberg', catalog: CATALOG, database: `ce_${run}`, table: 'latest', mode: 'append' },
    { type: 'console', rows: 2 },
  ],
};

function jdbcUrl(): string {
  const url = new URL(stack.config.DATABASE_URL!);
  return `jdbc:postgresql://${url.host}${url.pathname}`;
}

async function submit(name: string, jobSpec: unknown, extra: Record<string, unknown> = {}) {
  return fetch(`${api.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${api.tokens.dataInfra}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({
      name,
      engineVersion: '4.0',
      backend: 'local',
      application: { type: 'coreEtl', jarPath: 's3://unused/core-etl.jar', mainClass: 'com.example.Unused', jobSpec },
      retryPolicy: { maxAttempts: 3, backoffSeconds: 1 },
      resources: { driver: { memory: '1g' } },
      ...extra,
    }),
  });
}

/** Submits a CoreETL job and waits for its end: the row, its events and its driver log. */
async function runJob(name: string, jobSpec: unknown): Promise<Finished> {
  const spec = JSON.parse(JSON.stringify(jobSpec).replace('"url":""', `"url":"${jdbcUrl()}"`)) as unknown;
  const res = await submit(`${name}-${run}`, spec);
  const accepted = (await res.json()) as { execution_id: string };
  if (res.status !== 202) throw new Error(`submit ${name}: ${res.status} ${JSON.stringify(accepted)}`);
  const id = accepted.execution_id;
  const row = await eventually(
    `${name} to finish`,
    async () => {
      const r = await stack.store.getExecution(id);
      return r && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(r.state) ? r : undefined;
    },
    240_000,
  );
  const events = await stack.store.listEvents(id);
  const log = await (
    await fetch(`${api.url}/api/v1/jobs/${id}/logs`, { headers: { Authorization: `Bearer ${api.tokens.dataInfra}` } })
  ).text();
  return { row, events, log };
}

interface CoreEtlResult {
  sparkVersion: string;
  sources: { type: string; name: string; view: string; rowsRead: number }[];
  sinks: { type: string; name: string; mode?: string; rowsWritten: number; created?: boolean }[];
}

function resultOf(finished: Finished): CoreEtlResult {
  const summary = finished.events.find((e) => e.eventType === 'METRICS_SUMMARY');
  return summary?.payload.core_etl as CoreEtlResult;
}

function payloadOf(finished: Finished, type: EventRow['eventType']): Record<string, unknown> {
  return finished.events.find((e) => e.eventType === type)!.payload;
}

describe('sources, transformations and sinks', () => {
  it('reads csv and json paths and a Postgres table over JDBC, each counted in METRICS_SUMMARY', async () => {
    const job = await files;
    expect(job.row.state, job.log.slice(-3000)).toBe('SUCCEEDED');
    expect(resultOf(job).sources).toEqual([
      expect.objectContaining({ type: 'csv', view: 'people', rowsRead: 3 }),
      expect.objectContaining({ type: 'json', view: 'orders', rowsRead: 5 }),
      expect.objectContaining({ type: 'jdbc', view: 'customers', name: `${SCHEMA}.customers`, rowsRead: 4 }),
    ]);
  });

  it('chains sql, filter and select in order, and writes parquet, two new Iceberg tables and the console', async () => {
    const job = await files;
    // 5 joined orders, 4 above 10, each doubled: the console shows the selected columns.
    expect(resultOf(job).sinks).toEqual([
      expect.objectContaining({ type: 'parquet', rowsWritten: 4 }),
      expect.objectContaining({ name: `${CATALOG}.ce_${run}.orders`, mode: 'append', rowsWritten: 4, created: true }),
      expect.objectContaining({ name: `${CATALOG}.ce_${run}.latest`, mode: 'append', rowsWritten: 4, created: true }),
      expect.objectContaining({ type: 'console', rowsWritten: 2 }),
    ]);
    expect(job.log).toMatch(/\|order_id\s*\|name\s*\|doubled\s*\|/);
    expect(icebergTable(warehouse, `ce_${run}`, 'orders')).toMatchObject({ rows: 4, snapshots: 1 });
    expect(fs.readdirSync(path.join(scratch, 'out', 'orders')).filter((f) => f.endsWith('.parquet'))).not.toEqual([]);
  });

  it('notes in the SUBMIT event that the builtin runtime ran the spec and the jar was not used', async () => {
    const job = await files;
    expect(payloadOf(job, 'SUBMIT')).toMatchObject({
      sparkVersion: expect.stringMatching(/^4\.0\./) as unknown,
      coreEtl: { runtime: 'builtin', jarPath: 's3://unused/core-etl.jar', mainClass: 'com.example.Unused' },
    });
    expect(job.row.sparkVersion).toMatch(/^4\.0\./);
  });

  it("passes the team's JDBC secret by environment only: never in argv, the SUBMIT event or the driver log", async () => {
    const job = await files;
    const runJson = fs.readFileSync(
      path.join(dataPaths(stack.config).runsDir, job.row.executionId, '1', 'run.json'),
      'utf8',
    );
    expect(runJson).toContain('crm-db'); // the reference is in the spec...
    for (const text of [runJson, JSON.stringify(job.events), job.log]) expect(text).not.toContain(PASSWORD);
  });

  it('reads Iceberg at a snapshot and as of a time, merges on keys and overwrites', async () => {
    const first = await files;
    expect(first.row.state).toBe('SUCCEEDED');
    const db = `ce_${run}`;
    const snapshot = icebergTable(warehouse, db, 'orders')!.currentSnapshotId;
    const job = await runJob('iceberg-and-parquet', {
      sources: [
        { type: 'parquet', path: path.join(scratch, 'out', 'orders'), alias: 'doubled' },
        { type: 'iceberg', catalog: CATALOG, database: db, table: 'orders', snapshotId: snapshot, alias: 'snap' },
        {
          type: 'iceberg',
          catalog: CATALOG,
          database: db,
          table: 'orders',
          asOf: new Date().toISOString(),
          alias: 'now',
        },
      ],
      transformations: [
        {
          // Two changed rows, one new one, and one unchanged row (which a merge leaves alone).
          type: 'sql',
          query:
            'SELECT order_id, name, doubled + 1 AS doubled FROM snap WHERE order_id IN (2, 3) ' +
            'UNION ALL SELECT order_id + 100, name, doubled FROM doubled WHERE order_id = 4 ' +
            'UNION ALL SELECT order_id, name, doubled FROM now WHERE order_id = 5',
        },
      ],
      sinks: [
        { type: 'iceberg', catalog: CATALOG, database: db, table: 'orders', mode: 'merge', keys: ['order_id'] },
        { type: 'iceberg', catalog: CATALOG, database: db, table: 'latest', mode: 'overwrite' },
      ],
    });
    expect(job.row.state, job.log.slice(-3000)).toBe('SUCCEEDED');
    expect(resultOf(job).sources.map((s) => [s.type, s.rowsRead])).toEqual([
      ['parquet', 4],
      ['iceberg', 4],
      ['iceberg', 4],
    ]);
    expect(resultOf(job).sinks).toEqual([
      expect.objectContaining({ mode: 'merge', rowsWritten: 3, created: false }),
      expect.objectContaining({ mode: 'overwrite', rowsWritten: 4, created: false }),
    ]);
    expect(icebergTable(warehouse, db, 'orders')).toMatchObject({ rows: 5, snapshots: 2 });
    expect(icebergTable(warehouse, db, 'latest')).toMatchObject({ rows: 4, snapshots: 2 });
  });
});

describe('failures', () => {
  it('fails a job whose SQL does not analyse as USER_ERROR, after one attempt of three allowed', async () => {
    const job = await badSql;
    expect(job.row).toMatchObject({ state: 'FAILED', failureClass: 'USER_ERROR', attempt: 1 });
    expect(job.row.failureMessage).toMatch(/AnalysisException in transformations\[0\] \(sql\)/);
    expect(job.row.failureMessage).toMatch(/no_such_column/);
  });

  it('fails a job whose Iceberg source table does not exist as USER_ERROR, naming the table', async () => {
    const job = await missingTable;
    expect(job.row).toMatchObject({ state: 'FAILED', failureClass: 'USER_ERROR', attempt: 1 });
    expect(job.row.failureMessage).toContain(`table ${CATALOG}.raw.missing_${run} does not exist`);
  });
});

describe('at submit', () => {
  it('rejects a job spec that does not validate, with the field paths, and creates nothing', async () => {
    const res = await submit(`invalid-${run}`, {
      sources: [
        { type: 'iceberg', catalog: CATALOG, database: 'raw' },
        { type: 'csv', path: '/x.csv' },
      ],
      transformations: [{ type: 'sql' }],
      sinks: [{ type: 'iceberg', catalog: CATALOG, database: 'd', table: 't', mode: 'merge' }],
    });
    expect(res.status).toBe(400);
    const problem = (await res.json()) as { errors: { path: string; message: string }[] };
    expect(problem.errors.map((e) => e.path)).toEqual(
      expect.arrayContaining([
        'application.jobSpec.sources.0.table',
        'application.jobSpec.transformations.0.query',
        'application.jobSpec.sinks.0.keys',
      ]),
    );
    expect(await stack.store.getJob(`data-infra/invalid-${run}`)).toBeUndefined();
  });

  it('answers 422 for a Spark version that is allowed but not installed, naming the command that installs it', async () => {
    const listed = stack.config.LOCAL_SPARK_VERSIONS;
    for (const engineVersion of ['4.1', '4.2'].filter((v) => !listed.includes(v))) {
      const jobSpec = { sources: [{ type: 'csv', path: '/x.csv' }], sinks: [{ type: 'console' }] };
      const res = await submit(`not-installed-${run}`, jobSpec, { engineVersion });
      expect(res.status).toBe(422);
      const problem = (await res.json()) as { detail: string; errors: { path: string }[] };
      expect(problem.errors[0]!.path).toBe('engineVersion');
      expect(problem.detail).toContain(`Spark ${engineVersion} is not installed for the local backend`);
      expect(problem.detail).toContain(`LOCAL_SPARK_VERSIONS=${[...listed, engineVersion].join(',')} npm run setup`);
    }
    expect(await stack.store.getJob(`data-infra/not-installed-${run}`)).toBeUndefined();
  });
});
