/**
 * A warm pool survives its worker being SIGKILLed while it warms: the worker process (bin/worker.ts, as deployed)
 * is killed with servers still starting, a new worker process takes over, and the pool converges to its size
 * with no server process orphaned. Server processes are counted from /proc (the Spark Connect server class with
 * this file's connect directory in its argv), before the kill, after it, and after convergence.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { dataPaths } from '../../config/index.js';
import { connectProcesses, type ConnectProcess } from '../../gateway/connect/local-servers.js';
import { applyPool, deletePool } from '../../service/sessions.js';
import { openDatabase, type Database } from '../../store/db.js';
import { SessionStore } from '../../store/sessions.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const POOL = 'crash-team.warm';
const SIZE = 2;

let stack: TestStack;
let database: Database;
let sessions: SessionStore;
let connectDir: string;

beforeAll(async () => {
  stack = await openTestStack({ SESSION_CHECK_INTERVAL_MS: '1000', SESSION_START_TIMEOUT_MS: '240000' });
  connectDir = dataPaths(stack.config).connectDir;
  database = openDatabase(stack.config.DATABASE_URL!);
  sessions = new SessionStore(database.db);
});

afterAll(async () => {
  if (sessions) {
    await deletePool({ client: stack.client, config: stack.config, sessions }, POOL).catch(() => undefined);
    await eventually(
      'the drained pool to leave no server process',
      () => Promise.resolve(connectProcesses(connectDir).length === 0 ? true : undefined),
      120_000,
    ).catch(() => undefined);
  }
  await stack?.close();
  await database?.close();
});

const pids = (procs: ConnectProcess[]) => procs.map((p) => p.pid).sort((a, b) => a - b);

it('converges to its size with no orphaned server process after its worker is SIGKILLed while it warms', async () => {
  const first = stack.startWorkerProcess();
  await applyPool(
    { client: stack.client, config: stack.config, sessions },
    { name: POOL, team: 'crash-team', sparkVersion: '4.0', size: SIZE, driverMemoryMb: 512, source: 'manifest' },
  );
  // Warming: a server JVM runs while its row still says STARTING.
  const beforeKill = await eventually(
    'a server to be starting',
    async () => {
      const starting = new Set(
        (await sessions.poolServers(POOL)).filter((s) => s.state === 'STARTING').map((s) => s.serverId),
      );
      const procs = connectProcesses(connectDir);
      return procs.some((p) => starting.has(p.serverId)) ? procs : undefined;
    },
    180_000,
  );
  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  // The JVMs are detached: they outlive the killed worker, which can no longer stop them.
  const afterKill = connectProcesses(connectDir);
  expect(pids(afterKill)).toEqual(expect.arrayContaining(pids(beforeKill)));

  stack.startWorkerProcess();
  const converged = await eventually(
    `the pool to have ${SIZE} warm servers and exactly ${SIZE} server processes`,
    async () => {
      const warm = (await sessions.poolServers(POOL)).filter((s) => s.state === 'WARM');
      const procs = connectProcesses(connectDir);
      const warmIds = new Set(warm.map((s) => s.serverId));
      return warm.length === SIZE && procs.length === SIZE && procs.every((p) => warmIds.has(p.serverId))
        ? { warm, procs }
        : undefined;
    },
    420_000,
  );
  // Every process is one a WARM row names, by pid; nothing the killed worker started survives unaccounted for.
  expect(pids(converged.procs)).toEqual(converged.warm.map((s) => s.pid!).sort((a, b) => a - b));
  const stoppedOrphans = afterKill.filter((p) => !converged.procs.some((c) => c.pid === p.pid));
  // And it stays that way: no late start adds a process.
  await new Promise((r) => setTimeout(r, 3000));
  expect(pids(connectProcesses(connectDir))).toEqual(pids(converged.procs));
  console.log(
    `[session-pool-crash] server processes: before the kill ${beforeKill.length}, right after it ${afterKill.length}, ` +
      `after convergence ${converged.procs.length} (pool size ${SIZE}); ` +
      `left by the killed worker and stopped ${stoppedOrphans.length}`,
  );
}, 900_000);
