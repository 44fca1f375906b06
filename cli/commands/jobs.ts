/**
 * `spark-runner jobs list|get|recommend`: the jobs the API knows (applied from manifests, or recorded by a submit), each with
 * its type, schedule, last execution and next scheduled run (GET /api/v1/manifests/jobs[/{team}/{name}]).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { ManifestJob, ManifestJobList, Recommendation } from '../../api/wire.js';

type ManifestJobSchedule = NonNullable<ManifestJob['schedule']>;
import { formatDuration, formatTime, json, keyValues, table } from '../format.js';
import { continuousId, outputOption, type OutputFormat, type Runtime } from './shared.js';

/** A commander parser for a `team/name` job path. */
function jobPathArg(value: string): string {
  if (!/^[^/\s]+\/[^/\s]+$/.test(value)) throw new InvalidArgumentError('expected a job path like data-infra/etl');
  return value;
}

/** The schedule's timing as written: the cron, or `@every 30s` for an interval. */
function scheduleSpec(s: ManifestJobSchedule): string {
  const c = s.config;
  const spec = c?.cron ?? (c?.everyMs ? `@every ${formatDuration(c.everyMs)}` : s.scheduleId);
  return s.paused ? `${spec} (paused)` : spec;
}

const memory = (mb: number) => (mb % 1024 === 0 ? `${mb / 1024}g` : `${mb}m`);

function application(spec: ManifestJob['spec']): string {
  const app = spec.application;
  switch (app.type) {
    case 'python':
      return `python ${app.file}${app.pyFiles.length ? ` (py-files ${app.pyFiles.join(', ')})` : ''}`;
    case 'jvm':
      return `jvm ${app.mainClass} in ${app.jar}`;
    case 'coreEtl':
      return `coreEtl ${app.mainClass} in ${app.jarPath}`;
  }
}

function resources(spec: ManifestJob['spec']): string {
  const { driver, executor, dynamicAllocation: dyn } = spec.resources;
  const executors = dyn?.enabled ? `${dyn.minExecutors}-${dyn.maxExecutors} (dynamic)` : `${executor.instances} x`;
  return (
    `driver ${driver.cores} core(s) ${memory(driver.memoryMb)}; ` +
    `executors ${executors} ${executor.cores} core(s) ${memory(executor.memoryMb)}`
  );
}

function renderJob(v: ManifestJob): string {
  const s = v.schedule;
  const c = s?.config;
  const last = v.lastExecution;
  return keyValues([
    ['Job', v.jobPath],
    ['Type', v.jobType],
    ['Owner', v.owner],
    ['Engine', `Spark ${v.spec.engineVersion}`],
    ['Application', application(v.spec)],
    ['Args', v.spec.args.length ? v.spec.args.join(' ') : undefined],
    ['Resources', resources(v.spec)],
    ['Backend', v.spec.backend],
    ['Attempts', `up to ${v.spec.retryPolicy.maxAttempts}, backoff ${v.spec.retryPolicy.backoffSeconds}s`],
    ['Timeout', v.spec.timeoutSeconds ? formatDuration(v.spec.timeoutSeconds * 1000) : undefined],
    [
      'Schedule',
      s ? `${scheduleSpec(s)}${c ? ` (${c.timezone}, overlap ${c.overlap})` : ''}, ${s.scheduleId}` : 'none',
    ],
    ['Next run', s ? formatTime(s.nextRunTime) || '-' : undefined],
    [
      'Streaming id',
      v.jobType === 'streaming' ? `${continuousId(v.jobPath)} (spark-runner status ${continuousId(v.jobPath)})` : '',
    ],
    [
      'Last execution',
      last
        ? `${last.executionId} ${last.state} (${last.trigger}, created ${formatTime(last.createdAt)}` +
          `${last.endTime ? `, ended ${formatTime(last.endTime)}` : ''})`
        : 'none',
    ],
  ]);
}

export function registerJobs(program: Command, rt: Runtime): void {
  const jobs = program.command('jobs').description('jobs applied from manifests or submitted, with their schedules');
  const out = (format: OutputFormat, value: unknown, text: () => string) =>
    rt.ctx.stdout.write(format === 'json' ? json(value) : text());

  jobs
    .command('list')
    .description("your team's jobs (all teams with an admin token): type, schedule, last execution, next run")
    .addOption(outputOption())
    .action(async (opts: { output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<ManifestJobList>('GET', '/api/v1/manifests/jobs');
      out(opts.output, res, () =>
        table(
          ['JOB', 'TYPE', 'SCHEDULE', 'LAST EXECUTION', 'NEXT RUN'],
          res.items.map((j) => [
            j.jobPath,
            j.jobType,
            j.schedule ? scheduleSpec(j.schedule) : '-',
            j.lastExecution ? `${j.lastExecution.executionId} ${j.lastExecution.state}` : '-',
            formatTime(j.schedule?.nextRunTime) || '-',
          ]),
        ),
      );
    });

  jobs
    .command('get')
    .description('one job: its spec, schedule, next run and last execution')
    .argument('<job>', 'job path, <team>/<name>', jobPathArg)
    .addOption(outputOption())
    .action(async (job: string, opts: { output: OutputFormat }, cmd: Command) => {
      const [team, name] = job.split('/') as [string, string];
      const res = await rt
        .api(cmd)
        .json<ManifestJob>('GET', `/api/v1/manifests/jobs/${encodeURIComponent(team)}/${encodeURIComponent(name)}`);
      out(opts.output, res, () => renderJob(res));
    });

  jobs
    .command('recommend')
    .description(
      "APS's sizing for the job's next run, from its recent executions: each field, its reason, a confidence",
    )
    .argument('<job>', 'job path, <team>/<name>', jobPathArg)
    .addOption(outputOption())
    .action(async (job: string, opts: { output: OutputFormat }, cmd: Command) => {
      const [team, name] = job.split('/') as [string, string];
      const res = await rt
        .api(cmd)
        .json<Recommendation>('GET', `/api/v1/jobs/${encodeURIComponent(`${team}.${name}`)}/recommendation`);
      out(opts.output, res, () => renderRecommendation(res));
    });
}

/** One line per field: requested → recommended, and why. */
function renderRecommendation(r: Recommendation): string {
  const row = (
    name: string,
    a: { value: number; requested: number; reason: string },
    fmt: (n: number) => string = String,
  ) => [name, fmt(a.requested), fmt(a.value), a.reason];
  const rows = [
    row('driver memory', r.driver_memory_mb, memory),
    row('driver cores', r.driver_cores),
    row('executor memory', r.executor_memory_mb, memory),
    row('executor cores', r.executor_cores),
    row('executors', r.executor_instances),
  ];
  const da = r.dynamic_allocation;
  if (da) {
    const b = (v: { min_executors: number; max_executors: number }) => `${v.min_executors}-${v.max_executors}`;
    rows.push(['dynamic allocation', b(da.requested), b(da.value), da.reason]);
  }
  return (
    `${r.job_path}: sizing ${r.sizing}, confidence ${r.confidence} (${r.measured} measured of ${r.samples} executions)\n` +
    table(['FIELD', 'REQUESTED', 'RECOMMENDED', 'REASON'], rows)
  );
}
