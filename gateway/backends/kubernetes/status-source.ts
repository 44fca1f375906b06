/**
 * The Kubernetes backend's status-watching side: one list-then-watch per cluster (watch.ts) over our
 * SparkApplications, turned into `RunStatus` changes, deduplicated, and with leader election on a Lease per
 * cluster (lease.ts) when several processes watch, so each cluster is watched by exactly one of them.
 * Only the processes that forward status (the worker, or the watcher) build it.
 */
import type { RunStatus, StatusSource } from '../../backend.js';
import { isFinalPhase } from '../../backend.js';
import type { ClusterClient, ClusterClients } from './clients.js';
import type { LeaderElectionOptions, LeaseElector } from './lease.js';
import { createLeaseElector, leaseNameFor } from './lease.js';
import { deletedRunStatus, parseVendorRunId, runRefOf, runStatusOf } from './status.js';
import type { WatchEvent, WatchLogger } from './watch.js';
import { WATCH_HEALTH_ANNOTATION } from './watch-health.js';
import { watchSparkApplications } from './watch.js';

export interface KubernetesStatusSourceOptions {
  /** Every cluster to watch, by name (clients.ts). */
  clients: ClusterClients;
  /** Watch: server-side timeout (default 300 s) and error backoff (default 500 ms … 30 s). */
  watchTimeoutSeconds?: number;
  watchBackoffMs?: { min: number; max: number };
  /** Finished runs older than this are not replayed when a watch (re-)lists. Default 15 min. */
  replayFinishedWithinMs?: number;
  /** With it, watch() streams only the clusters whose Lease this process holds; without it, all clusters. */
  leaderElection?: LeaderElectionOptions;
  /** How long an undelivered signal keeps a cluster's watch from vouching for signals; default 10 min. */
  degradedMs?: number;
  /** Each cluster's live Spark UI template, by cluster name (observability/links.ts). */
  uiUrlTemplates?: Record<string, string>;
  logger?: WatchLogger;
}

export type KubernetesStatusSource = StatusSource & {
  /** The per-cluster lease electors (when leader election is on), for health checks and tests. */
  readonly electors: ReadonlyMap<string, LeaseElector>;
  /**
   * Whether this process's watch of `cluster` is listed and open right now, so every change reaches the
   * workflows as a signal (then they need not poll). Also published on the cluster's Lease (watch-health.ts).
   */
  watchHealthy(cluster: string): boolean;
  /**
   * A status of this source's that could not be delivered as a signal: its cluster's watch no longer vouches for
   * signals for `degradedMs` (default 10 min, twice the workflows' watched check), so every workflow there polls.
   */
  undelivered(status: RunStatus): void;
};

