/**
 * Spark Connect servers as local processes (local-server.ts), one work directory per server id under
 * `<SPARK_RUNNER_DATA>/connect/<serverId>/`. Its path is in the JVM's argv (`-Djava.io.tmpdir=<dir>/tmp`), which is
 * how a server is found again with no state at all: by scanning /proc. That is what makes a start idempotent and
 * lets nothing leak when a worker is SIGKILLed mid-start (its detached JVM lives on):
 * - start first stops any process of the same server id (a retried start after a killed worker), then starts one;
 * - sweep stops every process under the connect directory whose server id no live record names.
 *
 * A local server binds 127.0.0.1, so the proxy (the API process) must run on the same host as the worker that
 * starts it: the `npm run dev` and single-host layouts.
 *
 * Spark versions: 4.0 from the project's pip pyspark (its jars hold the Connect server). 4.1's spark-submit needs
 * `SPARK_CONNECT_MODE=0` for the server (what 4.1's own start script sets), given here. 3.5's pip package has no
 * Connect server: a BackendRejection.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BackendRejection, type Placement } from '../backend.js';
import { isGroupAlive, readStartTicks, stopGroup } from '../backends/local/process.js';
import { CONNECT_SERVER_CLASS, startLocalConnectServer } from './local-server.js';
import { sparkJobRunning, type ConnectServerBackend, type ServerRecord, type ServerRequest } from './servers.js';

export interface LocalConnectBackendOptions {
  /** Spark home per engine version ("4.0"); each must ship the Connect server jar. */
  sparkHomes: Readonly<Record<string, string>>;
  /** The parent of every server's work directory (config dataPaths().connectDir). */
  connectDir: string;
  startTimeoutMs: number;
  /** Between SIGTERM and SIGKILL when stopping. Default 5 s. */
  stopGraceMs?: number;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

const PROGRESS_MS = 2000;

export function createLocalConnectBackend(options: LocalConnectBackendOptions): ConnectServerBackend {
  const connectDir = path.resolve(options.connectDir);
  const workDirOf = (serverId: string) => path.join(connectDir, serverId);
  const grace = options.stopGraceMs ?? 5000;

  /** Stops every process of these server ids (or, without ids, of any server not in `spare`). */
  async function stopProcesses(match: (serverId: string) => boolean): Promise<string[]> {
    const stopped: string[] = [];
    for (const proc of connectProcesses(connectDir)) {
      if (!match(proc.serverId)) continue;
      await stopGroup(proc.pgid, await readStartTicks(proc.pgid), grace).catch(() => undefined);
      stopped.push(proc.serverId);
    }
    return stopped;
  }

  return {
    name: 'local',

    async start(request: ServerRequest, _placement: Placement, { signal, progress }) {
      const sparkHome = options.sparkHomes[request.sparkVersion];
      if (!sparkHome) {
        throw new BackendRejection(
          `no local Spark ${request.sparkVersion} with a Spark Connect server (have: ${Object.keys(options.sparkHomes).join(', ') || 'none'})`,
        );
      }
      // A retried start (the worker that began it was killed) finds the server it began here, and stops it.
      const strays = await stopProcesses((id) => id === request.serverId);
      if (strays.length > 0) options.logger?.warn({ serverId: request.serverId }, 'stopped a half-started server');
      const beat = progress ? setInterval(progress, PROGRESS_MS) : undefined;
      try {
        const server = await startLocalConnectServer({
          sparkHome,
          workDir: workDirOf(request.serverId),
          driverMemoryMb: request.driverMemoryMb,
          appName: `spark-connect-${request.serverId}`,
          startTimeoutMs: options.startTimeoutMs,
          stopGraceMs: grace,
          signal,
          ...(request.sparkVersion.startsWith('4.1') ? { env: { SPARK_CONNECT_MODE: '0' } } : {}),
        });
        options.logger?.info(
          { serverId: request.serverId, port: server.port, pid: server.pid, startMs: server.startMs },
          'local Spark Connect server started',
        );
        return {
          host: server.host,
          port: server.port,
          token: server.token,
          pid: server.pid,
          ...(server.startTicks !== undefined ? { startTicks: server.startTicks } : {}),
          ...(server.uiPort ? { uiPort: server.uiPort } : {}),
        };
      } finally {
        clearInterval(beat);
      }
    },

    async alive(server: ServerRecord) {
      if (!server.pid) return false;
      return isGroupAlive(server.pid, ticksOf(server));
    },

    async busy(server: ServerRecord) {
      return server.uiPort ? sparkJobRunning(`http://127.0.0.1:${server.uiPort}`) : undefined;
    },

    async stop(server: ServerRecord) {
      if (server.pid) await stopGroup(server.pid, ticksOf(server), grace);
      // Also what a killed start left without a recorded pid.
      await stopProcesses((id) => id === server.serverId);
      fs.rmSync(workDirOf(server.serverId), { recursive: true, force: true });
    },

    async sweep(live: ReadonlySet<string>) {
      const stopped = await stopProcesses((id) => !live.has(id));
      for (const id of stopped) fs.rmSync(workDirOf(id), { recursive: true, force: true });
      if (stopped.length > 0) options.logger?.warn({ serverIds: stopped }, 'stopped orphaned Spark Connect servers');
      return stopped;
    },
  };
}

function ticksOf(server: ServerRecord): number | undefined {
  return server.startTicks ? Number(server.startTicks) : undefined;
}

/**
 * One local Spark Connect server as /proc shows it: its process group (spark-submit's, which execs the JVM, so the
 * group's id is the server's pid once it runs; while it starts, the group also holds the launcher's processes).
 */
export interface ConnectProcess {
  /** The group leader: the server JVM (or, early in its start, the spark-submit script that becomes it). */
  pid: number;
  pgid: number;
  serverId: string;
  /** Processes of the group right now. */
  members: number;
}

/**
 * Every Spark Connect server under `connectDir` on this host (Linux /proc): the processes whose argv names the
 * Connect server class and a work directory under `connectDir`, one entry per process group.
 */
export function connectProcesses(connectDir: string): ConnectProcess[] {
  const marker = `-Djava.io.tmpdir=${path.resolve(connectDir)}${path.sep}`;
  const groups = new Map<number, ConnectProcess>();
  let entries: string[];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return [];
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const argv = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (!argv.includes(CONNECT_SERVER_CLASS)) continue;
      const arg = argv.find((a) => a.startsWith(marker));
      if (!arg) continue;
      const serverId = arg.slice(marker.length).split(path.sep)[0]!;
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // A zombie has exited; only its exit status is left for its parent to collect.
      if (fields[0] === 'Z') continue;
      const pgid = Number(fields[2]);
      const group = groups.get(pgid) ?? { pid: pgid, pgid, serverId, members: 0 };
      group.members += 1;
      groups.set(pgid, group);
    } catch {
      // The process ended while we looked.
    }
  }
  return [...groups.values()];
}

/** Stops every local Spark Connect server under `connectDir` (`npm run dev`'s shutdown: nothing is left running). */
export async function stopLocalConnectServers(connectDir: string, graceMs = 5000): Promise<number> {
  const found = connectProcesses(connectDir);
  await Promise.all(
    found.map(async (p) => stopGroup(p.pgid, await readStartTicks(p.pgid), graceMs).catch(() => undefined)),
  );
  return found.length;
}
