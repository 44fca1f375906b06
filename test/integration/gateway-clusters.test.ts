/**
 * The gateway's cluster routing against two real kube-apiservers (each with its own etcd and the Spark
 * operator's SparkApplication CRD): clusters come from a clusters file, the health monitor probes them, and
 * routing follows what it sees — by weight while both are healthy, all to the survivor when one loses its CRD
 * or goes down, and to EMR (or a clear "none") when both are gone.
 */
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emrConfigured,
  GatewayConfigError,
  kubeConfigFor,
  loadGatewayConfig,
  type GatewayConfig,
} from '../../gateway/clusters.js';
import { HealthMonitor, probeCluster, SPARK_APPLICATION_CRD, type ClusterHealth } from '../../gateway/health.js';
import { chooseTarget, seededRandom, type RoutingDecision } from '../../gateway/routing.js';
import { installCrd, kubeRequest, startKubeApiServer, type KubeApiServer } from '../../provision/kubernetes/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const APP_CRD = path.resolve(
  ROOT,
  '../shared/anchors/apache-spark-k8s-operator/crds/sparkapplications.spark.apache.org-v1.yaml',
);
const CRD_PATH = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${SPARK_APPLICATION_CRD}`;

type Obj = Record<string, unknown>;

/** One kubeconfig holding both servers as contexts `east` and `west`, to exercise context selection. */
function combinedKubeconfig(servers: Record<string, KubeApiServer>): string {
  const names = Object.keys(servers);
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: names.map((n) => ({
      name: n,
      cluster: {
        server: servers[n]!.url,
        'certificate-authority-data': Buffer.from(servers[n]!.ca).toString('base64'),
      },
    })),
    users: names.map((n) => ({ name: `${n}-admin`, user: { token: servers[n]!.token } })),
    contexts: names.map((n) => ({ name: n, context: { cluster: n, user: `${n}-admin` } })),
    'current-context': names[0],
  });
}

async function until<T>(what: string, read: () => T, ok: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = read();
  while (!ok(value)) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 100));
    value = read();
  }
  return value;
}

describe('gateway cluster routing across two real kube-apiservers', () => {
  let dir: string;
  let east: KubeApiServer;
  let west: KubeApiServer;
  let config: GatewayConfig;
  let monitor: HealthMonitor;
  let clustersFile: string;
  const flips: Array<{ name: string; health: ClusterHealth }> = [];

  function decide(overrides: { emr?: boolean; random?: () => number } = {}): RoutingDecision {
    return chooseTarget({
      clusters: config.clusters,
      health: monitor.snapshot(),
      load: {},
      preferredRegion: config.preferredRegion,
      emrConfigured: overrides.emr ?? emrConfigured(config),
      random: overrides.random ?? Math.random,
    });
  }

  function tally(n: number): Record<string, number> {
    const random = seededRandom(11);
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const d = decide({ random });
      const key = d.kind === 'kubernetes' ? d.cluster : d.kind;
      counts[key] = (counts[key] ?? 0) + 1;
    }
    return counts;
  }

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'gateway-clusters-'));
    const binaries = { kubeApiserver: process.env.KUBE_APISERVER!, etcd: process.env.ETCD! };
    const started = Date.now();
    const results = await Promise.allSettled(
      ['east', 'west'].map(async (name) => {
        const server = await startKubeApiServer({ ...binaries, dir: path.join(dir, name), onLine: null });
        try {
          await installCrd(server, APP_CRD);
        } catch (err) {
          await server.stop();
          throw err;
        }
        return server;
      }),
    );
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) {
      for (const r of results) if (r.status === 'fulfilled') await r.value.stop();
      throw failed.reason;
    }
    [east, west] = results.map((r) => (r as PromiseFulfilledResult<KubeApiServer>).value) as [
      KubeApiServer,
      KubeApiServer,
    ];
    console.log(`[gateway-clusters] two kube-apiservers with the CRD ready in ${Date.now() - started} ms`);

    fs.mkdirSync(path.join(dir, 'kube'));
    fs.writeFileSync(path.join(dir, 'kube', 'both.yaml'), combinedKubeconfig({ east, west }), { mode: 0o600 });
    clustersFile = path.join(dir, 'clusters.yaml');
    fs.writeFileSync(
      clustersFile,
      YAML.stringify({
        preferredRegion: 'us-east-1',
        clusters: [
          // Same region, so weights (3:1) decide the spread rather than region preference.
          {
            name: 'east',
            region: 'us-east-1',
            weight: 3,
            capacity: 100,
            kubeconfig: 'kube/both.yaml',
            context: 'east',
          },
          {
            name: 'west',
            region: 'us-east-1',
            weight: 1,
            capacity: 100,
            kubeconfig: 'kube/both.yaml',
            context: 'west',
          },
        ],
        emr: {
          region: 'us-east-1',
          virtualClusterId: 'vc-test',
          executionRoleArn: 'arn:aws:iam::123456789012:role/test',
          releaseLabels: { '3.5': 'emr-7.9.0-latest' },
          logUri: 's3://logs/',
        },
        teamDomains: { payments: 'data-control' },
      }),
    );
    config = loadGatewayConfig(clustersFile);
    monitor = new HealthMonitor(
      config.clusters.map((c) => ({ name: c.name, kubeConfig: kubeConfigFor(c) })),
      { intervalMs: 200, timeoutMs: 1000, onChange: (name, health) => flips.push({ name, health }) },
    );
    await monitor.start();
  }, 300_000);

  afterAll(async () => {
    await monitor?.stop();
    await Promise.all([east?.stop(), west?.stop()]);
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('loads both clusters from the clusters file, selecting each context, and probes both healthy', () => {
    expect(config.clusters.map((c) => [c.name, c.weight, c.capacity, c.namespacePrefix])).toEqual([
      ['east', 3, 100, 'sjns-'],
      ['west', 1, 100, 'sjns-'],
    ]);
    expect(config.clusters[0]!.kubeconfig).toBe(path.join(dir, 'kube', 'both.yaml'));
    expect(kubeConfigFor(config.clusters[1]!).getCurrentCluster()?.server).toBe(west.url);
    const snapshot = monitor.snapshot();
    expect(snapshot.east).toMatchObject({ healthy: true });
    expect(snapshot.west).toMatchObject({ healthy: true });
    expect(Date.parse(snapshot.east!.checkedAt)).toBeGreaterThan(0);
    expect(flips.map((f) => [f.name, f.health.healthy]).sort()).toEqual([
      ['east', true],
      ['west', true],
    ]);
  });

  it('spreads 4,000 choices 3:1 by weight while both clusters are healthy', () => {
    const counts = tally(4000);
    expect(Object.keys(counts).sort()).toEqual(['east', 'west']);
    expect(Math.abs(counts.east! / 4000 - 0.75)).toBeLessThan(0.03);
  });

  it('probes an in-cluster configuration through the service-account token and CA files', async () => {
    const prefix = path.join(dir, 'pod');
    const sa = path.join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
    fs.mkdirSync(sa, { recursive: true });
    fs.writeFileSync(path.join(sa, 'token'), east.token);
    fs.writeFileSync(path.join(sa, 'ca.crt'), east.ca);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    const url = new URL(east.url);
    process.env.KUBERNETES_SERVICE_HOST = url.hostname;
    process.env.KUBERNETES_SERVICE_PORT = url.port;
    try {
      const kc = kubeConfigFor(
        { name: 'pod', region: 'us-east-1', weight: 1, capacity: 1, inCluster: true, namespacePrefix: 'sjns-' },
        { inClusterPathPrefix: prefix },
      );
      expect(await probeCluster(kc)).toMatchObject({ healthy: true });
    } finally {
      for (const [key, value] of [
        ['KUBERNETES_SERVICE_HOST', saved.host],
        ['KUBERNETES_SERVICE_PORT', saved.port],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('reports rejected credentials and a server that never answers as unhealthy, with the reason', async () => {
    const withToken = (server: string, token: string, ca?: string): KubeConfig => {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'c', server, ...(ca ? { caData: Buffer.from(ca).toString('base64') } : {}) }],
        users: [{ name: 'u', token }],
        contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
        currentContext: 'x',
      });
      return kc;
    };
    const refused = await probeCluster(withToken(east.url, 'not-a-token', east.ca));
    expect(refused.healthy).toBe(false);
    expect(refused.reason).toMatch(/^API server https:\/\/127\.0\.0\.1:\d+ refused the credentials: HTTP 401/);

    // Accepts TCP connections and never says a word, like a wedged load balancer.
    const sockets: net.Socket[] = [];
    const silent = net.createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = silent.address() as net.AddressInfo;
      const started = Date.now();
      const health = await probeCluster(withToken(`https://127.0.0.1:${port}`, 't'), { timeoutMs: 300 });
      expect(health.healthy).toBe(false);
      expect(health.reason).toMatch(/is unreachable: no answer within 300 ms/);
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('marks a cluster whose SparkApplication CRD was deleted unhealthy, routes all to the other, and recovers', async () => {
    const deleted = await kubeRequest(west, 'DELETE', CRD_PATH);
    expect(deleted.status, deleted.text).toBeLessThan(300);
    const down = await until(
      'west to be unhealthy',
      () => monitor.snapshot().west!,
      (h) => !h.healthy,
    );
    expect(down.reason).toMatch(/CRD sparkapplications\.spark\.apache\.org .*(is not installed|is being deleted)/);
    expect(tally(1000)).toEqual({ east: 1000 });
    expect(flips.at(-1)).toMatchObject({ name: 'west', health: { healthy: false } });

    // Deletion may still be finishing; installCrd replaces or recreates it, then waits for Established.
    await until(
      'the CRD deletion to finish',
      () => monitor.snapshot().west!.reason ?? '',
      (r) => r.includes('is not installed'),
    );
    await installCrd(west, APP_CRD);
    await until(
      'west to be healthy again',
      () => monitor.snapshot().west!,
      (h) => h.healthy,
    );
    expect(Object.keys(tally(1000)).sort()).toEqual(['east', 'west']);
  });

  it('marks a stopped cluster unreachable and routes every new choice to the other', async () => {
    await west.stop();
    const down = await until(
      'west to be unhealthy',
      () => monitor.snapshot().west!,
      (h) => !h.healthy,
    );
    expect(down.reason).toMatch(new RegExp(`API server ${west.url.replace(/\./g, '\\.')} is unreachable`));
    expect(monitor.snapshot().east!.healthy).toBe(true);
    expect(tally(1000)).toEqual({ east: 1000 });
  });

  it('routes to EMR when no cluster is healthy and EMR is configured, and says why when it is not', async () => {
    await east.stop();
    await until(
      'east to be unhealthy',
      () => monitor.snapshot().east!,
      (h) => !h.healthy,
    );
    const emr = decide();
    expect(emr.kind).toBe('emr');
    expect(emr.reason).toMatch(/no Kubernetes cluster is healthy with spare capacity/);
    expect(emr.reason).toMatch(/east \[us-east-1\]: unhealthy: API server .* is unreachable/);
    expect(emr.reason).toMatch(/west \[us-east-1\]: unhealthy: API server .* is unreachable/);
    const none = decide({ emr: false });
    expect(none.kind).toBe('none');
    expect(none.reason).toMatch(/and EMR is not configured as a fallback$/);
  });

  it('rejects a clusters file with a bad entry, naming the file, the entry and the field', () => {
    const bad = path.join(dir, 'bad-clusters.yaml');
    fs.writeFileSync(
      bad,
      YAML.stringify({
        clusters: [
          { name: 'east', region: 'us-east-1', capacity: 10, kubeconfig: 'kube/both.yaml' },
          { name: 'west', region: 'us-west-2', capacity: 'lots', kubeconfig: 'kube/both.yaml' },
          { name: 'nowhere', region: 'us-west-2', capacity: 5 },
        ],
      } satisfies Obj),
    );
    expect(() => loadGatewayConfig(bad)).toThrow(GatewayConfigError);
    let message = '';
    try {
      loadGatewayConfig(bad);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain(`${bad}: clusters[1] ("west") field "capacity": `);
    expect(message).toContain(`${bad}: clusters[2] ("nowhere") field "kubeconfig": required unless inCluster: true`);

    const wrongContext = loadGatewayConfig(clustersFile).clusters[0]!;
    expect(() => kubeConfigFor({ ...wrongContext, context: 'south' })).toThrow(
      /cluster "east": context "south" is not in .*both\.yaml \(contexts: east, west\)/,
    );
  });
});
