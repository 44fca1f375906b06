/**
 * Leader election on a `coordination.k8s.io/v1` Lease, so that of several workers exactly one watches a cluster
 * (DESIGN.md "Scale path"). The algorithm is client-go's leaderelection:
 * - Free lease (missing, or no holder): create it / write ourselves in. The API server's optimistic concurrency
 *   (resourceVersion on replace, AlreadyExists on create) lets exactly one contender win a race.
 * - Held by us: renew `renewTime` every `renewMs`.
 * - Held by another: it has expired when its record (holder + renewTime) has not changed for `leaseDurationMs`
 *   *as measured on our clock* since we first saw that record, so clock skew between workers does not matter.
 *   Then take it over (`leaseTransitions` + 1).
 * - A leader that cannot renew for `renewDeadlineMs` (default 2/3 of the lease duration) steps down, before any
 *   contender can consider the lease expired.
 * - On stop, a leader releases the lease (empty holder) unless `releaseOnStop` is false, so a successor need
 *   not wait for expiry.
 */
import type { CoordinationV1Api, V1Lease } from '@kubernetes/client-node';
import type { Throttle } from './throttle.js';
import { httpStatusOf } from './throttle.js';
import { pause } from '../pause.js';
import type { WatchLogger } from './watch.js';

export interface LeaderElectionOptions {
  /** Namespace that holds the Leases (must exist). */
  namespace: string;
  /** This worker's identity, unique among contenders (e.g. hostname + pid). */
  identity: string;
  leaseDurationMs: number;
  renewMs: number;
  renewDeadlineMs?: number;
  /** Release the lease when stopped (default true). */
  releaseOnStop?: boolean;
  /**
   * Annotations written with every acquire and renewal (no extra writes): the watcher publishes its watch's health
   * here (watch-health.ts), where the workers read it.
   */
  annotations?: () => Record<string, string>;
}