export function createKubernetesStatusSource(options: KubernetesStatusSourceOptions): KubernetesStatusSource {
  const { clients } = options;
  const electors = new Map<string, LeaseElector>();
  const healthy = new Map<string, boolean>();
  const degradedUntil = new Map<string, number>();
  const watchHealthy = (cluster: string) =>
    healthy.get(cluster) === true && !(Date.now() < (degradedUntil.get(cluster) ?? 0));
  if (options.leaderElection) {
    for (const client of clients.values()) {
      electors.set(
        client.name,
        createLeaseElector(
          client.coordination,
          client.throttle,
          leaseNameFor(client.name),
          {
            ...options.leaderElection,
            annotations: () => ({ [WATCH_HEALTH_ANNOTATION]: String(watchHealthy(client.name)) }),
          },
          options.logger,
        ),
      );
    }
  }

  async function* clusterStatuses(client: ClusterClient, signal: AbortSignal): AsyncIterable<RunStatus> {
    const last = new Map<string, string>();
    const replayWithin = options.replayFinishedWithinMs ?? 15 * 60_000;
    const events: AsyncIterable<WatchEvent> = watchSparkApplications(
      {
        cluster: client.name,
        kubeConfig: client.kubeConfig,
        api: client.objects,
        throttle: client.throttle,
        ...(options.watchTimeoutSeconds !== undefined ? { timeoutSeconds: options.watchTimeoutSeconds } : {}),
        ...(options.watchBackoffMs ? { backoffMs: options.watchBackoffMs } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
        onHealth: (value) => healthy.set(client.name, value),
      },
      signal,
    );
    try {
      yield* statusesOf(client, events, last, replayWithin);
    } finally {
      healthy.set(client.name, false);
    }
  }

  async function* statusesOf(
    client: ClusterClient,
    events: AsyncIterable<WatchEvent>,
    last: Map<string, string>,
    replayWithin: number,
  ): AsyncIterable<RunStatus> {
    for await (const event of events) {
      const run = runRefOf(event.object, client.name);
      if (!run) continue;
      const observedAt = new Date().toISOString();
      const status =
        event.type === 'DELETED'
          ? deletedRunStatus(event.object, run, observedAt)
          : runStatusOf(event.object, run, observedAt, { uiUrlTemplate: options.uiUrlTemplates?.[client.name] });
      if (event.type === 'LISTED' && isFinalPhase(status.phase)) {
        const at = Date.parse(event.object.status?.currentState?.lastTransitionTime ?? '');
        if (!(Date.now() - at < replayWithin)) continue; // long finished: polling has recorded it
      }
      const key = run.vendorRunId;
      const signature = `${status.phase}|${status.backendState}`;
      if (last.get(key) === signature) continue;
      // Forget ended runs, so the map holds only live ones; a later event on an ended run repeats its final status,
      // which the workflow ignores.
      if (event.type === 'DELETED' || isFinalPhase(status.phase)) last.delete(key);
      else last.set(key, signature);
      yield status;
    }
  }

  /** Streams one cluster, only while this worker leads it when leader election is on. */
  async function* ledClusterStatuses(client: ClusterClient, signal: AbortSignal): AsyncIterable<RunStatus> {
    const elector = electors.get(client.name);
    if (!elector) {
      yield* clusterStatuses(client, signal);
      return;
    }
    while (!signal.aborted) {
      if (!(await elector.whenLeader(signal))) return;
      const term = new AbortController();
      const stop = () => term.abort();
      signal.addEventListener('abort', stop, { once: true });
      void elector.whenNotLeader(term.signal).then(stop);
      try {
        yield* clusterStatuses(client, term.signal);
      } finally {
        signal.removeEventListener('abort', stop);
        term.abort();
      }
    }
  }

  async function* watch(signal: AbortSignal): AsyncIterable<RunStatus> {
    const inner = new AbortController();
    const stop = () => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    const elections = [...electors.values()].map((e) => e.run(inner.signal));
    try {
      yield* merge(
        [...clients.values()].map((c) => ledClusterStatuses(c, inner.signal)),
        inner.signal,
      );
    } finally {
      signal.removeEventListener('abort', stop);
      inner.abort();
      await Promise.allSettled(elections);
    }
  }

  const undelivered = (status: RunStatus) => {
    const { cluster } = parseVendorRunId(status.vendorRunId);
    degradedUntil.set(cluster, Date.now() + (options.degradedMs ?? 10 * 60_000));
  };

  return { name: 'kubernetes', electors, watch, watchHealthy, undelivered };
}

/** Interleaves several async streams; ends when all end or the signal aborts. An error in one ends all. */
async function* merge<T>(sources: AsyncIterable<T>[], signal: AbortSignal): AsyncIterable<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const next = (i: number) =>
    pending.set(
      i,
      iterators[i]!.next().then((r) => ({ i, r })),
    );
  iterators.forEach((_, i) => next(i));
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  try {
    while (pending.size > 0) {
      const winner = await Promise.race([...pending.values(), aborted]);
      if (winner === 'aborted') return;
      const { i, r } = winner;
      if (r.done) pending.delete(i);
      else {
        next(i);
        yield r.value;
      }
    }
  } finally {
    // Not awaited: a source busy in next() finishes its return only once the caller's abort reaches it.
    for (const it of iterators) void it.return?.().catch(() => undefined);
  }
}
