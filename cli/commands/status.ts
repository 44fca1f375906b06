/** `spark-runner status <id>`: one execution's state, times, placement and error. */
import type { Command } from 'commander';
import type { Execution, StreamingJob } from '../../api/wire.js';
import { elapsed, formatBytes, formatDuration, formatTime, json, keyValues } from '../format.js';
import { jobPath, outputOption, type OutputFormat, type Runtime } from './shared.js';

/** The key/value block `status` prints (also used after `submit --wait`). */
export function statusBlock(job: Execution): string {
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
    ...metricsLines(job.metrics),
    ['logs', `spark-runner logs ${job.execution_id}`],
  ]);
}

/** The Spark metrics of the last ended attempt, as read from its History Server (METRICS_SUMMARY's `spark`). */
function metricsLines(m: Execution['metrics']): [string, string][] {
  if (!m) return [];
  const records = (bytes: number, count: number) => `${formatBytes(bytes)} (${count} records)`;
  return [
    ['spark app', `${m.app_id} (attempt ${m.attempt}, ${formatDuration(m.duration_ms)})`],
    [
      'tasks',
      `${m.task_count} in ${m.stage_count} stages (${m.failed_task_count} failed, ${m.killed_task_count} killed)`,
    ],
    [
      'executors',
      `${m.executor_count}, ${formatBytes(m.total_executor_memory_bytes)} Spark memory (peak used ` +
        `${formatBytes(m.peak_executor_memory_bytes)}; peak JVM heap ${formatBytes(m.peak_jvm_heap_bytes)})`,
    ],
    [
      'task time',
      `${formatDuration(m.executor_run_time_ms)} run, ${formatDuration(m.executor_cpu_time_ms)} CPU, ${m.gc_time_ms} ms GC`,
    ],
    [
      'shuffle',
      `read ${records(m.shuffle_read_bytes, m.shuffle_read_records)}, written ${records(m.shuffle_write_bytes, m.shuffle_write_records)}`,
    ],
    ['spill', `${formatBytes(m.memory_spill_bytes)} in memory, ${formatBytes(m.disk_spill_bytes)} on disk`],
    ['input', records(m.input_bytes, m.input_records)],
    ['output', records(m.output_bytes, m.output_records)],
  ];
}

function isStreaming(job: Execution | StreamingJob): job is StreamingJob {
  return (job as StreamingJob).job_type === 'streaming';
}

/** The key/value block for a streaming job's continuous loop. */
function streamingBlock(job: StreamingJob): string {
  const failure = job.last_failure;
  return keyValues([
    ['streaming job', job.job_path],
    ['state', job.degraded ? `${job.status} (degraded: restarts stopped until a spec change or resume)` : job.status],
    ['spec version', String(job.spec_version)],
    ['current run', job.current_execution_id ?? undefined],
    ['restarts', String(job.restart_count)],
    ['next restart', formatTime(job.next_restart_at)],
    [
      'last failure',
      failure ? `${failure.failureClass ?? ''}: ${failure.message ?? ''} (${failure.executionId ?? ''})` : undefined,
    ],
  ]);
}

export function registerStatus(program: Command, rt: Runtime): void {
  program
    .command('status')
    .description("show an execution's state, attempts, times, backend, Spark UI and error")
    .argument('<id>', 'execution id (as printed by submit), or continuous-<team>.<name> for a streaming job')
    .addOption(outputOption())
    .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
      const job = await rt.api(cmd).json<Execution | StreamingJob>('GET', jobPath(id));
      rt.ctx.stdout.write(
        opts.output === 'json' ? json(job) : isStreaming(job) ? streamingBlock(job) : statusBlock(job),
      );
    });
}
