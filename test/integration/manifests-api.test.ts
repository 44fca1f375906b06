/**
 * The manifest and schedule routes over HTTP, through the real API app (bearer auth, JSON and YAML bodies,
 * problem+json), against real Temporal and Postgres.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { run as runCli } from '../../cli/program.js';
import { scheduleIdOf as scheduleIdFor } from '../../schema/vocabulary.js';
import { deleteSchedule } from '../../service/schedules.js';
import { startTestApi, TEST_TOKENS, type TestApi } from '../helpers/api.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';
import { openDatabase } from '../../store/db.js';

let stack: TestStack;
let api: TestApi;
let url: string;
const run = crypto.randomUUID().slice(0, 6);
const name = `api-job-${run}`;
const jobPath = `data-infra/${name}`;
const tokens = { admin: TEST_TOKENS.admin, member: TEST_TOKENS.dataInfra, other: TEST_TOKENS.other };

beforeAll(async () => {
  stack = await openTestStack();
  api = await startTestApi(stack);
  url = api.url;
});
afterAll(async () => {
  await deleteSchedule(stack, jobPath);
  await api?.close();
  await stack?.close();
});

const yaml = (cron: string, team = 'data-infra') => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: ${name}
  team: ${team}
spec:
  engineVersion: "3.5"
  application: { type: python, file: job.py }
  orchestration:
    schedule: "${cron}"
    timezone: Europe/Helsinki
`;

async function call(method: string, path: string, token: string, body?: string, type = 'application/yaml') {
  const res = await fetch(url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body !== undefined && { 'Content-Type': type }) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

it('applies YAML, reports a dry run as "no changes" on a repeat, and shows the schedule with next run times', async () => {
  const first = await call('POST', '/api/v1/manifests', tokens.member, yaml('@daily'));
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ changed: true, jobs: [{ jobPath, action: 'create' }] });

  const dry = await call(
    'POST',
    '/api/v1/manifests?dryRun=true',
    tokens.member,
    JSON.stringify({ manifest: yaml('@daily') }),
    'application/json',
  );
  expect(dry.body).toMatchObject({ dry_run: true, changed: false, jobs: [{ action: 'unchanged', changes: [] }] });

  const id = scheduleIdFor(jobPath);
  const got = await call('GET', `/api/v1/schedules/${id}`, tokens.member);
  expect(got.status).toBe(200);
  expect(got.body).toMatchObject({
    jobPath,
    paused: false,
    schedule: { cron: '0 0 * * *', timezone: 'Europe/Helsinki' },
  });
  // Midnight in Helsinki is 22:00 or 21:00 UTC.
  expect([21, 22]).toContain(new Date((got.body.nextRunTimes as string[])[0]!).getUTCHours());

  const paused = await call(
    'POST',
    `/api/v1/schedules/${id}/pause`,
    tokens.member,
    '{"note":"holiday"}',
    'application/json',
  );
  expect(paused.body).toMatchObject({ paused: true, note: 'holiday' });

  const job = await call('GET', `/api/v1/manifests/jobs/${jobPath}`, tokens.member);
  expect(job.body).toMatchObject({ jobPath, schedule: { scheduleId: id, paused: true } });
});

it('rejects an invalid manifest with line and column, and another team with 403/404', async () => {
  const bad = await call('POST', '/api/v1/manifests', tokens.member, yaml('every day'));
  expect(bad.status).toBe(400);
  expect(bad.body.errors).toEqual([
    expect.objectContaining({ path: 'spec.orchestration.schedule', line: 10, column: 15 }),
  ]);

  const foreign = await call('POST', '/api/v1/manifests', tokens.other, yaml('@daily'));
  expect(foreign.status).toBe(403);
  const hidden = await call('GET', `/api/v1/schedules/${scheduleIdFor(jobPath)}`, tokens.other);
  expect(hidden.status).toBe(404);
  const unsupported = await call('POST', '/api/v1/manifests', tokens.member, yaml('@daily'), 'text/plain');
  expect(unsupported.status).toBe(415);
});

it('backfill validates its range', async () => {
  const res = await call(
    'POST',
    `/api/v1/schedules/${scheduleIdFor(jobPath)}/backfill`,
    tokens.admin,
    JSON.stringify({ start: '2026-01-02T00:00:00Z', end: '2026-01-01T00:00:00Z' }),
    'application/json',
  );
  expect(res.status).toBe(400);
  expect(res.body.errors).toEqual([expect.objectContaining({ path: 'end' })]);
});

/** Runs the CLI in-process against this file's API; returns exit code and output. */
async function cli(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (t: string) => void) => ({ write: (t: string) => (add(t), true), once: () => undefined });
  const code = await runCli(['--url', url, '--token', tokens.member, ...argv], {
    env: {},
    cwd: os.tmpdir(),
    stdout: sink((t) => (stdout += t)),
    stderr: sink((t) => (stderr += t)),
    signal: new AbortController().signal,
  });
  return { code, stdout, stderr };
}

