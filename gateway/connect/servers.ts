/**
 * The Spark Connect server contract: what a backend that hosts Connect servers offers (local processes, and
 * SparkApplications on Kubernetes). Sessions and pools depend only on this; the gateway decides where each server
 * goes (connect/placement.ts), and a backend only drives what it was given (STYLE.md §15).
 *
 * Contract for implementations (STYLE.md §6):
 * - start is idempotent per server id: a second call (a retried activity, after the first worker was killed) never
 *   leaves two servers behind; whatever the first call started is stopped or adopted. It resolves once the server
 *   answers RPCs, and stops what it started when its signal aborts.
 * - stop is idempotent and safe on a server that is already gone or never started.
 * - alive and busy read once; busy is best effort (undefined when it cannot tell).
 * - Permanent refusals (an engine version the backend cannot serve) are `BackendRejection`; anything else thrown is
 *   transient.
 */
import type { ConnectBackendName } from '../../schema/session-states.js';
import type { Placement } from '../backend.js';

/** One server to start: its id (its names derive from it), whose it is, and its size. */
export interface ServerRequest {
  serverId: string;
  team: string;
  sparkVersion: string;
  driverMemoryMb: number;
}

/** A started server, as recorded (connect_servers) and as the proxy routes to it. */
export interface StartedServer {
  /** Where the proxy connects: loopback for a local server, the Service's cluster DNS name on Kubernetes. */
  host: string;
  port: number;
  /** The server's own bearer token; only the proxy ever sends it. */
  token: string;
  pid?: number;
  startTicks?: number;
  uiPort?: number;
  cluster?: string;
  namespace?: string;
  objectName?: string;
}

/** What a backend needs to find a server again: its record. */
export interface ServerRecord {
  serverId: string;
  host?: string | null;
  port?: number | null;
  pid?: number | null;
  startTicks?: string | null;
  uiPort?: number | null;
  cluster?: string | null;
  namespace?: string | null;
  objectName?: string | null;
}

export interface ConnectServerBackend {
  readonly name: ConnectBackendName;
  /** Starts the server on the placement and resolves once it answers; calls `progress` while it waits. */
  start(
    request: ServerRequest,
    placement: Placement,
    options: { signal: AbortSignal; progress?: () => void },
  ): Promise<StartedServer>;
  /** Whether the server is still up (its process, or its SparkApplication running). */
  alive(server: ServerRecord): Promise<boolean>;
  /** Whether the server runs a Spark job right now (counts as activity); undefined when it cannot tell. */
  busy(server: ServerRecord): Promise<boolean | undefined>;
  stop(server: ServerRecord): Promise<void>;
  /** Stops servers of this backend that no live record names (local: processes left by a killed worker). */
  sweep?(liveServerIds: ReadonlySet<string>): Promise<string[]>;
}

/** The Connect backends of a process, by name. */
export type ConnectServerBackends = Partial<Record<ConnectBackendName, ConnectServerBackend>>;

/** Asks a Spark driver's REST API whether any job is running: GET /api/v1/applications/{id}/jobs?status=running. */
export async function sparkJobRunning(uiBase: string, timeoutMs = 2000): Promise<boolean | undefined> {
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const apps = (await (await fetch(`${uiBase}/api/v1/applications`, { signal })).json()) as Array<{ id: string }>;
    for (const app of apps) {
      const res = await fetch(`${uiBase}/api/v1/applications/${encodeURIComponent(app.id)}/jobs?status=running`, {
        signal,
      });
      const jobs = (await res.json()) as unknown[];
      if (jobs.length > 0) return true;
    }
    return false;
  } catch {
    return undefined;
  }
}
