/**
 * Leader election for the per-cluster status watcher on a real API server's `coordination.k8s.io/v1` Leases:
 * of several workers exactly one leads at a time, and a leader that stops renewing is replaced after the lease
 * expires. Short lease durations keep the test fast.
 */
import { randomUUID } from 'node:crypto';
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunStatus } from '../../gateway/backend.js';
import type { LeaseElector } from '../../gateway/backends/kubernetes/index.js';
import {
  createClusterClients,
  createKubernetesBackend,
  createKubernetesStatusSource,
  createLeaseElector,
  createThrottle,
  leaseNameFor,
} from '../../gateway/backends/kubernetes/index.js';
import type { KubeApiServer } from '../../provision/kubernetes/index.js';
import { startTestKube } from '../helpers/kube.js';
import { JobSpec } from '../../schema/job-spec.js';

const LEASE_NS = 'spark-runner';
const LEASE_MS = 1_500;
const RENEW_MS = 150;

let server: KubeApiServer;
let api: CoordinationV1Api;

beforeAll(async () => {
  server = await startTestKube('lease', [LEASE_NS, 'sjns-fin']);
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  api = kc.makeApiClient(CoordinationV1Api);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

function elector(name: string, identity: string, releaseOnStop = true): LeaseElector {
  return createLeaseElector(api, createThrottle({ qps: 100, burst: 100 }), name, {
    namespace: LEASE_NS,
    identity,
    leaseDurationMs: LEASE_MS,
    renewMs: RENEW_MS,
    releaseOnStop,
  });
}

/** Samples the electors every 25 ms for `ms`, failing on any moment with two leaders. */
async function sampleLeaders(electors: LeaseElector[], ms: number): Promise<Set<number>> {
  const leaders = new Set<number>();
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const now = electors.flatMap((e, i) => (e.isLeader() ? [i] : []));
    expect(now.length).toBeLessThanOrEqual(1);
    now.forEach((i) => leaders.add(i));
    await new Promise((r) => setTimeout(r, 25));
  }
  return leaders;
}

describe('watcher leader election on a Lease', () => {
  it('elects exactly one of three holders, and another takes over after expiry when the leader stops renewing', async () => {
    const name = leaseNameFor('east-1');
    const electors = ['a', 'b', 'c'].map((id) => elector(name, `worker-${id}`, false));
    const controllers = electors.map(() => new AbortController());
    const runs = electors.map((e, i) => e.run(controllers[i]!.signal));

    const firstLeaders = await sampleLeaders(electors, 1_000);
    expect(firstLeaders.size).toBe(1);
    const first = [...firstLeaders][0]!;
    const lease = await api.readNamespacedLease({ name, namespace: LEASE_NS });
    expect(lease.spec?.holderIdentity).toBe(`worker-${['a', 'b', 'c'][first]}`);

    // The leader "crashes": it stops renewing and does not release.
    const stoppedAt = Date.now();
    controllers[first]!.abort();
    await runs[first];
    const rest = electors.filter((_, i) => i !== first);
    while (!rest.some((e) => e.isLeader())) {
      expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS * 4);
      expect(rest.filter((e) => e.isLeader()).length).toBeLessThanOrEqual(1);
      await new Promise((r) => setTimeout(r, 20));
    }
    const takeoverMs = Date.now() - stoppedAt;
    console.log(`[lease] takeover ${takeoverMs} ms after the leader stopped renewing (lease ${LEASE_MS} ms)`);
    expect(takeoverMs).toBeGreaterThanOrEqual(LEASE_MS - RENEW_MS * 2);
    expect((await sampleLeaders(rest, 600)).size).toBe(1);
    const after = await api.readNamespacedLease({ name, namespace: LEASE_NS });
    expect(after.spec?.holderIdentity).not.toBe(lease.spec?.holderIdentity);
    expect(after.spec?.leaseTransitions).toBe((lease.spec?.leaseTransitions ?? 0) + 1);

    controllers.forEach((c) => c.abort());
    await Promise.all(runs);
  });

  it('hands the lease over at once when a leader stops gracefully', async () => {
    const name = leaseNameFor('west-1');
    const [a, b] = [elector(name, 'worker-a'), elector(name, 'worker-b')];
    const ca = new AbortController();
    const cb = new AbortController();
    const ra = a.run(ca.signal);
    expect(await a.whenLeader(AbortSignal.timeout(3_000))).toBe(true);
    const rb = b.run(cb.signal);
    await new Promise((r) => setTimeout(r, RENEW_MS * 3));
    expect(b.isLeader()).toBe(false);
    const stoppedAt = Date.now();
    ca.abort();
    await ra;
    expect(await b.whenLeader(AbortSignal.timeout(3_000))).toBe(true);
    expect(Date.now() - stoppedAt).toBeLessThan(LEASE_MS);
    cb.abort();
    await rb;
  });

  it('streams a cluster from the watch() of the leading worker only', async () => {
    const northClients = () => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(server.kubeconfigPath);
      return createClusterClients([{ name: 'north', kubeConfig }], { qps: 100, burst: 100 });
    };
    const watcherFor = (identity: string) =>
      createKubernetesStatusSource({
        clients: northClients(),
        leaderElection: { namespace: LEASE_NS, identity, leaseDurationMs: LEASE_MS, renewMs: RENEW_MS },
      });
    const workers = [watcherFor('w1'), watcherFor('w2')];
    const submitter = createKubernetesBackend({
      clients: northClients(),
      sparkVersions: { '4.0': '4.0.1' },
      images: { '4.0': 'apache/spark:4.0.1' },
      retention: { resourceRetainPolicy: 'Never', ttlAfterStopMillis: -1 },
    });
    const seen: RunStatus[][] = [[], []];
    const controller = new AbortController();
    const streams = workers.map(async (w, i) => {
      for await (const s of w.watch(controller.signal)) seen[i]!.push(s);
    });
    const electedBy = Date.now() + 5_000;
    while (!workers.some((w) => w.electors.get('north')!.isLeader())) {
      expect(Date.now()).toBeLessThan(electedBy);
      await new Promise((r) => setTimeout(r, 20));
    }
    const leader = workers.findIndex((w) => w.electors.get('north')!.isLeader());
    const executionId = randomUUID();
    await submitter.submit(
      {
        executionId,
        attempt: 1,
        team: 'payments',
        jobPath: 'payments/x',
        spec: JobSpec.parse({ name: 'x', engineVersion: '4.0', application: { type: 'python', file: 'a.py' } }),
      },
      { backend: 'kubernetes', cluster: 'north', namespace: 'sjns-fin', reason: 'test' },
    );
    const deadline = Date.now() + 5_000;
    while (!seen[leader]!.some((s) => s.executionId === executionId)) {
      expect(Date.now()).toBeLessThan(deadline);
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 300));
    expect(seen[1 - leader]!.filter((s) => s.executionId === executionId)).toEqual([]);
    controller.abort();
    await Promise.all(streams);
  });
});