it('the CLI applies, diffs, pauses, lists and deletes through the API', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'manifest-'));
  const file = path.join(dir, 'job.yaml');
  fs.writeFileSync(file, yaml('@weekly'));
  const diff = await cli('diff', '-f', file);
  expect(diff.stdout).toContain(`update ${jobPath}`);
  expect(diff.stdout).toContain('~ schedule.cron: "0 0 * * *" -> "0 0 * * 0"');
  expect((await cli('apply', '-f', file)).stdout).toContain(`updated ${jobPath}`);
  expect((await cli('diff', '-f', file)).stdout).toBe('no changes\n');

  const id = scheduleIdFor(jobPath);
  const listed = await cli('schedules', 'list', '-o', 'json');
  expect(listed.code).toBe(0);
  const unpaused = await cli('schedules', 'unpause', id, '--note', 'back');
  expect(unpaused.stdout).toMatch(/State\s+active/);
  expect((await cli('schedules', 'get', id)).stdout).toContain('0 0 * * 0 (Europe/Helsinki, overlap SKIP)');

  fs.writeFileSync(file, yaml('@weekly').replace('engineVersion: "3.5"', 'engineVersion: 3.5.x'));
  const bad = await cli('apply', '-f', file);
  expect(bad.code).toBe(3);
  expect(bad.stderr).toContain(`spec.engineVersion: ${file}:7:18:`);

  fs.writeFileSync(file, yaml('@weekly'));
  const deleted = await cli('delete', '-f', file);
  expect(deleted.stdout).toMatch(new RegExp(`${jobPath}\\s+deleted`));
  expect((await cli('schedules', 'get', id)).code).toBe(3);
});

it('lists jobs with their schedules, also a job recorded before schedules were marked, and none after delete', async () => {
  const listedName = `listed-${run}`;
  const listedPath = `data-infra/${listedName}`;
  const manifest = yaml('@hourly').replace(`name: ${name}`, `name: ${listedName}`);
  expect((await call('POST', '/api/v1/manifests', tokens.member, manifest)).status).toBe(200);
  const scheduleOf = async () => {
    const list = await call('GET', '/api/v1/manifests/jobs', tokens.member);
    const items = list.body.items as { jobPath: string; schedule?: { scheduleId: string } }[];
    return items.find((j) => j.jobPath === listedPath);
  };
  expect(await scheduleOf()).toMatchObject({ schedule: { scheduleId: scheduleIdFor(listedPath) } });

  // A row written before the `scheduled` column existed (null) is still looked up in Temporal.
  const database = openDatabase(stack.config.DATABASE_URL!, 1);
  try {
    await database.pool.query('UPDATE jobs SET scheduled = NULL WHERE job_path = $1', [listedPath]);
    expect(await scheduleOf()).toMatchObject({ schedule: { scheduleId: scheduleIdFor(listedPath) } });

    const deleted = await call('DELETE', '/api/v1/manifests', tokens.member, manifest);
    expect(deleted.status).toBe(200);
    const after = await scheduleOf();
    expect(after).toBeDefined();
    expect(after?.schedule).toBeUndefined();
    const row = await database.pool.query('SELECT scheduled FROM jobs WHERE job_path = $1', [listedPath]);
    expect(row.rows[0]).toEqual({ scheduled: false });
  } finally {
    await database.close();
  }
});
