/**
 * /healthz reports each dependency separately; /readyz is 200 only when none is down. Spark is "disabled" when
 * this process has no local backend.
 */
import type { Client } from '@temporalio/client';
import { Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionStore } from '../../store/executions.js';

export interface HealthDeps {
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

export function healthRoutes({ client, store, sparkHome }: HealthDeps): Router {
  const router = Router();
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
    return { status: up ? 'up' : 'down', components };
  };
  router.get('/healthz', async (_req, res) => {
    res.json(await report());
  });
  router.get('/readyz', async (_req, res) => {
    const r = await report();
    res.status(r.status === 'up' ? 200 : 503).json(r);
  });
  return router;
}
