/**
 * The CoreETL job spec and where it runs, without Spark: the zod schema's field paths, the runtime's JSON Schema
 * (generated from it, checked by coreetl/runtime.py's own validator under plain python3), the local backend's choice
 * of Spark version and runtime, and the 422 for the builtin runtime on Kubernetes, through a real composition.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pino from 'pino';
import YAML from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { CORE_ETL_RUNTIME, CORE_ETL_SCHEMA_FILE } from '../../coreetl/index.js';
import { BackendRejection } from '../../gateway/backend.js';
import { buildSparkSubmitArgs } from '../../gateway/backends/local/args.js';
import { jarFile, icebergRuntimeFor, POSTGRES_JDBC, secretEnvPrefix } from '../../gateway/backends/local/core-etl.js';
import { isUnsupported, planLocalRun, secretsEnv, type LocalPlanOptions } from '../../gateway/backends/local/plan.js';
import { composeGateway } from '../../gateway/compose.js';
import { CoreEtlJobSpec, coreEtlJsonSchema } from '../../schema/core-etl.js';
import { JobSpec } from '../../schema/job-spec.js';

const run = promisify(execFile);

const REFERENCE_SPEC = {
  sources: [{ type: 'iceberg', catalog: 'pedregal', database: 'raw', table: 'events' }],
  transformations: [{ type: 'sql', query: "SELECT * FROM source WHERE event_type = 'order'" }],
  sinks: [{ type: 'iceberg', catalog: 'pedregal', database: 'derived', table: 'processed_events', mode: 'append' }],
};

function paths(spec: unknown): string[] {
  return (CoreEtlJobSpec.safeParse(spec).error?.issues ?? []).map((i) => i.path.join('.'));
}

/** coreetl/runtime.py --validate-only on plain python3 (it imports pyspark only after validating). */
async function runtimeValidates(spec: unknown): Promise<{ ok: boolean; message: string }> {
  try {
    const { stdout } = await run('python3', [CORE_ETL_RUNTIME, '--validate-only', '--job-spec', JSON.stringify(spec)]);
    return { ok: true, message: stdout };
  } catch (err) {
    return {
      ok: false,
      message: String((err as { stderr?: string }).stderr)
        .trim()
        .split('\n')
        .at(-1)!,
    };
  }
}

function coreEtlJob(engineVersion: string, jobSpec: unknown = REFERENCE_SPEC) {
  return JobSpec.parse({
    name: 'etl',
    engineVersion,
    application: { type: 'coreEtl', jarPath: 's3://b/core.jar', mainClass: 'com.x.Main', jobSpec },
  });
}

describe('the job spec', () => {
  it("accepts the reference manifest's spec and fills in the defaults", () => {
    expect(CoreEtlJobSpec.parse(REFERENCE_SPEC).sinks[0]).toMatchObject({ mode: 'append' });
    expect(CoreEtlJobSpec.parse({ ...REFERENCE_SPEC, transformations: undefined }).transformations).toEqual([]);
  });

  it('names the field of each problem', () => {
    expect(
      paths({
        sources: [
          { type: 'iceberg', catalog: 'pedregal', database: 'raw' },
          { type: 'csv', path: '/a.csv' },
        ],
        transformations: [{ type: 'sql', query: '' }],
        sinks: [{ type: 'iceberg', catalog: 'c', database: 'd', table: 't', mode: 'merge' }],
      }).sort(),
    ).toEqual(['sinks.0.keys', 'sources.0.table', 'transformations.0.query']);
    expect(paths({ sources: [{ type: 'kafka' }], sinks: [] })).toEqual(['sources.0.type', 'sinks']);
  });

  it('registers each view once: a second source without an alias, or an alias named previous, is refused', () => {
    const csv = { type: 'csv', path: '/a.csv' };
    expect(paths({ sources: [csv, csv], sinks: [{ type: 'console' }] })).toEqual(['sources.1.alias']);
    expect(
      paths({
        sources: [csv],
        transformations: [{ type: 'sql', query: 'x', alias: 'previous' }],
        sinks: [{ type: 'console' }],
      }),
    ).toEqual(['transformations.0.alias']);
  });

  it('needs an sql first step when there are no sources, and snapshot ids as strings', () => {
    expect(paths({ transformations: [{ type: 'filter', condition: 'x' }], sinks: [{ type: 'console' }] })).toEqual([
      'transformations.0.type',
    ]);
    const source = { type: 'iceberg', catalog: 'c', database: 'd', table: 't', snapshotId: 2 ** 62 }; // what JSON makes of a real id
    expect(paths({ sources: [source], sinks: [{ type: 'console' }] })).toEqual(['sources.0.snapshotId']);
  });
});

