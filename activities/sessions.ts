/**
 * Activities of the session and warm pool workflows (workflows/session.ts, session-pool.ts): thin adapters over the
 * sessions store, the gateway's placement and the Connect server backends (STYLE.md §3). Every one is idempotent:
 * - session events have deterministic ids (session, type, transition number);
 * - a server's row is written before the server is started, and start is idempotent per server id on every
 *   backend (a retried start after a killed worker stops what the first one left, and starts again);
 * - a lease is one atomic UPDATE, and asking again returns the server the session already has;
 * - stop is idempotent on every backend and safe on a server that never started.
 *
 * Errors: a backend's permanent refusal is a non-retryable `BackendRejection` failure; anything else is transient
 * and retried by the workflow's retry policy.
 */
import { cancellationSignal, heartbeat, log } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { BackendRejection } from '../gateway/backend.js';
import { placeConnectServer } from '../gateway/connect/placement.js';
import type { ConnectServerBackend, ConnectServerBackends, ServerRequest } from '../gateway/connect/servers.js';
import { warmUpConnectServer } from '../gateway/connect/warm-up.js';
import type { SparkGateway } from '../gateway/index.js';
import type { ConnectBackendName, SessionEndReason, SessionEventType, SessionState } from '../schema/session-states.js';
import { poolWorkflowId } from '../schema/vocabulary.js';
import type { ServerRow, SessionPatch, SessionStore } from '../store/sessions.js';
import {
  refillSignal,
  type PoolSettings,
  type SessionInput,
  type SessionSettings,
} from '../workflows/session-definitions.js';

export interface SessionActivityDeps {
  store: SessionStore;
  gateway: SparkGateway;
  servers: ConnectServerBackends;
  /** To wake a pool after one of its servers was leased. */
  client: Client;
  sessionSettings: SessionSettings;
  poolSettings: PoolSettings;
}

export interface StartServerInput extends ServerRequest {
  /** Warmed for this pool (WARM when ready)… */
  pool?: string;
  /** …or started cold for this session (LEASED to it when ready). */
  sessionId?: string;
  backend: ConnectBackendName | 'auto';
}

export interface SessionRecordInput {
  sessionId: string;
  type: SessionEventType;
  n: number;
  payload?: Record<string, unknown>;
  state?: SessionState;
  serverId?: string;
  /** ISO times. */
  readyAt?: string;
  endedAt?: string;
  endedReason?: SessionEndReason;
  endedMessage?: string;
}

function permanent(err: unknown): never {
  if (err instanceof BackendRejection) throw ApplicationFailure.nonRetryable(err.message, 'BackendRejection');
  throw err;
}

/** What one pool round found: the size to reach, how many are warm, and what a new server of it is. */
export interface PoolRound {
  size: number;
  warm: number;
  draining: boolean;
  server?: Omit<StartServerInput, 'serverId' | 'pool' | 'sessionId'>;
}

