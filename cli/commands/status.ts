/** `spark-runner status <id>`: one execution's state, times, placement and error. */
import type { Command } from 'commander';
import type { JobStatus } from '../api-types.js';
import { elapsed, formatTime, json, keyValues } from '../format.js';
import { jobPath, outputOption, type OutputFormat, type Runtime } from './shared.js';

/** The key/value block `status` prints (also used after `submit --wait`). */
export function statusBlock(job: JobStatus): string {
  return keyValues([
    ['execution', job.execution_id],
    ['job', job.job_path],
    ['team', job.team],
    ['state', job.status],
    ['attempts', String(job.attempts)],
    ['backend', job.cluster && job.cluster !== job.backend ? `${job.backend} (cluster ${job.cluster})` : job.backend],
    ['submitted', formatTime(job.submit_time)],
    ['started', formatTime(job.start_time)],
    ['ended', formatTime(job.end_time)],
    ['duration', elapsed(job.start_time, job.end_time)],
    ['spark ui', job.spark_ui_url],
    ['error', job.error ? `${job.error.class}: ${job.error.message ?? ''}` : undefined],
    ['logs', `spark-runner logs ${job.execution_id}`],
  ]);
}

export function registerStatus(program: Command, rt: Runtime): void {
  program
    .command('status')
    .description("show an execution's state, attempts, times, backend, Spark UI and error")
    .argument('<id>', 'execution id (as printed by submit)')
    .addOption(outputOption())
    .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
      const job = await rt.api(cmd).json<JobStatus>('GET', jobPath(id));
      rt.ctx.stdout.write(opts.output === 'json' ? json(job) : statusBlock(job));
    });
}
