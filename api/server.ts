/** Starts the API on host:port; used by bin/api.ts and by tests (port 0 picks a free port). */
import type { AddressInfo } from 'node:net';
import { startMetricsExport } from '../observability/metrics-otlp.js';
import { createApp, type AppDeps } from './app.js';
import { createMetrics } from './metrics.js';

export interface ApiServer {
  url: string;
  close(): Promise<void>;
}

export async function startApiServer(deps: AppDeps, host: string, port: number): Promise<ApiServer> {
  const metrics = createMetrics(deps.store);
  const app = createApp(deps, metrics);
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  // With OTEL_EXPORTER_OTLP_ENDPOINT, the /metrics registry is pushed over OTLP too.
  const metricsExport = startMetricsExport(deps.config, 'api', metrics.registry);
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${bound}`,
    close: async () => {
      await metricsExport?.shutdown().catch(() => undefined);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