export function createSessionActivities(deps: SessionActivityDeps) {
  const { store, servers } = deps;

  function backendOf(row: Pick<ServerRow, 'backend' | 'serverId'>): ConnectServerBackend | undefined {
    if (!row.backend) return undefined;
    const backend = servers[row.backend];
    if (!backend) permanent(new BackendRejection(`this worker has no ${row.backend} backend for Connect servers`));
    return backend;
  }

  /** Stops the server on its backend (whatever its row says), then marks the row STOPPED. */
  async function stopRow(row: ServerRow, why: string): Promise<void> {
    await backendOf(row)?.stop(row);
    await store.markStopped(row.serverId, why);
  }

  async function wakePool(pool: string): Promise<void> {
    try {
      await deps.client.workflow.getHandle(poolWorkflowId(pool)).signal(refillSignal);
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
  }

  return {
    /** The session's first step: its REQUESTED event (the API wrote the row), and the settings it runs by. */
    async beginSession(input: SessionInput): Promise<SessionSettings> {
      await store.recordEvent({
        sessionId: input.sessionId,
        type: 'REQUESTED',
        n: 0,
        at: new Date(),
        payload: { pool: input.pool ?? null, sparkVersion: input.sparkVersion, expiresAt: input.expiresAt },
      });
      return deps.sessionSettings;
    },

    /** One transition of the session: its event, and the snapshot fields that change with it. */
    async recordSession(input: SessionRecordInput): Promise<void> {
      const patch: SessionPatch = {
        ...(input.state ? { state: input.state } : {}),
        ...(input.serverId ? { serverId: input.serverId } : {}),
        ...(input.readyAt ? { readyAt: new Date(input.readyAt) } : {}),
        ...(input.endedAt ? { endedAt: new Date(input.endedAt) } : {}),
        ...(input.endedReason ? { endedReason: input.endedReason } : {}),
        ...(input.endedMessage ? { endedMessage: input.endedMessage } : {}),
      };
      await store.recordEvent({
        sessionId: input.sessionId,
        type: input.type,
        n: input.n,
        at: new Date(),
        payload: input.payload ?? {},
        ...(Object.keys(patch).length ? { patch } : {}),
      });
    },

    /**
     * Leases a warm server of the pool to the session (atomic in Postgres), skipping any that died while warm, and
     * wakes the pool so it starts a replacement. Undefined when the pool has none warm: the session starts cold.
     */
    async leaseServer(input: { sessionId: string; pool: string }): Promise<{ serverId: string } | undefined> {
      for (;;) {
        const row = await store.lease(input.pool, input.sessionId);
        if (!row) return undefined;
        if (row.state === 'LEASED' && (await backendOf(row)?.alive(row))) {
          await wakePool(input.pool);
          return { serverId: row.serverId };
        }
        log.warn('a warm Connect server had died; leasing another', { serverId: row.serverId, pool: input.pool });
        await stopRow(row, 'died while warm');
      }
    },

    /**
     * Starts one server: its row first (STARTING), then the gateway's placement (recorded once), then the backend's
     * start, heartbeating while it waits; WARM in its pool, or LEASED to its session, once it answers. A server
     * stopped while it started (its pool drained, its session released) is stopped again at once.
     */
    async startServer(input: StartServerInput): Promise<{ serverId: string; state: 'WARM' | 'LEASED' | 'STOPPED' }> {
      const { serverId } = input;
      const row = await store.createServer({
        serverId,
        pool: input.pool ?? null,
        sessionId: input.sessionId ?? null,
        team: input.team,
        sparkVersion: input.sparkVersion,
        driverMemoryMb: input.driverMemoryMb,
        state: 'STARTING',
      });
      if (row.state !== 'STARTING') return { serverId, state: row.state === 'STOPPED' ? 'STOPPED' : row.state };
      heartbeat();
      const request: ServerRequest = {
        serverId,
        team: input.team,
        sparkVersion: input.sparkVersion,
        driverMemoryMb: input.driverMemoryMb,
      };
      const placement = await placeConnectServer(deps.gateway, request, input.backend).catch(permanent);
      await store.patchServer(serverId, {
        backend: placement.backend,
        cluster: placement.cluster ?? null,
        namespace: placement.namespace ?? null,
      });
      const backend = backendOf({ serverId, backend: placement.backend })!;
      const started = await backend
        .start(request, placement, { signal: cancellationSignal(), progress: () => heartbeat() })
        .catch(permanent);
      // A pool's server runs one small query before it is offered, so its first user does not wait for its
      // warm-up; best effort (a server the worker cannot reach, as on some clusters, is offered unwarmed).
      if (input.pool) {
        const beat = setInterval(() => heartbeat(), 2000);
        try {
          await warmUpConnectServer(started);
        } catch (err) {
          log.warn('could not warm up a Connect server', { serverId, error: String(err) });
        } finally {
          clearInterval(beat);
        }
      }
      const now = new Date();
      const after = await store.patchServer(serverId, {
        host: started.host,
        port: started.port,
        token: started.token,
        pid: started.pid ?? null,
        startTicks: started.startTicks !== undefined ? String(started.startTicks) : null,
        uiPort: started.uiPort ?? null,
        objectName: started.objectName ?? null,
        ...(input.sessionId ? { state: 'LEASED', leasedAt: now } : { state: 'WARM' }),
        warmAt: now,
      });
      if (!after || after.state === 'STOPPED') {
        const { startTicks, ...where } = started;
        await backend.stop({
          serverId,
          ...where,
          ...(startTicks !== undefined ? { startTicks: String(startTicks) } : {}),
        });
        return { serverId, state: 'STOPPED' };
      }
      return { serverId, state: input.sessionId ? 'LEASED' : 'WARM' };
    },

    /**
     * One idle check: how long the session has been quiet (database time), whether its server lives, and, once it
     * has been quiet for `askBusyAfterQuietMs` (no RPC open), whether the server still runs a Spark job.
     */
    async probeSession(input: {
      sessionId: string;
      serverId: string;
      askBusyAfterQuietMs: number;
    }): Promise<{ quietMs: number; alive: boolean; busy?: boolean }> {
      const [quiet, row] = await Promise.all([store.quietMs(input.sessionId), store.getServer(input.serverId)]);
      const quietMs = quiet ?? 0;
      if (!row || row.state === 'STOPPED') return { quietMs, alive: false };
      const backend = backendOf(row);
      const alive = backend ? await backend.alive(row) : false;
      const askBusy = alive && backend && quietMs > input.askBusyAfterQuietMs;
      const busy = askBusy ? await backend.busy(row) : undefined;
      return { quietMs, alive, ...(busy !== undefined ? { busy } : {}) };
    },

    /** Stops a server (idempotent: also one already stopped, or never started). */
    async stopServer(input: { serverId: string; reason: string }): Promise<void> {
      const row = await store.getServer(input.serverId);
      if (row) await stopRow(row, input.reason).catch(permanent);
    },

    /** The pool's settings, from the worker's configuration. */
    beginPool(_pool: string): Promise<PoolSettings> {
      return Promise.resolve(deps.poolSettings);
    },

    /**
     * One round of a pool, against its `session_pools` row: stops warm servers that died, extras beyond the size
     * and starts no workflow tracks any more (`inFlight` are the ones it does), and sweeps processes no live row
     * names (a worker killed mid-start). Answers how many are warm and the size to reach.
     */
    async reconcilePool(input: { pool: string; inFlight: string[] }): Promise<PoolRound> {
      const pool = await store.getPool(input.pool);
      const draining = !pool || pool.deletedAt !== null;
      const size = draining ? 0 : pool.size;
      const warm: ServerRow[] = [];
      for (const row of await store.poolServers(input.pool)) {
        heartbeat();
        if (row.state === 'STARTING') {
          if (!input.inFlight.includes(row.serverId)) await stopRow(row, 'its start was abandoned');
        } else if (!(await backendOf(row)?.alive(row))) {
          if (await store.claimWarm(row.serverId, 'died while warm')) await backendOf(row)?.stop(row);
        } else {
          warm.push(row);
        }
      }
      // Fewer wanted than warm (a smaller size, a drain): the newest go first.
      for (const row of warm.slice(size).reverse()) {
        if (await store.claimWarm(row.serverId, 'the pool shrank')) await backendOf(row)?.stop(row);
      }
      const live = new Set((await store.liveServers()).map((r) => r.serverId));
      for (const backend of Object.values(servers)) await backend.sweep?.(live);
      return {
        size,
        warm: Math.min(warm.length, size),
        draining,
        ...(pool
          ? {
              server: {
                team: pool.team,
                sparkVersion: pool.sparkVersion,
                driverMemoryMb: pool.driverMemoryMb,
                backend: pool.backend,
              },
            }
          : {}),
      };
    },
  };
}

export type SessionActivities = ReturnType<typeof createSessionActivities>;
