/**
 * What `npm run dev`'s shutdown does to a local run still going (bin/dev.ts calls stopLocalRuns): it is stopped
 * with its reason recorded, and after the restart it reads as FAILED `STOPPED_ON_SHUTDOWN`, an infrastructure
 * failure that auto-retry retries on purpose, not an unexplained VANISHED. Real processes: the local backend's
 * own wrapper around a `sleep`, standing in for spark-submit (the shutdown path never looks at what it runs).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stopLocalRuns } from '../../gateway/backends/local/index.js';
import { FILES, attemptDir, writeFileAtomic, type RunRecord } from '../../gateway/backends/local/files.js';
import { isGroupAlive, readStartTicks, startWrapper, stopGroup } from '../../gateway/backends/local/process.js';
import { createStatusReader } from '../../gateway/backends/local/status.js';
import { classifyFailure } from '../../runner/classify.js';

const runsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dev-shutdown-'));
afterAll(() => fs.rmSync(runsDir, { recursive: true, force: true }));

/** Starts a run the way the local backend does: its wrapper, then run.json. */
async function startRun(executionId: string): Promise<RunRecord> {
  const dir = attemptDir(runsDir, executionId, 1);
  fs.mkdirSync(dir, { recursive: true });
  const pid = await startWrapper(dir, 'sleep', ['120'], {});
  const record: RunRecord = {
    executionId,
    attempt: 1,
    vendorRunId: `local-${executionId}-1`,
    pid,
    pgid: pid,
    startTicks: await readStartTicks(pid),
    command: 'sleep',
    args: ['120'],
    submittedAt: new Date().toISOString(),
  };
  await writeFileAtomic(path.join(dir, FILES.record), JSON.stringify(record));
  return record;
}

const ref = (r: RunRecord) => ({ executionId: r.executionId, attempt: 1, vendorRunId: r.vendorRunId });

describe('a local run when npm run dev stops', () => {
  it('is stopped, records who stopped it and when, and is retried as INFRA after the restart', async () => {
    const run = await startRun('00000000-0000-4000-8000-000000000001');
    const reader = createStatusReader();
    expect((await reader.status(ref(run), attemptDir(runsDir, run.executionId, 1))).phase).toMatch(/PENDING|RUNNING/);

    await stopLocalRuns(runsDir, 1_000);
    expect(await isGroupAlive(run.pgid, run.startTicks)).toBe(false);

    // A new process (the restarted worker) reads the files afresh.
    const status = await createStatusReader().status(ref(run), attemptDir(runsDir, run.executionId, 1));
    expect(status.phase).toBe('FAILED');
    expect(status.failure?.reason).toBe('STOPPED_ON_SHUTDOWN');
    expect(status.failure?.message).toMatch(/stopped by npm run dev shutting down at \d{4}-\d\d-\d\dT/);
    const classified = classifyFailure(status.failure!);
    expect([classified.failureClass, classified.retriable]).toEqual(['INFRA', true]);
  });

  it('still reports a run killed by something else as VANISHED', async () => {
    const run = await startRun('00000000-0000-4000-8000-000000000002');
    await stopGroup(run.pgid, run.startTicks, 1_000);
    const status = await createStatusReader().status(ref(run), attemptDir(runsDir, run.executionId, 1));
    expect([status.phase, status.failure?.reason]).toEqual(['FAILED', 'VANISHED']);
  });
});
