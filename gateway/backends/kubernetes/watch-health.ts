/**
 * Whether a cluster's status watch is healthy, as the workers see it: then every change of a run there reaches its
 * workflow as a signal, and the workflow's safety-net poll reads nothing (no per-run GET while the watch is healthy;
 * the poll is the fallback when it is not).
 *
 * Where the answer comes from, first match wins:
 * - this process watches the cluster itself without a Lease: its own watch (status-source.ts);
 * - WATCH_LEASE_NAMESPACE is set: the cluster's watcher Lease (lease.ts). Its leader writes the annotation
 *   `spark-runner.io/watch-healthy` with every renewal (no extra writes). The watch counts as healthy when the Lease
 *   has a holder, says `true`, and was renewed within its duration plus `skewMs` of this process's clock. One read
 *   per cluster per `cacheMs` serves every workflow of this worker;
 * - otherwise nobody vouches for a watch: poll.
 * A failed read means "not watched", so a broken API server or missing RBAC falls back to polling.
 */
import type { V1Lease } from '@kubernetes/client-node';
import type { ClusterClients } from './clients.js';
import { leaseNameFor } from './lease.js';

export const WATCH_HEALTH_ANNOTATION = 'spark-runner.io/watch-healthy';

export interface WatchHealth {
  /** True when every status change of runs on `cluster` is being forwarded as a signal. */
  isWatched(cluster: string): Promise<boolean>;
}

export interface WatchHealthOptions {
  clients: ClusterClients;
  /** This process's own watch, when it watches without a Lease. */
  local?: { watchHealthy(cluster: string): boolean };
  /** Namespace of the watcher Leases (WATCH_LEASE_NAMESPACE). */
  leaseNamespace?: string;
  /** How long one Lease read answers for; default 5 s. */
  cacheMs?: number;
  /** Clock skew tolerated between the watcher and this process; default 5 s. */
  skewMs?: number;
  now?: () => number;
}

/** The Lease's verdict at `now`: held, renewed recently enough, and its holder says its watch is up. */
export function leaseVouches(lease: V1Lease, now: number, skewMs: number): boolean {
  const spec = lease.spec;
  if (!spec?.holderIdentity) return false;
  if (lease.metadata?.annotations?.[WATCH_HEALTH_ANNOTATION] !== 'true') return false;
  const renewed = Date.parse(String(spec.renewTime ?? ''));
  const duration = (spec.leaseDurationSeconds ?? 0) * 1000;
  return Number.isFinite(renewed) && now - renewed <= duration + skewMs;
}

export function createWatchHealth(options: WatchHealthOptions): WatchHealth {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 5_000;
  const skewMs = options.skewMs ?? 5_000;
  const cache = new Map<string, { at: number; answer: Promise<boolean> }>();

  async function readLease(cluster: string, namespace: string): Promise<boolean> {
    const client = options.clients.get(cluster);
    if (!client) return false;
    try {
      const lease = await client.throttle.call(() =>
        client.coordination.readNamespacedLease({ name: leaseNameFor(cluster), namespace }),
      );
      return leaseVouches(lease, now(), skewMs);
    } catch {
      return false;
    }
  }

  return {
    isWatched(cluster) {
      if (options.local) return Promise.resolve(options.local.watchHealthy(cluster));
      const namespace = options.leaseNamespace;
      if (!namespace) return Promise.resolve(false);
      const cached = cache.get(cluster);
      if (cached && now() - cached.at < cacheMs) return cached.answer;
      const answer = readLease(cluster, namespace);
      cache.set(cluster, { at: now(), answer });
      return answer;
    },
  };
}
