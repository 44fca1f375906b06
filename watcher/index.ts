/**
 * The status watcher as its own process (the Helm chart's watcher Deployment): follows every Kubernetes cluster
 * in GATEWAY_CONFIG and turns each SparkApplication change into a `status` signal to its execution's workflow.
 * With WATCH_LEASE_NAMESPACE set, replicas elect one leader per cluster through a Lease, so a cluster is watched
 * by exactly one of them; the others stand by and take over when the leader stops or stops renewing.
 * The workers then run with WORKER_WATCHES_KUBERNETES=false. A small HTTP endpoint serves /healthz (which
 * clusters this replica leads) and /readyz (Temporal answers) for the Deployment's probes, and /metrics
 * (observability/telemetry-metrics.ts) for Prometheus.
 */
import { Client } from '@temporalio/client';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../config/index.js';
import { connectTemporal } from '../config/temporal.js';
import { loadGatewayConfig } from '../gateway/clusters.js';
import { composeGateway } from '../gateway/compose.js';
import { backendAvailability, processRegistry } from '../observability/telemetry-metrics.js';
import { startMetricsExport } from '../observability/metrics-otlp.js';
import { registerPlatformMetrics } from '../observability/platform-metrics.js';
import { forwardStatus } from '../worker/status-forwarder.js';

export interface WatcherReport {
  status: 'up' | 'down';
  temporal: { status: 'up' } | { status: 'down'; error: string };
  /** Per cluster: its health as probed, and whether this replica holds its Lease (always true without a Lease). */
  clusters: Record<string, { healthy: boolean; leader: boolean }>;
}

export interface RunningWatcher {
  /** Base URL of the health endpoint. */
  url: string;
  report(): Promise<WatcherReport>;
  stop(): Promise<void>;
}

export interface WatcherOptions {
  config: Config;
  logger: Logger;
}

export async function startWatcher({ config, logger }: WatcherOptions): Promise<RunningWatcher> {
  const clusters = config.GATEWAY_CONFIG ? loadGatewayConfig(config.GATEWAY_CONFIG).clusters : [];
  if (clusters.length === 0) {
    throw new ConfigError('the watcher follows Kubernetes clusters: set GATEWAY_CONFIG to the clusters file');
  }
  const gateway = await composeGateway({ role: 'watcher', config, logger });
  const connection = await connectTemporal(config).catch(async (err: unknown) => {
    await gateway.stop();
    throw err;
  });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const forwarder = forwardStatus(gateway.statusSources, client, logger);

  const report = async (): Promise<WatcherReport> => {
    let temporal: WatcherReport['temporal'] = { status: 'up' };
    try {
      await connection.withDeadline(Date.now() + 3000, () => client.workflowService.getSystemInfo({}));
    } catch (err) {
      temporal = { status: 'down', error: (err as Error).message };
    }
    const health = gateway.monitor!.snapshot();
    const report = Object.fromEntries(
      clusters.map((c) => [
        c.name,
        {
          healthy: health[c.name]?.healthy ?? false,
          leader: gateway.electors.get(c.name)?.isLeader() ?? true,
        },
      ]),
    );
    return { status: temporal.status, temporal, clusters: report };
  };

  const registry = processRegistry('watcher');
  backendAvailability(registry, () => gateway.monitor?.snapshot() ?? {});
  registerPlatformMetrics(registry);
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        (err: Error) => res.writeHead(500).end(err.message),
      );
      return;
    }
    if (req.method !== 'GET' || (req.url !== '/healthz' && req.url !== '/readyz')) {
      res.writeHead(404).end();
      return;
    }
    void report().then((r) => {
      // Liveness only needs the process; readiness also needs Temporal, where the signals go.
      const code = req.url === '/readyz' && r.status !== 'up' ? 503 : 200;
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(r));
    });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.WATCHER_PORT, config.WATCHER_HOST, resolve);
    });
  } catch (err) {
    await Promise.allSettled([forwarder.stop(), gateway.stop(), connection.close()]);
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(`WATCHER_PORT ${config.WATCHER_PORT} is already in use: stop the other process or set it`);
    }
    throw err;
  }
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.WATCHER_HOST}:${port}`;
  logger.info({ clusters: clusters.map((c) => c.name), lease: config.WATCH_LEASE_NAMESPACE }, 'watching');
  // With OTEL_EXPORTER_OTLP_ENDPOINT, the /metrics registry is pushed over OTLP too.
  const metricsExport = startMetricsExport(config, 'watcher', registry);

  let stopping: Promise<void> | undefined;
  return {
    url,
    report,
    stop: () =>
      (stopping ??= (async () => {
        server.close();
        await metricsExport?.shutdown().catch(() => undefined);
        // Stopping the watch releases the Leases this replica holds, so a standby takes over at once.
        await forwarder.stop();
        await gateway.stop();
        await connection.close();
      })()),
  };
}
