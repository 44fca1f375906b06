/**
 * `spark-runner submit`: sends a JobSpec (from -f and/or flags) to POST /api/v1/jobs. With --wait it follows
 * the execution to its end and exits 0 (SUCCEEDED), 1 (FAILED) or 2 (CANCELLED).
 */
import { Option, type Command } from 'commander';
import { BACKENDS } from '../../schema/states.js';
import type { DryRun, SubmitAccepted } from '../../api/wire.js';
import { json, keyValues } from '../format.js';
import { buildSubmitBody, DEFAULT_ENGINE_VERSION, type SubmitFlags } from '../job-input.js';
import { collect, outputOption, positiveInt, type OutputFormat, type Runtime } from './shared.js';
import { followToEnd } from './submit-wait.js';

interface SubmitOptions extends SubmitFlags {
  dryRun?: boolean;
  wait?: boolean;
  output: OutputFormat;
}

const HELP = `
Relative paths: with the local backend (and "auto"), a relative --python, --jar, or application file/jar/pyFiles
in a job file is resolved against the directory you run spark-runner in, and sent as an absolute path (the
server would otherwise resolve it against its own working directory). For other backends paths are sent as
written.

Job files: YAML (.yaml/.yml) or JSON, holding a JobSpec (see "The JobSpec" in README.md) plus optional team,
user and idempotency_key. Flags given on the command line override the file.

Exit codes: 0 submitted (with --wait: SUCCEEDED), 1 FAILED, 2 CANCELLED, 3 usage, connection or API error,
130 interrupted (the job keeps running).

Examples:
  $ spark-runner submit --name spark-pi --team data-infra --python examples/pi.py --arg 4 --wait
  $ spark-runner submit -f job.yaml --idempotency-key nightly-2026-01-31
  $ spark-runner submit -f job.yaml --dry-run --output json`;

export function registerSubmit(program: Command, rt: Runtime): void {
  program
    .command('submit')
    .description('submit a Spark job from a job file or flags; --wait follows it to the end')
    .option('-f, --file <path>', 'a JobSpec document, YAML or JSON')
    .option('--name <name>', 'job name, a DNS label; the job path is <team>/<name>')
    .option('--team <team>', 'team to submit for (required with an admin token; a member token implies its team)')
    .option('--engine <version>', `Spark version (default: ${DEFAULT_ENGINE_VERSION})`)
    .option('--python <file>', 'the PySpark application file')
    .option('--class <main>', 'the main class of a JVM application (with --jar)')
    .option('--jar <jar>', 'the jar of a JVM application (with --class)')
    .option('--arg <arg>', 'an application argument; repeat for more', collect)
    .option('--conf <key=value>', 'a sparkConf entry; repeat for more', collect)
    .option('--driver-memory <size>', 'driver memory, like 512m or 2g')
    .option('--executor-memory <size>', 'executor memory, like 2g')
    .option('--executors <n>', 'number of executors', positiveInt)
    .addOption(new Option('--backend <backend>', 'where to run it (default: auto)').choices(['auto', ...BACKENDS]))
    .option('--idempotency-key <key>', 'submitting again with the same key returns the first execution')
    .option('--dry-run', 'validate and show the backend payload without creating anything')
    .option('--wait', 'follow the execution to its end; the exit code mirrors the outcome')
    .addOption(outputOption())
    .addHelpText('after', HELP)
    .action(async (opts: SubmitOptions, cmd: Command) => {
      const body = buildSubmitBody(opts, rt.ctx.cwd);
      const api = rt.api(cmd);
      const { stdout } = rt.ctx;
      if (opts.dryRun) {
        const res = await api.json<DryRun>('POST', '/api/v1/jobs', { query: { dryRun: true }, body });
        stdout.write(opts.output === 'json' ? json(res) : dryRunText(res));
        return;
      }
      const res = await api.json<SubmitAccepted>('POST', '/api/v1/jobs', { body });
      if (!opts.wait) {
        stdout.write(opts.output === 'json' ? json(res) : acceptedText(res));
        return;
      }
      if (opts.output === 'table') stdout.write(`submitted ${res.job_path} as ${res.execution_id}\n`);
      rt.exit(await followToEnd(api, res.execution_id, opts.output, rt.ctx));
    });
}

function acceptedText(res: SubmitAccepted): string {
  return (
    `${res.message}\n` +
    keyValues([
      ['execution', res.execution_id],
      ['job', res.job_path],
      ['state', res.status],
    ]) +
    `follow it: spark-runner logs -f ${res.execution_id}   status: spark-runner status ${res.execution_id}\n`
  );
}

function dryRunText(res: DryRun): string {
  const where = res.placement;
  const rows: [string, string | null | undefined][] = where
    ? [
        ['job', res.job_path],
        ['backend', where.backend],
        ['cluster', where.cluster],
        ['namespace', where.namespace],
        ['why', where.reason],
      ]
    : [
        ['job', res.job_path],
        ['backend', 'none can take it now; a submit would wait'],
        ['why', res.pending_reason?.message],
      ];
  return 'dry run: valid; nothing was submitted\n' + keyValues(rows) + (where ? `payload:\n${json(res.payload)}` : '');
}
