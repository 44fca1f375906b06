import { describe, expect, it } from 'vitest';
import type { AttemptRequest, Placement, RunStatus } from '../../gateway/backend.js';

const SIM: Placement = { backend: 'sim', cluster: 'sim', reason: 'test' };
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import type { JobSpecInput } from '../../schema/job-spec.js';
import { JobSpec } from '../../schema/job-spec.js';

function request(executionId: string, attempt: number, sim?: JobSpecInput['sim']): AttemptRequest {
  const spec = JobSpec.parse({
    name: 'sim-job',
    engineVersion: '4.0',
    backend: 'sim',
    application: { type: 'python', file: 'job.py' },
    ...(sim ? { sim } : {}),
  });
  return { executionId, attempt, team: 'team-a', jobPath: 'team-a/sim-job', spec };
}

/** A clock the test moves by hand, so status() is checked at exact offsets without sleeping. */
function manualClock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Collects watch() output until `done` holds for the statuses so far (or the timeout passes). */
async function watchUntil(
  backend: ReturnType<typeof createSimBackend>,
  done: (seen: RunStatus[]) => boolean,
  timeoutMs = 2_000,
): Promise<RunStatus[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  const seen: RunStatus[] = [];
  try {
    for await (const status of backend.watch(controller.signal)) {
      seen.push(status);
      if (done(seen)) break;
    }
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

const OOM = { exitCode: 137, reason: 'OOMKilled', message: 'java.lang.OutOfMemoryError: Java heap space' };

describe('sim backend', () => {
  it('fails attempt 1 with the scripted OOM and succeeds attempt 2, as pure functions of elapsed time', async () => {
    const clock = manualClock();
    const sim = createSimBackend({ now: clock.now });
    const script = {
      attempts: [
        { runningAfterMs: 10, endAfterMs: 100, outcome: 'FAILED' as const, failure: OOM },
        { runningAfterMs: 10, endAfterMs: 100 },
      ],
    };
    const first = await sim.submit(request('exec-oom', 1, script), SIM);
    expect(first).toMatchObject({ backend: 'sim', cluster: 'sim', vendorRunId: 'sim-exec-oom-1' });
    expect((await sim.status(first)).phase).toBe('PENDING');
    clock.advance(10);
    expect((await sim.status(first)).phase).toBe('RUNNING');
    clock.advance(90);
    expect(await sim.status(first)).toMatchObject({ phase: 'FAILED', failure: OOM });
    expect(await sim.logs(first)).toContain('OutOfMemoryError');

    const second = await sim.submit(request('exec-oom', 2, script), SIM);
    clock.advance(100);
    const status = await sim.status(second);
    expect(status).toMatchObject({ phase: 'SUCCEEDED', attempt: 2 });
    expect(status.failure).toBeUndefined();

    const third = await sim.submit(request('exec-oom', 3, script), SIM);
    clock.advance(100);
    expect((await sim.status(third)).phase).toBe('SUCCEEDED'); // the last entry repeats
    expect(sim.submissions('exec-oom')).toBe(3);
  });

  it('runs an unscripted attempt after 50 ms and succeeds it after 200 ms', async () => {
    const clock = manualClock();
    const sim = createSimBackend({ now: clock.now });
    const run = await sim.submit(request('exec-default', 1), SIM);
    clock.advance(49);
    expect((await sim.status(run)).phase).toBe('PENDING');
    clock.advance(1);
    expect((await sim.status(run)).phase).toBe('RUNNING');
    clock.advance(150);
    expect((await sim.status(run)).phase).toBe('SUCCEEDED');
    expect(await sim.logs(run, { tail: 1 })).toBe('sim: run SUCCEEDED');
  });

  it('reports every transition through watch, in order, soon after it happens', async () => {
    const sim = createSimBackend({ watchIntervalMs: 5 });
    const started = Date.now();
    const run = await sim.submit(request('exec-watch', 1, { attempts: [{ runningAfterMs: 30, endAfterMs: 80 }] }), SIM);
    const seen = await watchUntil(sim, (s) => s.some((x) => x.phase === 'SUCCEEDED'));
    expect(seen.map((s) => s.phase)).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);
    expect(seen.every((s) => s.vendorRunId === run.vendorRunId)).toBe(true);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('hides a dropSignals attempt from watch, while status() still sees it end', async () => {
    const sim = createSimBackend({ watchIntervalMs: 5 });
    const hidden = await sim.submit(
      request('exec-dropped', 1, { attempts: [{ runningAfterMs: 0, endAfterMs: 30, dropSignals: true }] }),
      SIM,
    );
    const visible = await sim.submit(
      request('exec-visible', 1, { attempts: [{ runningAfterMs: 0, endAfterMs: 60 }] }),
      SIM,
    );
    const seen = await watchUntil(sim, (s) =>
      s.some((x) => x.vendorRunId === visible.vendorRunId && x.phase === 'SUCCEEDED'),
    );
    expect(seen.filter((s) => s.vendorRunId === hidden.vendorRunId)).toEqual([]);
    expect((await sim.status(hidden)).phase).toBe('SUCCEEDED');
  });

  it('counts a repeated submit of the same attempt once and returns the same run', async () => {
    const sim = createSimBackend();
    const [a, b] = await Promise.all([
      sim.submit(request('exec-twice', 1), SIM),
      sim.submit(request('exec-twice', 1), SIM),
    ]);
    const c = await sim.submit(request('exec-twice', 1), SIM);
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(sim.submissions('exec-twice')).toBe(1);
    expect(sim.submissions('never-submitted')).toBe(0);
  });

  it('cancels a running attempt for good, and leaves an ended attempt as it ended', async () => {
    const clock = manualClock();
    const sim = createSimBackend({ now: clock.now });
    const running = await sim.submit(
      request('exec-cancel', 1, { attempts: [{ runningAfterMs: 0, endAfterMs: 100 }] }),
      SIM,
    );
    clock.advance(10);
    await sim.cancel({ ...running, placement: SIM });
    await sim.cancel({ ...running, placement: SIM }); // idempotent
    clock.advance(200);
    expect((await sim.status(running)).phase).toBe('CANCELLED');
    expect(await sim.logs(running)).toContain('CANCELLED');

    const ended = await sim.submit(
      request('exec-ended', 1, { attempts: [{ runningAfterMs: 0, endAfterMs: 100 }] }),
      SIM,
    );
    clock.advance(100);
    await sim.cancel({ ...ended, placement: SIM });
    expect((await sim.status(ended)).phase).toBe('SUCCEEDED');
  });

  it('reports a cancel through watch', async () => {
    const sim = createSimBackend({ watchIntervalMs: 5 });
    const run = await sim.submit(
      request('exec-watch-cancel', 1, { attempts: [{ runningAfterMs: 0, endAfterMs: 60_000 }] }),
      SIM,
    );
    const seen = await watchUntil(sim, (s) => {
      if (s.length === 1) void sim.cancel({ ...run, placement: SIM });
      return s.some((x) => x.phase === 'CANCELLED');
    });
    expect(seen.map((s) => s.phase)).toEqual(['RUNNING', 'CANCELLED']);
  });

  it('follows the logs of a run until it ends', async () => {
    const sim = createSimBackend({ watchIntervalMs: 5 });
    const run = await sim.submit(
      request('exec-follow', 1, {
        attempts: [{ runningAfterMs: 10, endAfterMs: 40, outcome: 'FAILED', failure: OOM }],
      }),
      SIM,
    );
    let text = '';
    for await (const chunk of sim.followLogs(run, new AbortController().signal)) text += chunk;
    expect(text).toContain('driver running');
    expect(text).toContain('run FAILED: java.lang.OutOfMemoryError');
  });

  it('reports a run it never saw (lost with a restarted process) as FAILED with reason VANISHED', async () => {
    const sim = createSimBackend();
    const status = await sim.status({ executionId: 'exec-lost', attempt: 1, vendorRunId: 'sim-exec-lost-1' });
    expect(status).toMatchObject({ phase: 'FAILED', failure: { reason: 'VANISHED' } });
  });

  it('keeps thousands of concurrent runs cheap to submit and watch', async () => {
    const sim = createSimBackend({ watchIntervalMs: 10 });
    const template = request('bulk', 1, { attempts: [{ runningAfterMs: 0, endAfterMs: 50 }] });
    const started = Date.now();
    let finals = 0;
    const watching = watchUntil(sim, (s) => (finals += s.at(-1)!.phase === 'SUCCEEDED' ? 1 : 0) === 5_000, 5_000);
    await Promise.all(
      Array.from({ length: 5_000 }, (_, i) => sim.submit({ ...template, executionId: `bulk-${i}` }, SIM)),
    );
    await watching;
    expect(finals).toBe(5_000);
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
