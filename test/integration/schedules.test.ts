/**
 * Manifest apply/diff/delete against a real Temporal server (Schedules) and real Postgres; the sim backend runs
 * the jobs. Schedules fire every couple of seconds so the file stays short.
 */
import fs from 'node:fs';
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManifestError, parseManifest } from '../../dcp/manifest.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { applyManifest, deleteManifest, diffManifest, getJobView, type Actor } from '../../service/manifests.js';
import {
  backfillSchedule,
  deleteSchedule,
  getSchedule,
  pauseSchedule,
  unpauseSchedule,
} from '../../service/schedules.js';
import { scheduleIdOf as scheduleIdFor } from '../../schema/vocabulary.js';
import type { ExecutionResult } from '../../workflows/definitions.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const sim = createSimBackend();
let stack: TestStack;
// Schedule ids live in the whole Temporal namespace: a per-run suffix keeps reruns and other files apart.
const run = crypto.randomUUID().slice(0, 6);
const team = 'data-infra';
const actor: Actor = { team, role: 'member' };
const created: string[] = [];

beforeAll(async () => {
  stack = await openTestStack();
  await stack.startWorker({ sim });
});
afterAll(async () => {
  if (stack) await Promise.all(created.map((p) => deleteSchedule(stack, p)));
  await stack?.close();
});

function manifest(name: string, opts: { schedule: string; endAfterMs?: number; overlap?: string }): string {
  created.push(`${team}/${name}`);
  return `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: ${name}
  team: ${team}
  owner: data-infra@example.com
spec:
  engine:
    version: "3.5"
  backend: sim
  application:
    type: python
    file: job.py
  sim:
    attempts:
      - runningAfterMs: 20
        endAfterMs: ${opts.endAfterMs ?? 150}
  orchestration:
    schedule: "${opts.schedule}"
    overlap: ${opts.overlap ?? 'skip'}
    catchupWindow: 1m
    retryPolicy:
      maxRetries: 0
`;
}

const apply = (text: string) => applyManifest(stack, actor, parseManifest(text, 'test.yaml'));

/** The results of every run the schedule has started so far, by workflow id. */
async function runResults(scheduleId: string): Promise<Map<string, ExecutionResult>> {
  const view = await getSchedule(stack, scheduleId);
  const out = new Map<string, ExecutionResult>();
  for (const r of view.recentRuns) {
    out.set(r.workflowId, (await stack.client.workflow.getHandle(r.workflowId).result()) as ExecutionResult);
  }
  return out;
}