describe("the runtime's JSON Schema", () => {
  it('is the one generated from the zod schema (npm run coreetl:schema writes it)', () => {
    expect(JSON.parse(fs.readFileSync(CORE_ETL_SCHEMA_FILE, 'utf8'))).toEqual(coreEtlJsonSchema());
  });

  it('accepts in the runtime what zod accepts, and rejects what it rejects with the same fields', async () => {
    expect(await runtimeValidates(CoreEtlJobSpec.parse(REFERENCE_SPEC))).toEqual({
      ok: true,
      message: 'CoreETL job spec is valid\n',
    });
    const everyKind = CoreEtlJobSpec.parse({
      sources: [
        { type: 'iceberg', catalog: 'c', database: 'd', table: 't', asOf: '2026-01-01T00:00:00Z', alias: 'a' },
        { type: 'parquet', path: '/p', alias: 'b' },
        { type: 'json', path: '/j', alias: 'c' },
        { type: 'jdbc', url: 'jdbc:postgresql://h:5432/db', query: 'select 1', secret: 'crm', alias: 'd' },
      ],
      transformations: [
        { type: 'filter', condition: 'x > 1' },
        { type: 'select', columns: ['x'] },
      ],
      sinks: [
        { type: 'parquet', path: '/o', partitionBy: ['x'] },
        { type: 'console', rows: 5 },
      ],
    });
    expect((await runtimeValidates(everyKind)).ok).toBe(true);

    const bad = {
      ...CoreEtlJobSpec.parse(REFERENCE_SPEC),
      sources: [{ type: 'iceberg', catalog: 'pedregal', database: 'raw' }],
      sinks: [{ type: 'console', rows: 0, typo: true }],
    };
    expect(paths(bad).sort()).toEqual(['sinks.0', 'sinks.0.rows', 'sources.0.table']);
    const checked = await runtimeValidates(bad);
    expect(checked.ok).toBe(false);
    expect(checked.message).toMatch(/^CoreEtlError: invalid job spec: /);
    for (const field of [
      'sources[0].table: required',
      'sinks[0].rows: must be at least 1',
      'sinks[0].typo: unknown field',
    ])
      expect(checked.message).toContain(field);
  });
});

