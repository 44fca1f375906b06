/** `spark-runner logs <id> [-f] [--tail N]`: the driver log, or a live stream of it until the execution ends. */
import type { Command } from 'commander';
import type { Execution } from '../../api/wire.js';
import { writeAll } from '../context.js';
import { jobPath, positiveInt, type Runtime } from './shared.js';

export function registerLogs(program: Command, rt: Runtime): void {
  program
    .command('logs')
    .description("print an execution's driver log; with -f, stream it until the execution ends")
    .argument('<id>', 'execution id')
    .option('-f, --follow', 'keep streaming new lines until the execution ends (across retried attempts)')
    .option('--tail <n>', 'only the last n lines (with -f: the last n so far, then the rest)', positiveInt)
    .option(
      '--attempt <n>',
      'that attempt (default: the current one); its log is archived once it has ended',
      positiveInt,
    )
    .action(async (id: string, opts: { follow?: boolean; tail?: number; attempt?: number }, cmd: Command) => {
      const api = rt.api(cmd);
      const { stdout, stderr } = rt.ctx;
      if (!opts.follow) {
        const text = await api.text(jobPath(id, '/logs'), { tail: opts.tail, attempt: opts.attempt });
        await writeAll(stdout, text && !text.endsWith('\n') ? `${text}\n` : text);
        return;
      }
      let last = '';
      await api.stream(jobPath(id, '/logs'), { follow: true, tail: opts.tail, attempt: opts.attempt }, async (text) => {
        last = text;
        await writeAll(stdout, text);
      });
      if (last && !last.endsWith('\n')) stdout.write('\n');
      const job = await api.json<Execution>('GET', jobPath(id));
      stderr.write(`-- end of the log: ${job.execution_id} is ${job.status}\n`);
    });
}
