/**
 * `spark-runner stop|resume|resize <continuous-id>`: control a streaming job's continuous loop (resize: DCR). stop ends the current run
 * (no process left) and leaves the loop idle in STOPPED; resume starts a run again, on the same checkpoint.
 */
import type { Command } from 'commander';
import type { StreamingJob } from '../../api/wire.js';
import { CliError } from '../errors.js';
import { json } from '../format.js';
import { jobPath, outputOption, type OutputFormat, type Runtime } from './shared.js';

/** `continuous-<team>.<name>`: team and name are DNS labels, so neither holds a dot. */
const CONTINUOUS_ID = /^continuous-[a-z0-9-]+\.[a-z0-9-]+$/;

/** One line: `<id>: <status> (spec v<n>, run <execution id>, <n> restart(s))`. */
export function streamingLine(job: StreamingJob): string {
  const state = job.degraded && job.status !== 'DEGRADED' ? `${job.status}, degraded` : job.status;
  return (
    `${job.job_id}: ${state} (spec v${job.spec_version}, ` +
    `run ${job.current_execution_id ?? 'none'}, ${job.restart_count} restart(s))\n`
  );
}

export function registerStreaming(program: Command, rt: Runtime): void {
  const actions = {
    stop: "stop a streaming job: its current run ends and the loop idles in STOPPED until 'resume'",
    resume: 'resume a STOPPED (or DEGRADED) streaming job: a new run starts from its checkpoint',
  };
  for (const [action, description] of Object.entries(actions)) {
    program
      .command(action)
      .description(description)
      .argument('<id>', 'streaming job id, continuous-<team>.<name>')
      .addOption(outputOption())
      .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
        if (!CONTINUOUS_ID.test(id)) {
          throw new CliError(
            `"${id}" is not a streaming job id`,
            'streaming jobs are named continuous-<team>.<name> (spark-runner jobs get <team>/<name> shows it)' +
              (action === 'stop' ? '; to stop a batch execution use spark-runner cancel' : ''),
          );
        }
        const job = await rt.api(cmd).json<StreamingJob>('POST', jobPath(id, `/${action}`));
        rt.ctx.stdout.write(opts.output === 'json' ? json(job) : streamingLine(job));
      });
  }

  program
    .command('resize')
    .description('DCR: give a streaming job new resources; it restarts once from its checkpoint with them')
    .argument('<id>', 'streaming job id, continuous-<team>.<name>')
    .option('--driver-memory <size>', 'e.g. 2g')
    .option('--driver-cores <n>', 'driver cores', Number)
    .option('--executor-memory <size>', 'e.g. 4g')
    .option('--executor-cores <n>', 'cores per executor', Number)
    .option('--executors <n>', 'executor count', Number)
    .addOption(outputOption())
    .action(
      async (
        id: string,
        opts: {
          driverMemory?: string;
          driverCores?: number;
          executorMemory?: string;
          executorCores?: number;
          executors?: number;
          output: OutputFormat;
        },
        cmd: Command,
      ) => {
        if (!CONTINUOUS_ID.test(id)) {
          throw new CliError(`"${id}" is not a streaming job id`, 'streaming jobs are named continuous-<team>.<name>');
        }
        const pick = (o: Record<string, unknown>) =>
          Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
        const driver = pick({ memory: opts.driverMemory, cores: opts.driverCores });
        const executor = pick({ memory: opts.executorMemory, cores: opts.executorCores, instances: opts.executors });
        const body = {
          ...(Object.keys(driver).length ? { driver } : {}),
          ...(Object.keys(executor).length ? { executor } : {}),
        };
        if (!Object.keys(body).length) {
          throw new CliError(
            'nothing to resize',
            'give at least one of --driver-memory, --driver-cores, --executor-memory, --executor-cores, --executors',
          );
        }
        const job = await rt.api(cmd).json<StreamingJob>('PATCH', jobPath(id, '/resources'), { body });
        rt.ctx.stdout.write(opts.output === 'json' ? json(job) : streamingLine(job));
      },
    );
}
