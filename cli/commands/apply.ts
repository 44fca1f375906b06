/**
 * `spark-runner apply|diff|delete -f <manifest.yaml>`: DCP manifests through /api/v1/manifests. The file is sent
 * as is (with its name, so the API's errors say file:line:column); apply is idempotent, diff writes nothing,
 * delete removes the schedules and keeps every execution.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { json, table } from '../format.js';
import { outputOption, type OutputFormat, type Runtime } from './shared.js';

interface FieldChange {
  field: string;
  from: unknown;
  to: unknown;
}
interface JobPlan {
  jobPath: string;
  jobType: string;
  scheduleId?: string;
  action: 'create' | 'update' | 'unchanged';
  changes: FieldChange[];
}

function readManifest(cwd: string, file: string): { manifest: string; file: string } {
  try {
    return { manifest: fs.readFileSync(path.resolve(cwd, file), 'utf8'), file };
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as Error).message}`);
  }
}

const show = (v: unknown) => (v === null || v === undefined ? '-' : JSON.stringify(v));

/** The plan for people: one line per job, then one line per changed field. */
export function renderPlans(plans: JobPlan[], applied: boolean): string {
  if (plans.every((p) => p.action === 'unchanged')) return 'no changes\n';
  const verb = {
    create: applied ? 'created' : 'create',
    update: applied ? 'updated' : 'update',
    unchanged: 'unchanged',
  };
  return plans
    .map((p) => {
      const head = `${verb[p.action]} ${p.jobPath} (${p.jobType}${p.scheduleId ? `, schedule ${p.scheduleId}` : ''})`;
      return [head, ...p.changes.map((c) => `  ~ ${c.field}: ${show(c.from)} -> ${show(c.to)}`)].join('\n');
    })
    .join('\n')
    .concat('\n');
}

export function registerApply(program: Command, rt: Runtime): void {
  const send = async (cmd: Command, file: string, dryRun: boolean, format: OutputFormat) => {
    const res = await rt.api(cmd).json<{ jobs: JobPlan[] }>('POST', '/api/v1/manifests', {
      query: { dryRun },
      body: readManifest(rt.ctx.cwd, file),
    });
    rt.ctx.stdout.write(format === 'json' ? json(res) : renderPlans(res.jobs, !dryRun));
  };

  program
    .command('apply')
    .description('create or update the jobs (and their schedules) a manifest declares; unchanged jobs stay as they are')
    .requiredOption('-f, --file <manifest>', 'a YAML file of one or more kind: SparkJob documents')
    .addOption(outputOption())
    .action(async (opts: { file: string; output: OutputFormat }, cmd: Command) =>
      send(cmd, opts.file, false, opts.output),
    );

  program
    .command('diff')
    .description('show what apply would change ("no changes" when the manifest is already applied)')
    .requiredOption('-f, --file <manifest>', 'a YAML file of one or more kind: SparkJob documents')
    .addOption(outputOption())
    .action(async (opts: { file: string; output: OutputFormat }, cmd: Command) =>
      send(cmd, opts.file, true, opts.output),
    );

  program
    .command('delete')
    .description("remove the schedules of a manifest's jobs and stop its streaming jobs; executions and history stay")
    .requiredOption('-f, --file <manifest>', 'the manifest that was applied')
    .addOption(outputOption())
    .action(async (opts: { file: string; output: OutputFormat }, cmd: Command) => {
      const res = await rt
        .api(cmd)
        .json<{ jobs: { jobPath: string; scheduleDeleted: boolean }[] }>('DELETE', '/api/v1/manifests', {
          body: readManifest(rt.ctx.cwd, opts.file),
        });
      rt.ctx.stdout.write(
        opts.output === 'json'
          ? json(res)
          : table(
              ['JOB', 'SCHEDULE'],
              res.jobs.map((j) => [j.jobPath, j.scheduleDeleted ? 'deleted' : 'none']),
            ),
      );
    });
}