export interface LeaseElector {
  readonly name: string;
  isLeader(): boolean;
  /** Resolves true once this elector leads, false if the signal aborted first. */
  whenLeader(signal: AbortSignal): Promise<boolean>;
  /** Resolves when leadership is lost (or the signal aborts). */
  whenNotLeader(signal: AbortSignal): Promise<void>;
  /** Runs the election loop until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * A MicroTime as the API server parses it (`2006-01-02T15:04:05.000000Z07:00`). client-node 1.4 types MicroTime
 * as Date and sends `toISOString()`'s milliseconds, which the server refuses with 400, so the string is sent
 * instead (the serializer passes non-Date values through unchanged).
 */
function microTime(value: number | Date | string): Date {
  const iso = new Date(value).toISOString(); // …T06:01:46.952Z
  return `${iso.slice(0, -1)}000Z` as unknown as Date;
}

export function leaseNameFor(cluster: string): string {
  const safe = cluster
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return `spark-runner-watcher-${safe}`.slice(0, 253);
}

export function createLeaseElector(
  api: CoordinationV1Api,
  throttle: Throttle,
  name: string,
  options: LeaderElectionOptions,
  logger?: WatchLogger,
  now: () => number = Date.now,
): LeaseElector {
  const { namespace, identity, leaseDurationMs, renewMs } = options;
  const renewDeadlineMs = options.renewDeadlineMs ?? Math.floor((leaseDurationMs * 2) / 3);
  const durationSeconds = Math.max(1, Math.ceil(leaseDurationMs / 1000));
  let leader = false;
  let lastRenewAt = 0;
  let observed: { key: string; at: number } | undefined;
  const listeners = new Set<() => void>();

  const setLeader = (value: boolean) => {
    if (leader === value) return;
    leader = value;
    logger?.info({ lease: `${namespace}/${name}`, identity }, value ? 'became leader' : 'lost leadership');
    for (const listener of [...listeners]) listener();
  };

  const metadata = (previous: V1Lease['metadata']): V1Lease['metadata'] => {
    const extra = options.annotations?.();
    return extra ? { ...previous, annotations: { ...previous?.annotations, ...extra } } : previous;
  };

  const spec = (transitions: number, acquire: boolean, previous?: V1Lease['spec']): V1Lease['spec'] => {
    const t = microTime(now());
    return {
      holderIdentity: identity,
      leaseDurationSeconds: durationSeconds,
      acquireTime: acquire || !previous?.acquireTime ? t : microTime(previous.acquireTime),
      renewTime: t,
      leaseTransitions: transitions,
    };
  };

  /** One round: true if we lead afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    let current: V1Lease;
    try {
      current = await throttle.call(() => api.readNamespacedLease({ name, namespace }));
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
      try {
        await throttle.call(() =>
          api.createNamespacedLease({
            namespace,
            body: {
              apiVersion: 'coordination.k8s.io/v1',
              kind: 'Lease',
              metadata: metadata({ name }),
              spec: spec(0, true),
            },
          }),
        );
        return true;
      } catch (createErr) {
        if (httpStatusOf(createErr) === 409) return false;
        throw createErr;
      }
    }
    const holder = current.spec?.holderIdentity ?? '';
    const key = `${holder}|${String(current.spec?.renewTime ?? '')}`;
    if (observed?.key !== key) observed = { key, at: now() };
    const mine = holder === identity;
    const expired = !holder || now() - observed.at >= leaseDurationMs;
    if (!mine && !expired) return false;
    const transitions = (current.spec?.leaseTransitions ?? 0) + (mine ? 0 : 1);
    try {
      await throttle.call(() =>
        api.replaceNamespacedLease({
          name,
          namespace,
          body: { ...current, metadata: metadata(current.metadata), spec: spec(transitions, !mine, current.spec) },
        }),
      );
      return true;
    } catch (err) {
      if (httpStatusOf(err) === 409) return false; // someone else wrote first
      throw err;
    }
  }

  async function release(): Promise<void> {
    try {
      const current = await api.readNamespacedLease({ name, namespace });
      if (!current.spec || current.spec.holderIdentity !== identity) return;
      await api.replaceNamespacedLease({
        name,
        namespace,
        body: {
          ...current,
          spec: {
            ...current.spec,
            holderIdentity: '',
            leaseDurationSeconds: 1,
            acquireTime: microTime(current.spec.acquireTime ?? now()),
            renewTime: microTime(now()),
          },
        },
      });
    } catch (err) {
      logger?.warn({ lease: `${namespace}/${name}`, err: String(err) }, 'could not release the lease');
    }
  }

  const waitFor = (predicate: () => boolean, signal: AbortSignal) =>
    new Promise<boolean>((resolve) => {
      if (predicate()) return resolve(true);
      if (signal.aborted) return resolve(false);
      const done = (value: boolean) => {
        listeners.delete(check);
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const check = () => predicate() && done(true);
      const onAbort = () => done(false);
      listeners.add(check);
      signal.addEventListener('abort', onAbort, { once: true });
    });

  return {
    name,
    isLeader: () => leader,
    whenLeader: (signal) => waitFor(() => leader, signal),
    whenNotLeader: async (signal) => {
      await waitFor(() => !leader, signal);
    },
    async run(signal) {
      while (!signal.aborted) {
        try {
          if (await tryAcquireOrRenew()) {
            lastRenewAt = now();
            setLeader(true);
          } else {
            setLeader(false); // another holder's valid lease, or it wrote first
          }
        } catch (err) {
          logger?.warn({ lease: `${namespace}/${name}`, err: String(err) }, 'lease round failed');
          if (leader && now() - lastRenewAt > renewDeadlineMs) setLeader(false);
        }
        if (!(await pause(renewMs, signal))) break;
      }
      const wasLeader = leader;
      setLeader(false);
      if (wasLeader && options.releaseOnStop !== false) await release();
    },
  };
}
