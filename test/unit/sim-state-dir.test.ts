/**
 * The sim backend on a shared state directory (SIM_BACKEND_STATE_DIR), which the fault drill gives every worker and
 * API process: runs outlive the process that submitted them, another process adopts them instead of starting them
 * again, watches and cancels reach across processes, and the submissions log counts every run started. Two backend objects on one
 * directory stand in for two processes (they share nothing but the directory).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { AttemptRequest, Placement, RunStatus } from '../../gateway/backend.js';
import { createSimBackend, readSimSubmissions } from '../../gateway/backends/sim/index.js';
import { loadConfig } from '../../config/index.js';
import { composeGateway } from '../../gateway/compose.js';
import { JobSpec } from '../../schema/job-spec.js';
import pino from 'pino';

const SIM: Placement = { backend: 'sim', cluster: 'sim', reason: 'test' };
const dirs: string[] = [];
const stateDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sim-state-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function request(attempt = 1, endAfterMs = 150): AttemptRequest {
  const spec = JobSpec.parse({
    name: 'sim-job',
    engineVersion: '4.0',
    backend: 'sim',
    application: { type: 'python', file: 'job.py' },
    sim: { attempts: [{ runningAfterMs: 20, endAfterMs }] },
  });
  return { executionId: crypto.randomUUID(), attempt, team: 'team-a', jobPath: 'team-a/sim-job', spec };
}

describe('sim backend on a shared state directory', () => {
  it('knows a run another process submitted, and adopts it on a repeated submit without starting a second', async () => {
    const dir = stateDir();
    const first = createSimBackend({ stateDir: dir });
    const req = request();
    const run = await first.submit(req, SIM);
    // A second process (a restarted worker) with nothing in memory.
    const second = createSimBackend({ stateDir: dir });
    expect(await second.submit(req, SIM)).toEqual(run);
    expect((await second.status(run)).backendState).not.toBe('sim:unknown');
    expect(readSimSubmissions(dir)).toEqual([{ executionId: req.executionId, attempt: 1, count: 1 }]);
    expect(second.submissions(req.executionId)).toBe(1);
    // An in-memory sim, as before, has never heard of it: VANISHED.
    expect((await createSimBackend().status(run)).failure?.reason).toBe('VANISHED');
  });

  it('logs one run started per (execution, attempt), each attempt its own', async () => {
    const dir = stateDir();
    const sim = createSimBackend({ stateDir: dir });
    const first = request();
    await sim.submit(first, SIM);
    await sim.submit({ ...first, attempt: 2 }, SIM);
    await createSimBackend({ stateDir: dir }).submit({ ...first, attempt: 2 }, SIM);
    expect(readSimSubmissions(dir)).toEqual([
      { executionId: first.executionId, attempt: 1, count: 1 },
      { executionId: first.executionId, attempt: 2, count: 1 },
    ]);
    expect(sim.submissions(first.executionId)).toBe(2);
  });

  it("reports to one process's watch the runs another process submits, through to their end", async () => {
    const dir = stateDir();
    const watcher = createSimBackend({ stateDir: dir, watchIntervalMs: 20 });
    const controller = new AbortController();
    const seen: RunStatus[] = [];
    const req = request(1, 300);
    const watching = (async () => {
      for await (const status of watcher.watch(controller.signal)) {
        if (status.executionId !== req.executionId) continue;
        seen.push(status);
        if (status.phase === 'SUCCEEDED') break;
      }
    })();
    await createSimBackend({ stateDir: dir }).submit(req, SIM);
    const timer = setTimeout(() => controller.abort(), 5000);
    await watching;
    clearTimeout(timer);
    expect(seen.at(-1)?.phase).toBe('SUCCEEDED');
  });

  it('sees a cancel made by another process', async () => {
    const dir = stateDir();
    const req = request(1, 60_000);
    const run = await createSimBackend({ stateDir: dir }).submit(req, SIM);
    await createSimBackend({ stateDir: dir }).cancel({ ...run, placement: SIM });
    expect((await createSimBackend({ stateDir: dir }).status(run)).phase).toBe('CANCELLED');
  });

  it('is enabled by SIM_BACKEND_STATE_DIR in the worker (as a status source too) and the API, and only by it', async () => {
    const logger = pino({ level: 'silent' });
    const base = { LOCAL_BACKEND_ENABLED: 'false', DATABASE_URL: undefined };
    const off = await composeGateway({ role: 'worker', config: loadConfig({ ...process.env, ...base }), logger });
    expect(off.gateway!.available).not.toContain('sim');
    const env = { ...process.env, ...base, SIM_BACKEND_STATE_DIR: stateDir() };
    const worker = await composeGateway({ role: 'worker', config: loadConfig(env, 'worker'), logger });
    expect(worker.gateway!.available).toContain('sim');
    expect(worker.statusSources.map((s) => s.name)).toContain('sim');
    const api = await composeGateway({ role: 'api', config: loadConfig(env), logger });
    expect(api.gateway!.available).toContain('sim');
    expect(api.statusSources).toEqual([]);
  });
});
