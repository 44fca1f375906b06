/** `spark-runner schedules list|get|pause|unpause|trigger|backfill`: the Temporal Schedules of manifest jobs. */
import { InvalidArgumentError, type Command } from 'commander';
import { formatTime, json, keyValues, table } from '../format.js';
import { outputOption, type OutputFormat, type Runtime } from './shared.js';

interface ScheduleSummary {
  scheduleId: string;
  jobPath: string;
  paused: boolean;
  nextRunTimes: string[];
}
interface ScheduleView extends ScheduleSummary {
  schedule?: { cron?: string; everyMs?: number; timezone: string; overlap: string };
  note?: string;
  recentRuns: { scheduledAt: string; workflowId: string; executionId?: string; state?: string }[];
  numActionsTaken: number;
  numActionsSkippedOverlap: number;
}

const path = (id: string, suffix = '') => `/api/v1/schedules/${encodeURIComponent(id)}${suffix}`;

function isoTime(value: string): string {
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) throw new InvalidArgumentError('expected a time like 2026-01-31T00:00:00Z');
  return d.toISOString();
}

function renderView(v: ScheduleView): string {
  const spec = v.schedule?.cron ?? (v.schedule?.everyMs ? `@every ${v.schedule.everyMs / 1000}s` : undefined);
  const head = keyValues([
    ['Schedule', v.scheduleId],
    ['Job', v.jobPath],
    ['Spec', spec && `${spec} (${v.schedule!.timezone}, overlap ${v.schedule!.overlap})`],
    ['State', v.paused ? 'paused' : 'active'],
    ['Note', v.note],
    ['Next runs', v.nextRunTimes.slice(0, 3).map(formatTime).join(', ')],
    ['Runs', `${v.numActionsTaken} started, ${v.numActionsSkippedOverlap} skipped (overlap)`],
  ]);
  const runs = v.recentRuns.length
    ? '\n' +
      table(
        ['SCHEDULED', 'EXECUTION', 'STATE'],
        v.recentRuns.map((r) => [formatTime(r.scheduledAt), r.executionId ?? r.workflowId, r.state ?? '']),
      )
    : '';
  return head + runs;
}

export function registerSchedules(program: Command, rt: Runtime): void {
  const schedules = program.command('schedules').description('list and operate the schedules of manifest jobs');
  const out = (format: OutputFormat, value: unknown, text: () => string) =>
    rt.ctx.stdout.write(format === 'json' ? json(value) : text());

  schedules
    .command('list')
    .description('schedules of your team (all teams with an admin token)')
    .addOption(outputOption())
    .action(async (opts: { output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<{ items: ScheduleSummary[] }>('GET', '/api/v1/schedules');
      out(opts.output, res, () =>
        table(
          ['SCHEDULE', 'JOB', 'STATE', 'NEXT RUN'],
          res.items.map((s) => [
            s.scheduleId,
            s.jobPath,
            s.paused ? 'paused' : 'active',
            formatTime(s.nextRunTimes[0]),
          ]),
        ),
      );
    });

  schedules
    .command('get')
    .description('one schedule: its spec, next run times and recent runs')
    .argument('<id>', 'schedule id (sched-<team>.<job>)')
    .addOption(outputOption())
    .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<ScheduleView>('GET', path(id));
      out(opts.output, res, () => renderView(res));
    });

  for (const verb of ['pause', 'unpause'] as const) {
    schedules
      .command(verb)
      .description(verb === 'pause' ? 'stop starting new runs (running ones go on)' : 'resume starting runs')
      .argument('<id>', 'schedule id')
      .option('--note <text>', 'why, shown with the schedule')
      .addOption(outputOption())
      .action(async (id: string, opts: { note?: string; output: OutputFormat }, cmd: Command) => {
        const res = await rt.api(cmd).json<ScheduleView>('POST', path(id, `/${verb}`), { body: { note: opts.note } });
        out(opts.output, res, () => renderView(res));
      });
  }

  schedules
    .command('trigger')
    .description("start a run now, under the schedule's overlap policy")
    .argument('<id>', 'schedule id')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await rt.api(cmd).json('POST', path(id, '/trigger'), { body: {} });
      rt.ctx.stdout.write(`triggered ${id}\n`);
    });

  schedules
    .command('backfill')
    .description('run every time the schedule would have fired in [--start, --end), one after another')
    .argument('<id>', 'schedule id')
    .requiredOption('--start <time>', 'start of the range (ISO 8601)', isoTime)
    .requiredOption('--end <time>', 'end of the range (ISO 8601)', isoTime)
    .action(async (id: string, opts: { start: string; end: string }, cmd: Command) => {
      await rt.api(cmd).json('POST', path(id, '/backfill'), { body: { start: opts.start, end: opts.end } });
      rt.ctx.stdout.write(`backfill of ${id} from ${opts.start} to ${opts.end} requested\n`);
    });
}