describe('a scheduled batch job', () => {
  const name = `every-2s-${run}`;
  const scheduleId = scheduleIdFor(`${team}/${name}`);

  it('fires every few seconds and each run ends SUCCEEDED as a schedule-triggered execution', async () => {
    const [plan] = await apply(manifest(name, { schedule: '@every 2s' }));
    expect(plan).toMatchObject({ action: 'create', scheduleId });
    const view = await eventually(
      'two scheduled runs',
      async () => {
        const v = await getSchedule(stack, scheduleId);
        return v.recentRuns.length >= 2 ? v : undefined;
      },
      20_000,
    );
    expect(view.nextRunTimes.length).toBeGreaterThan(0);
    const results = await runResults(scheduleId);
    expect([...results.values()].map((r) => r.state)).toEqual(view.recentRuns.map(() => 'SUCCEEDED'));
    // Temporal names each run after the schedule's action id plus its nominal time.
    for (const r of view.recentRuns) expect(r.workflowId.startsWith(`exec-${scheduleId}-`)).toBe(true);
    const rows = await stack.store.listExecutions({ jobPath: `${team}/${name}`, limit: 10 });
    expect(rows.items.length).toBeGreaterThan(0);
    expect(rows.items.every((e) => e.trigger === 'schedule')).toBe(true);
    const job = await getJobView(stack, actor, `${team}/${name}`);
    expect(job?.schedule?.nextRunTime).toBeDefined();
    expect(job?.lastExecution?.trigger).toBe('schedule');
  });

  it('stops firing while paused and resumes on unpause, keeping the note', async () => {
    await pauseSchedule(stack.client, scheduleId, 'maintenance window');
    const before = (await getSchedule(stack, scheduleId)).numActionsTaken;
    await new Promise((r) => setTimeout(r, 5000));
    const paused = await getSchedule(stack, scheduleId);
    expect(paused.paused).toBe(true);
    expect(paused.note).toBe('maintenance window');
    expect(paused.numActionsTaken).toBe(before);
    await unpauseSchedule(stack.client, scheduleId, 'back on');
    await eventually(
      'a run after unpause',
      async () => ((await getSchedule(stack, scheduleId)).numActionsTaken > before ? true : undefined),
      15_000,
    );
  });

  it('re-applying the unchanged manifest changes nothing, and diff says so', async () => {
    const text = manifest(name, { schedule: '@every 2s' });
    const [diff] = await diffManifest(stack, actor, parseManifest(text));
    expect(diff).toMatchObject({ action: 'unchanged', changes: [] });
    const jobBefore = await stack.store.getJob(`${team}/${name}`);
    const [plan] = await apply(text);
    expect(plan!.action).toBe('unchanged');
    expect((await stack.store.getJob(`${team}/${name}`))!.updatedAt).toEqual(jobBefore!.updatedAt);
  });

  it('changing the cron updates the schedule in place, and diff names the field first', async () => {
    const text = manifest(name, { schedule: '30 3 * * *' });
    const [diff] = await diffManifest(stack, actor, parseManifest(text));
    expect(diff!.action).toBe('update');
    expect(diff!.changes).toEqual(
      expect.arrayContaining([
        { field: 'schedule.cron', from: null, to: '30 3 * * *' },
        { field: 'schedule.everyMs', from: 2000, to: null },
      ]),
    );
    await apply(text);
    const view = await getSchedule(stack, scheduleId);
    expect(view.schedule?.cron).toBe('30 3 * * *');
    const next = new Date(view.nextRunTimes[0]!);
    expect([next.getUTCHours(), next.getUTCMinutes()]).toEqual([3, 30]);
  });

  it('delete removes the schedule and keeps the execution history', async () => {
    const text = manifest(name, { schedule: '30 3 * * *' });
    const [res] = await deleteManifest(stack, actor, parseManifest(text));
    expect(res).toEqual({ jobPath: `${team}/${name}`, scheduleDeleted: true, continuousStopped: false });
    await expect(getSchedule(stack, scheduleId)).rejects.toThrow(/no schedule/);
    const rows = await stack.store.listExecutions({ jobPath: `${team}/${name}`, limit: 10 });
    expect(rows.items.length).toBeGreaterThan(0);
  });
});

// A scheduled run relays to its own execution (workflows/execution.ts, scheduledExecution): a fresh execution id
// per run, with the time the run was scheduled for.
it('records each scheduled run as its own execution, with its scheduled time', async () => {
  const name = `own-rows-${run}`;
  const scheduleId = scheduleIdFor(`${team}/${name}`);
  await apply(manifest(name, { schedule: '@every 2s' }));
  const view = await eventually(
    'two runs recorded',
    async () => {
      const v = await getSchedule(stack, scheduleId);
      return v.recentRuns.filter((r) => r.state === 'SUCCEEDED').length >= 2 ? v : undefined;
    },
    20_000,
  );
  await deleteSchedule(stack, `${team}/${name}`);
  const done = view.recentRuns.filter((r) => r.state === 'SUCCEEDED');
  expect(new Set(done.map((r) => r.executionId)).size).toBe(done.length);
  for (const r of done) {
    const row = (await stack.store.getExecution(r.executionId!))!;
    expect(row).toMatchObject({ trigger: 'schedule', workflowId: `exec-${r.executionId}` });
    expect(row.scheduledTime?.toISOString()).toBe(r.scheduledAt);
  }
});