describe('where a CoreETL job runs on local Spark', () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'core-etl-jars-'));
  const options: LocalPlanOptions = {
    sparks: [
      { sparkHome: '/spark/4.0', python: '/py4', version: '4.0.1' },
      { sparkHome: '/spark/3.5', python: '/py3', version: '3.5.5' },
    ],
    offeredVersions: ['3.5', '4.0'],
    coreEtl: { runtime: 'builtin', cacheDir: cache, catalog: 'pedregal', warehouse: '/data/warehouse' },
  };
  const fetchJars = (sparkVersion: string) => {
    for (const jar of [icebergRuntimeFor(sparkVersion)!, POSTGRES_JDBC]) {
      fs.mkdirSync(path.dirname(jarFile(cache, jar)), { recursive: true });
      fs.writeFileSync(jarFile(cache, jar), '');
    }
  };

  it('runs an engine version on its own installed Spark, and never on another', () => {
    const plan = planLocalRun(coreEtlJob('3.5'), { ...options, coreEtl: undefined });
    expect(plan).toMatchObject({ spark: { sparkHome: '/spark/3.5', version: '3.5.5' }, coreEtl: { runtime: 'jar' } });
    expect(planLocalRun(coreEtlJob('3.5.5'), options)).not.toHaveProperty('field', 'engineVersion');
    for (const [engine, command] of [
      ['3.5.3', 'LOCAL_SPARK_VERSIONS=3.5,4.0 npm run setup'],
      ['4.1', 'LOCAL_SPARK_VERSIONS=3.5,4.0,4.1 npm run setup'],
      ['4.2', 'LOCAL_SPARK_VERSIONS=3.5,4.0,4.2 npm run setup'],
    ] as const) {
      const refused = planLocalRun(coreEtlJob(engine), options);
      expect(refused).toMatchObject({ field: 'engineVersion' });
      expect(isUnsupported(refused) && refused.message).toBe(
        `Spark ${engine} is not installed for the local backend (installed: 4.0.1, 3.5.5): install it with \`${command}\` and restart the worker and API with that LOCAL_SPARK_VERSIONS (\`npm run dev\` does both)`,
      );
    }
  });

  it('answers 422 on the builtin runtime until its jars are fetched, then runs runtime.py with them', () => {
    expect(planLocalRun(coreEtlJob('3.5'), options)).toMatchObject({
      field: 'application',
      message: expect.stringMatching(/jars for Spark 3\.5 are not fetched yet .*run `npm run setup`/) as unknown,
    });
    fetchJars('3.5.5');
    const plan = planLocalRun(coreEtlJob('3.5'), options);
    if (isUnsupported(plan) || !plan.builtin) throw new Error(`not planned: ${JSON.stringify(plan)}`);
    expect(plan.coreEtl).toMatchObject({ runtime: 'builtin', jarPath: 's3://b/core.jar', mainClass: 'com.x.Main' });
    const req = { executionId: 'e', attempt: 1, team: 't', jobPath: 't/etl', spec: coreEtlJob('3.5') };
    const args = buildSparkSubmitArgs(req, {
      master: 'local[2]',
      builtinCoreEtl: { ...plan.builtin, resultFile: '/runs/e/1/result.json' },
    });
    expect(args).toContain('spark.sql.catalog.pedregal.warehouse=file:///data/warehouse');
    expect(args).toContain('spark.sql.catalog.pedregal.type=hadoop');
    const tail = args.slice(args.indexOf('--jars'));
    expect(tail.slice(0, 3)).toEqual([
      '--jars',
      `${path.join(cache, 'jars', 'iceberg-spark-runtime-3.5_2.12-1.10.0.jar')},${path.join(cache, 'jars', 'postgresql-42.7.4.jar')}`,
      CORE_ETL_RUNTIME,
    ]);
    expect(tail.slice(3)).toEqual([
      '--job-spec',
      JSON.stringify(CoreEtlJobSpec.parse(REFERENCE_SPEC)),
      '--result-file',
      '/runs/e/1/result.json',
    ]);
    expect(icebergRuntimeFor('4.1.3')).toEqual({
      group: 'org.apache.iceberg',
      artifact: 'iceberg-spark-runtime-4.1_2.13',
      version: '1.11.0',
    });
  });

  it("resolves a job's JDBC secrets from its team, and names a secret the team does not have", () => {
    const spec = coreEtlJob('4.0', {
      sources: [{ type: 'jdbc', url: 'jdbc:postgresql://h/db', table: 'public.t', secret: 'crm-db' }],
      sinks: [{ type: 'console' }],
    });
    const secrets = { 'data-infra': { 'crm-db': { user: 'u', password: 'p' } } };
    expect(secretsEnv('data-infra', spec, secrets, secretEnvPrefix)).toEqual({
      env: { CORE_ETL_SECRET_CRM_DB_USER: 'u', CORE_ETL_SECRET_CRM_DB_PASSWORD: 'p' },
    });
    expect(secretsEnv('other-team', spec, secrets, secretEnvPrefix)).toEqual({
      field: 'application.jobSpec.sources.0.secret',
      message: 'team "other-team" has no secret "crm-db" (CORE_ETL_SECRETS_FILE)',
    });
  });
});

describe('the builtin runtime on Kubernetes', () => {
  it('answers 422 with K8S_CORE_ETL_RUNTIME=builtin: the stock image has neither the runtime nor Iceberg', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'core-etl-k8s-'));
    const kubeconfig = path.join(dir, 'kubeconfig');
    fs.writeFileSync(
      kubeconfig,
      YAML.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:9' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'c',
      }),
    );
    fs.writeFileSync(
      path.join(dir, 'clusters.yaml'),
      YAML.stringify({ clusters: [{ name: 'east', region: 'r', capacity: 1, kubeconfig }] }),
    );
    const gateway = async (runtime: string) =>
      (
        await composeGateway({
          role: 'api',
          config: loadConfig({ GATEWAY_CONFIG: path.join(dir, 'clusters.yaml'), K8S_CORE_ETL_RUNTIME: runtime }),
          logger: pino({ level: 'silent' }),
        })
      ).gateway!;
    const job = coreEtlJob('3.5');
    const builtin = await gateway('builtin');
    const refusal = (() => {
      try {
        builtin.assertPlaceable(job);
      } catch (err) {
        return err;
      }
    })();
    expect(refusal).toBeInstanceOf(BackendRejection);
    expect(refusal).toMatchObject({
      field: 'application',
      message: expect.stringMatching(/^the builtin CoreETL runtime does not run on Kubernetes/) as unknown,
    });
    // A Python job is not affected, and the jar runtime takes the CoreETL job.
    const python = JobSpec.parse({
      name: 'py',
      engineVersion: '3.5',
      application: { type: 'python', file: 's3://b/x.py' },
    });
    expect(() => builtin.assertPlaceable(python)).not.toThrow();
    const jar = await gateway('jar');
    expect(() => jar.assertPlaceable(job)).not.toThrow();
  });
});
