/** `spark-runner events <id>`: the execution's append-only history (SUBMIT, RUNNING, RETRY, TERMINAL, ...). */
import type { Command } from 'commander';
import type { EventList } from '../../api/wire.js';
import { formatTime, json, table, truncate } from '../format.js';
import { outputOption, type OutputFormat, type Runtime } from './shared.js';

export function registerEvents(program: Command, rt: Runtime): void {
  program
    .command('events')
    .description("list an execution's state-change events, oldest first")
    .argument('<id>', 'execution id')
    .addOption(outputOption())
    .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<EventList>('GET', `/api/v1/executions/${encodeURIComponent(id)}/events`);
      if (opts.output === 'json') return void rt.ctx.stdout.write(json(res));
      if (res.items.length === 0) return void rt.ctx.stdout.write('no events yet\n');
      const rows = res.items.map((e) => [
        formatTime(e.timestamp),
        String(e.attempt),
        e.event_type,
        truncate(details(e.payload), 100),
      ]);
      rt.ctx.stdout.write(table(['TIME', 'ATTEMPT', 'EVENT', 'DETAILS'], rows));
    });
}

/** A payload as `key=value` pairs on one line. */
function details(payload: unknown): string {
  if (!payload || typeof payload !== 'object')
    return payload === undefined || payload === null ? '' : JSON.stringify(payload);
  return Object.entries(payload)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
