/**
 * /healthz reports each dependency separately; /readyz is 200 only when none is down. Spark is "disabled" when
 * this process has no local backend. /metrics serves the Prometheus registry. None needs a token.
 */
import type { Client } from '@temporalio/client';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionStore } from '../../store/executions.js';
import type { ApiMetrics } from '../metrics.js';
import { defineRoute, reply, type Route } from '../route.js';
import * as wire from '../wire.js';

export interface HealthDeps {
  metrics: ApiMetrics;
  client: Client;
  store: ExecutionStore;
  /** The Spark the local backend runs; unset when the local backend is disabled (LOCAL_BACKEND_ENABLED=false). */
  sparkHome?: string;
}

type Check = { status: 'up' } | { status: 'down'; error: string } | { status: 'disabled' };

async function check(probe: () => Promise<unknown>): Promise<Check> {
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('timed out after 3 s')), 3000)),
    ]);
    return { status: 'up' };
  } catch (err) {
    return { status: 'down', error: (err as Error).message };
  }
}

export function healthRoutes({ client, store, sparkHome, metrics }: HealthDeps): Route[] {
  const report = async () => {
    const [temporal, postgres, spark] = await Promise.all([
      check(() => client.workflowService.getSystemInfo({})),
      check(() => store.ping()),
      sparkHome
        ? check(() => fs.promises.access(path.join(sparkHome, 'bin', 'spark-submit'), fs.constants.X_OK))
        : ({ status: 'disabled' } as const),
    ]);
    const components = { temporal, postgres, spark };
    const up = Object.values(components).every((c) => c.status !== 'down');
    return { status: up ? ('up' as const) : ('down' as const), components };
  };
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Each dependency, separately',
      public: true,
      responses: { 200: wire.Health },
      async handler() {
        return reply(200, wire.Health, await report());
      },
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary: '200 when every dependency is up',
      public: true,
      responses: { 200: wire.Health, 503: wire.Health },
      async handler() {
        const r = await report();
        return reply(r.status === 'up' ? 200 : 503, wire.Health, r);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics',
      public: true,
      responses: { 200: { text: 'the Prometheus text exposition' } },
      async handler({ res }) {
        res.type(metrics.registry.contentType);
        return { status: 200, body: await metrics.registry.metrics() };
      },
    }),
  ];
}