it('a backfill of a range creates exactly the runs the schedule would have made in it', async () => {
  const name = `hourly-${run}`;
  const scheduleId = scheduleIdFor(`${team}/${name}`);
  await apply(manifest(name, { schedule: '@hourly' }));
  // 00:30 to 03:30 on a past day: the hourly schedule fires at 01:00, 02:00 and 03:00.
  await backfillSchedule(stack.client, scheduleId, {
    start: new Date('2026-01-05T00:30:00Z'),
    end: new Date('2026-01-05T03:30:00Z'),
  });
  const view = await eventually(
    'three backfilled runs',
    async () => {
      const v = await getSchedule(stack, scheduleId);
      return v.recentRuns.length >= 3 && v.runningWorkflowIds.length === 0 ? v : undefined;
    },
    30_000,
  );
  expect(view.recentRuns.map((r) => r.scheduledAt).sort()).toEqual([
    '2026-01-05T01:00:00.000Z',
    '2026-01-05T02:00:00.000Z',
    '2026-01-05T03:00:00.000Z',
  ]);
  const results = await runResults(scheduleId);
  expect([...results.values()].map((r) => r.state)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
});

it('skips a firing while the previous run is still going (overlap SKIP)', async () => {
  const name = `slow-${run}`;
  const scheduleId = scheduleIdFor(`${team}/${name}`);
  await apply(manifest(name, { schedule: '@every 2s', endAfterMs: 5000 }));
  const view = await eventually(
    'a skipped firing',
    async () => {
      const v = await getSchedule(stack, scheduleId);
      return v.numActionsSkippedOverlap >= 1 ? v : undefined;
    },
    15_000,
  );
  expect(view.numActionsTaken).toBe(1);
  expect(view.runningWorkflowIds).toHaveLength(1);
  await deleteSchedule(stack, `${team}/${name}`);
});

it('an invalid manifest reports line and column and applies nothing', async () => {
  const name = `broken-${run}`;
  const text = manifest(name, { schedule: '@every 2s' }).replace('endAfterMs: 150', 'endAfterMs: soon');
  let error: unknown;
  try {
    await apply(text);
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(ManifestError);
  expect((error as ManifestError).issues[0]).toMatchObject({
    file: 'test.yaml',
    line: 17,
    column: 21,
    field: 'spec.sim.attempts.0.endAfterMs',
  });
  expect(await stack.store.getJob(`${team}/${name}`)).toBeUndefined();
  await expect(getSchedule(stack, scheduleIdFor(`${team}/${name}`))).rejects.toThrow(/no schedule/);
});

it("applies the reference's example manifest as written", async () => {
  const text = fs.readFileSync(
    new URL('../../examples/manifests/example-data-transform.yaml', import.meta.url),
    'utf8',
  );
  const jobs = parseManifest(text, 'example-data-transform.yaml');
  created.push(jobs[0]!.jobPath);
  await deleteSchedule(stack, jobs[0]!.jobPath); // a rerun on the same server starts from scratch
  const [plan] = await applyManifest(stack, actor, jobs);
  expect(plan).toMatchObject({ jobPath: 'data-infra/example-data-transform', action: expect.any(String) as unknown });
  const view = await getSchedule(stack, scheduleIdFor('data-infra/example-data-transform'));
  expect(view.schedule).toMatchObject({ cron: '0 */6 * * *', overlap: 'SKIP', timezone: 'UTC' });
  expect(new Date(view.nextRunTimes[0]!).getUTCHours() % 6).toBe(0);
  const job = (await stack.store.getJob('data-infra/example-data-transform'))!;
  expect(job.spec.retryPolicy.maxAttempts).toBe(4);
  expect(job.spec.resources.executor).toEqual({ cores: 4, memoryMb: 8192, instances: 5 });
  const [again] = await diffManifest(stack, actor, jobs);
  expect(again!.action).toBe('unchanged');
});
