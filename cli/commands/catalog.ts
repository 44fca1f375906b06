/**
 * `spark-runner catalog seed --example`: loads the sample table the reference's example manifest reads,
 * `<catalog>.raw.events` (100 generated rows, 40 of them `order`), by submitting a CoreETL job to the local backend
 * and following it to its end. The rows are generated deterministically and merged on `event_id`, and the merge
 * writes only rows that differ, so seeding again changes nothing (no rows written, no new snapshot).
 */
import type { Command } from 'commander';
import type { EventList, SubmitAccepted } from '../../api/wire.js';
import { REFERENCE_CORE_ETL } from '../../schema/core-etl.js';
import { CliError } from '../errors.js';
import { DEFAULT_ENGINE_VERSION } from '../job-input.js';
import { outputOption, type OutputFormat, type Runtime } from './shared.js';
import { followToEnd } from './submit-wait.js';

/** The generated rows: ids 1..100; ids ≡ 0 or 1 (mod 5) are orders (40), the rest views, clicks and carts. */
export const EXAMPLE_EVENTS_SQL = `SELECT id AS event_id,
  CASE id % 5 WHEN 0 THEN 'order' WHEN 1 THEN 'order' WHEN 2 THEN 'view' WHEN 3 THEN 'click' ELSE 'cart' END AS event_type,
  concat('user-', CAST(id % 7 AS STRING)) AS user_id,
  round(id * 1.25, 2) AS amount,
  timestamp_seconds(1767225600 + id * 60) AS event_time
FROM range(1, 101) AS r(id)`;

/** The seeding job for `catalog`: no sources, the generated rows merged into raw.events. */
export function exampleSeedJob(team: string, catalog: string, engineVersion: string) {
  return {
    team,
    name: 'catalog-seed-example',
    engineVersion,
    backend: 'local',
    application: {
      type: 'coreEtl',
      jarPath: REFERENCE_CORE_ETL.jarTemplate.replace('{version}', '2.7.0'),
      mainClass: REFERENCE_CORE_ETL.mainClass,
      jobSpec: {
        transformations: [{ type: 'sql', query: EXAMPLE_EVENTS_SQL }],
        sinks: [{ type: 'iceberg', catalog, database: 'raw', table: 'events', mode: 'merge', keys: ['event_id'] }],
      },
    },
    resources: { driver: { memory: '1g' } },
    retryPolicy: { maxAttempts: 1 },
  };
}

interface SeedOptions {
  example?: boolean;
  team: string;
  catalog: string;
  engine: string;
  output: OutputFormat;
}

export function registerCatalog(program: Command, rt: Runtime): void {
  const catalog = program.command('catalog').description("the local backend's Iceberg catalog");
  catalog
    .command('seed')
    .description('load sample data into the local Iceberg catalog (a CoreETL job on the local backend)')
    .option('--example', "the reference manifest's input: raw.events, 100 rows, 40 of them order")
    .option('--team <team>', 'team the seeding job runs as', 'data-infra')
    .option('--catalog <name>', "the catalog to seed (the server's ICEBERG_CATALOG)", 'pedregal')
    .option('--engine <version>', 'Spark version of the seeding job', DEFAULT_ENGINE_VERSION)
    .addOption(outputOption())
    .action(async (opts: SeedOptions, cmd: Command) => {
      if (!opts.example) throw new CliError('nothing to seed', 'give --example (the only sample data set)');
      const api = rt.api(cmd);
      const body = exampleSeedJob(opts.team, opts.catalog, opts.engine);
      const res = await api.json<SubmitAccepted>('POST', '/api/v1/jobs', { body });
      if (opts.output === 'table') rt.ctx.stdout.write(`seeding ${opts.catalog}.raw.events as ${res.execution_id}\n`);
      const code = await followToEnd(api, res.execution_id, opts.output, rt.ctx);
      rt.exit(code);
      if (code !== 0 || opts.output === 'json') return;
      const events = await api.json<EventList>('GET', `/api/v1/executions/${res.execution_id}/events`);
      const summary = events.items.find((e) => e.event_type === 'METRICS_SUMMARY')?.payload.core_etl as
        { sinks?: { name: string; rowsWritten: number; created?: boolean }[] } | undefined;
      const sink = summary?.sinks?.[0];
      if (!sink) return;
      rt.ctx.stdout.write(
        sink.rowsWritten === 0
          ? `${sink.name} already holds the sample rows: nothing changed\n`
          : `${sink.name}: ${sink.rowsWritten} row(s) written${sink.created ? ' (table created)' : ''}\n`,
      );
    });
}
