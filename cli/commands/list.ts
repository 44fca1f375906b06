/** `spark-runner list`: executions, newest first, filtered and paged like GET /api/v1/executions. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { BACKENDS, EXECUTION_STATES, TRIGGERS } from '../../schema/states.js';
import type { ExecutionPage } from '../../api/wire.js';
import { CliError } from '../errors.js';
import { elapsed, formatTime, json, table } from '../format.js';
import { outputOption, positiveInt, type OutputFormat, type Runtime } from './shared.js';

interface ListOptions {
  team?: string;
  job?: string;
  state?: string;
  trigger?: string;
  backend?: string;
  since?: string;
  until?: string;
  limit?: number;
  cursor?: string;
  output: OutputFormat;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** An ISO timestamp as given, or a relative age (`30m`, `6h`, `7d`) as the ISO time that long ago. */
export function parseSince(value: string, flag: string, now = Date.now()): string {
  const rel = /^(\d+)([mhd])$/.exec(value);
  if (rel) return new Date(now - Number(rel[1]) * UNIT_MS[rel[2] as keyof typeof UNIT_MS]).toISOString();
  if (Number.isNaN(Date.parse(value))) {
    throw new CliError(
      `${flag} "${value}" is neither an ISO time nor an age`,
      `e.g. ${flag} 2026-01-31T00:00:00Z or ${flag} 6h`,
    );
  }
  return value;
}

function state(value: string): string {
  const upper = value.toUpperCase();
  if (!(EXECUTION_STATES as readonly string[]).includes(upper)) {
    throw new InvalidArgumentError(`expected one of ${EXECUTION_STATES.join(', ')}`);
  }
  return upper;
}

export function registerList(program: Command, rt: Runtime): void {
  program
    .command('list')
    .description('list executions, newest first (members see only their own team)')
    .option('--team <team>', 'only this team (admins; a member always sees its own team)')
    .option('--job <path>', 'only this job, as <team>/<name>')
    .addOption(
      new Option('--state <state>', `only executions in this state: ${EXECUTION_STATES.join(', ')}`).argParser(state),
    )
    .addOption(new Option('--trigger <trigger>', 'only executions started this way').choices(TRIGGERS))
    .addOption(new Option('--backend <backend>', 'only executions placed on this backend').choices(BACKENDS))
    .option('--since <time>', 'submitted at or after: ISO time, or an age like 30m, 6h, 7d')
    .option('--until <time>', 'submitted at or before: ISO time, or an age like 30m, 6h, 7d')
    .option('--limit <n>', 'at most n executions (the API allows 1-500; default 50)', positiveInt)
    .option('--cursor <cursor>', 'the next page, as printed after a full page')
    .addOption(outputOption())
    .action(async (opts: ListOptions, cmd: Command) => {
      const page = await rt.api(cmd).json<ExecutionPage>('GET', '/api/v1/executions', {
        query: {
          team: opts.team,
          job: opts.job,
          state: opts.state,
          trigger: opts.trigger,
          backend: opts.backend,
          since: opts.since && parseSince(opts.since, '--since'),
          until: opts.until && parseSince(opts.until, '--until'),
          limit: opts.limit,
          cursor: opts.cursor,
        },
      });
      const { stdout } = rt.ctx;
      if (opts.output === 'json') return void stdout.write(json(page));
      if (page.items.length === 0) return void stdout.write('no executions match\n');
      const rows = page.items.map((j) => [
        j.execution_id,
        j.job_path,
        j.status,
        String(j.attempts),
        j.backend ?? '',
        formatTime(j.submit_time),
        elapsed(j.start_time, j.end_time),
      ]);
      stdout.write(table(['EXECUTION', 'JOB', 'STATE', 'ATTEMPT', 'BACKEND', 'SUBMITTED', 'DURATION'], rows));
      if (page.next_cursor) stdout.write(`more: repeat with --cursor ${page.next_cursor}\n`);
    });
}
