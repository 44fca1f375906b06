/**
 * The CoreETL job spec (`application.jobSpec` of a `coreEtl` job): sources, then transformations in order, then
 * sinks. Validated here at submit, with field paths in the errors, and again by the runtime Spark Runner ships
 * (coreetl/runtime.py) against `coreetl/job-spec.schema.json`, which is generated from this schema
 * (`coreEtlJsonSchema`; a unit test fails when the committed file differs), so the two cannot drift.
 *
 * Views: each source is registered as a temporary view under its `alias` (default `source`); each transformation
 * sees the previous step's output as the view `previous` (for the first one: the first source), and may register
 * its own output under an `alias`. The last transformation's output (or the first source, with none) is what the
 * sinks write.
 */
import { z } from 'zod';

/** The reference's CoreETL driver jar and main class; under the builtin runtime they are kept but not used. */
export const REFERENCE_CORE_ETL = {
  jarTemplate: 's3://core-etl-build-artifacts/jars/{version}/core-etl-driver-bundle.jar',
  mainClass: 'com.doordash.coreetl.spark.Main',
} as const;

/** A SQL identifier: catalog, database, table, view and column names the runtime puts into SQL text. */
const identifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an identifier: letters, digits and "_", not starting with a digit');
const alias = identifier.optional().describe('the view this is registered as');
const text = z.string().min(1);
const readerOptions = z.record(z.string().min(1), z.string()).default({}).describe('DataFrameReader options');

const IcebergTable = { catalog: identifier, database: identifier, table: identifier };

const IcebergSource = z
  .object({
    type: z.literal('iceberg'),
    ...IcebergTable,
    alias,
    /** Time travel to this snapshot; a string, since snapshot ids exceed JSON's safe integers. */
    snapshotId: z
      .string()
      .regex(/^[1-9][0-9]*$/, 'must be a snapshot id, as a string of digits')
      .optional(),
    /** Time travel to the table as of this time. */
    asOf: z.iso.datetime({ offset: true }).optional(),
  })
  .strict()
  .refine((s) => s.snapshotId === undefined || s.asOf === undefined, {
    message: 'give either snapshotId or asOf, not both',
    path: ['asOf'],
  });

const fileSource = <T extends 'parquet' | 'csv' | 'json'>(type: T) =>
  z.object({ type: z.literal(type), path: text, alias, options: readerOptions }).strict();

const JdbcSource = z
  .object({
    type: z.literal('jdbc'),
    url: z.string().regex(/^jdbc:postgresql:\/\/\S+$/, 'must be a Postgres JDBC URL: jdbc:postgresql://host:port/db'),
    /** A table (`schema.table`) to read whole, or `query`. */
    table: text.optional(),
    query: text.optional(),
    /** The name of one of the team's secrets holding `user` and `password`; resolved by the worker, never here. */
    secret: z.string().regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be a secret name (a lowercase DNS label)'),
    alias,
    options: readerOptions,
  })
  .strict()
  .refine((s) => (s.table === undefined) !== (s.query === undefined), {
    message: 'give exactly one of table or query',
    path: ['table'],
  });

export const CoreEtlSource = z.discriminatedUnion('type', [
  IcebergSource,
  fileSource('parquet'),
  fileSource('csv'),
  fileSource('json'),
  JdbcSource,
]);

export const CoreEtlTransformation = z.discriminatedUnion('type', [
  z.object({ type: z.literal('sql'), query: text, alias }).strict(),
  z.object({ type: z.literal('filter'), condition: text, alias }).strict(),
  z.object({ type: z.literal('select'), columns: z.array(text).min(1), alias }).strict(),
]);

export const CoreEtlSink = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('iceberg'),
      ...IcebergTable,
      /** `append` and `merge` create a missing table from the query's schema; `overwrite` replaces every row. */
      mode: z.enum(['append', 'overwrite', 'merge']).default('append'),
      /** Columns a `merge` matches rows on: matched rows are updated, others inserted. */
      keys: z.array(identifier).min(1).optional(),
    })
    .strict()
    .refine((s) => (s.mode === 'merge') === (s.keys !== undefined), {
      message: 'keys are required with mode "merge", and only then',
      path: ['keys'],
    }),
  z
    .object({
      type: z.literal('parquet'),
      path: text,
      mode: z.enum(['append', 'overwrite']).default('append'),
      partitionBy: z.array(identifier).default([]),
    })
    .strict(),
  z
    .object({ type: z.literal('console'), rows: z.number().int().min(1).max(1000).default(20) })
    .strict()
    .describe('prints rows to the driver log, for dry runs'),
]);

export const CoreEtlJobSpec = z
  .object({
    sources: z.array(CoreEtlSource).default([]),
    transformations: z.array(CoreEtlTransformation).default([]),
    sinks: z.array(CoreEtlSink).min(1, 'a job needs at least one sink'),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.sources.length === 0 && spec.transformations[0]?.type !== 'sql') {
      ctx.addIssue({
        code: 'custom',
        path: spec.transformations.length === 0 ? ['sources'] : ['transformations', 0, 'type'],
        message: 'with no sources, the first transformation must be sql (it has nothing else to read)',
      });
    }
    // Every view name is registered once; `previous` is the runtime's own.
    const seen = new Map<string, string>();
    const claim = (name: string | undefined, path: (string | number)[]) => {
      if (name === undefined) return;
      const where = path.slice(0, 2).join('.');
      const first = name === 'previous' ? 'the runtime (the previous step)' : seen.get(name);
      if (first) ctx.addIssue({ code: 'custom', path, message: `view "${name}" is already registered by ${first}` });
      else seen.set(name, where);
    };
    spec.sources.forEach((s, i) => claim(s.alias ?? 'source', ['sources', i, 'alias']));
    spec.transformations.forEach((t, i) => claim(t.alias, ['transformations', i, 'alias']));
  });

export type CoreEtlJobSpec = z.output<typeof CoreEtlJobSpec>;

/** The JSON Schema the runtime validates a job spec against; `coreetl/job-spec.schema.json` holds its output. */
export function coreEtlJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(CoreEtlJobSpec, { io: 'output', unrepresentable: 'throw' }),
    title: 'CoreETL job spec (generated from schema/core-etl.ts; do not edit)',
  };
}
