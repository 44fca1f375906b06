/**
 * Cluster health for routing. A cluster is healthy when both hold:
 *  1. its API server answers `GET /readyz` with 200 within the timeout, and
 *  2. the `sparkapplications.spark.apache.org` CRD exists, is Established and is not being deleted (otherwise
 *     a SparkApplication could not be stored there, or would be removed with the CRD).
 *
 * Probe contract: `probeCluster` never throws; every failure (connection refused, timeout, TLS, 401/403, a
 * missing CRD) becomes `{ healthy: false, reason }` with a one-line reason for people and the routing decision.
 * Requests use the kubeconfig's CA, client certificate and token (or token file), on a fresh connection each
 * time, so a dead server is noticed instead of hidden behind a pooled socket. Proxies in kubeconfigs are ignored.
 */
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

export const SPARK_APPLICATION_CRD = 'sparkapplications.spark.apache.org';

export interface ClusterHealth {
  healthy: boolean;
  /** Why the cluster is unhealthy; absent when healthy. */
  reason?: string;
  /** ISO-8601 time the probe finished. */
  checkedAt: string;
}

export interface ProbeOptions {
  /** Per-request timeout. */
  timeoutMs?: number;
  /** The CRD that must be Established. */
  crdName?: string;
}

interface Answer {
  status: number;
  body: unknown;
}

async function get(kc: KubeConfig, apiPath: string, timeoutMs: number): Promise<Answer> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(options);
  // A fresh connection per probe: a pooled keep-alive socket could outlive the server it probes.
  options.agent = false;
  options.timeout = timeoutMs;
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(apiPath, server), options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          body = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function conditions(body: unknown): Array<{ type?: unknown; status?: unknown; message?: unknown }> {
  const list = (body as { status?: { conditions?: unknown } } | undefined)?.status?.conditions;
  return Array.isArray(list) ? (list as Array<{ type?: unknown; status?: unknown; message?: unknown }>) : [];
}

function statusText(answer: Answer): string {
  const message = (answer.body as { message?: unknown } | undefined)?.message;
  return `HTTP ${answer.status}${typeof message === 'string' ? ` (${message})` : ''}`;
}

/** Probes one cluster: API ready and the SparkApplication CRD Established. Never throws. */
export async function probeCluster(kc: KubeConfig, options: ProbeOptions = {}): Promise<ClusterHealth> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const crd = options.crdName ?? SPARK_APPLICATION_CRD;
  const server = kc.getCurrentCluster()?.server ?? '(no server)';
  const unhealthy = (reason: string): ClusterHealth => ({
    healthy: false,
    reason,
    checkedAt: new Date().toISOString(),
  });
  try {
    const ready = await get(kc, '/readyz', timeoutMs);
    if (ready.status === 401 || ready.status === 403) {
      return unhealthy(`API server ${server} refused the credentials: ${statusText(ready)}`);
    }
    if (ready.status !== 200) return unhealthy(`API server ${server} is not ready: ${statusText(ready)}`);
  } catch (err) {
    return unhealthy(`API server ${server} is unreachable: ${(err as Error).message}`);
  }
  try {
    const res = await get(kc, `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd}`, timeoutMs);
    if (res.status === 404) return unhealthy(`CRD ${crd} is not installed on ${server}`);
    if (res.status !== 200) return unhealthy(`cannot read CRD ${crd} on ${server}: ${statusText(res)}`);
    if ((res.body as { metadata?: { deletionTimestamp?: unknown } } | undefined)?.metadata?.deletionTimestamp) {
      return unhealthy(`CRD ${crd} on ${server} is being deleted`);
    }
    const established = conditions(res.body).find((c) => c.type === 'Established');
    if (established?.status !== 'True') {
      const detail = typeof established?.message === 'string' ? `: ${established.message}` : '';
      return unhealthy(`CRD ${crd} on ${server} is not Established${detail}`);
    }
  } catch (err) {
    return unhealthy(`API server ${server} is unreachable: ${(err as Error).message}`);
  }
  return { healthy: true, checkedAt: new Date().toISOString() };
}

export interface MonitoredCluster {
  name: string;
  kubeConfig: KubeConfig;
}

export interface HealthMonitorOptions {
  /** Pause between the end of one probe round and the start of the next. */
  intervalMs?: number;
  /** Per-request probe timeout. */
  timeoutMs?: number;
  /** Called when a cluster's healthy flag flips (including its first result). */
  onChange?: (name: string, health: ClusterHealth) => void;
  /** Called after every round with the snapshot (the worker records it for the processes that do not probe). */
  onRound?: (snapshot: Record<string, ClusterHealth>) => void | Promise<void>;
  /** The probe; defaults to `probeCluster`. */
  probe?: (kc: KubeConfig) => Promise<ClusterHealth>;
}

/**
 * Probes every cluster in rounds (all clusters concurrently, then `intervalMs` of rest) and keeps the latest
 * result per cluster. A cluster not yet probed reads as unhealthy ("not probed yet"), so nothing is routed to a
 * cluster before it has been seen healthy. `stop()` ends the loop and waits for a round in flight.
 */
export class HealthMonitor {
  private readonly results = new Map<string, ClusterHealth>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;
  private readonly intervalMs: number;
  private readonly probe: (kc: KubeConfig) => Promise<ClusterHealth>;

  constructor(
    private readonly clusters: readonly MonitoredCluster[],
    private readonly options: HealthMonitorOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000;
    this.probe = options.probe ?? ((kc) => probeCluster(kc, { timeoutMs: options.timeoutMs ?? 3000 }));
  }

  /**
   * Starts probing; resolves after the first round, so `snapshot()` then holds a result for every cluster.
   * Calling it while already running only runs an extra round.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.probeNow();
    this.schedule();
  }

  /** Runs one round now (joining one already in flight) and returns the resulting snapshot. */
  async probeNow(): Promise<Record<string, ClusterHealth>> {
    this.round ??= this.runRound().finally(() => {
      this.round = undefined;
    });
    await this.round;
    return this.snapshot();
  }

  /** The latest result per cluster name (`checkedAt` is empty for a cluster not yet probed). */
  snapshot(): Record<string, ClusterHealth> {
    const out: Record<string, ClusterHealth> = {};
    for (const { name } of this.clusters) {
      out[name] = this.results.get(name) ?? { healthy: false, reason: 'not probed yet', checkedAt: '' };
    }
    return out;
  }

  /** Stops probing; waits for a round in flight. Safe to call twice. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.round;
  }

  private schedule(): void {
    if (this.stopped || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.probeNow().then(() => this.schedule());
    }, this.intervalMs);
    this.timer.unref();
  }

  private async runRound(): Promise<void> {
    await Promise.all(
      this.clusters.map(async ({ name, kubeConfig }) => {
        const health = await this.probe(kubeConfig).catch((err: unknown): ClusterHealth => ({
          healthy: false,
          reason: `probe failed: ${(err as Error).message}`,
          checkedAt: new Date().toISOString(),
        }));
        const before = this.results.get(name);
        this.results.set(name, health);
        if (before?.healthy !== health.healthy) this.options.onChange?.(name, health);
      }),
    );
    await Promise.resolve(this.options.onRound?.(this.snapshot())).catch(() => undefined);
  }
}
