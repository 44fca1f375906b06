/** /healthz reports each dependency separately; /readyz is 200 only when all of them are up. */
import type { Client } from '@temporalio/client';
import { Router } from 'express';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionStore } from '../../store/executions.js';

export interface HealthDeps {
  client: Client;
  store: ExecutionStore;
  sparkHome?: string;
}

type Check = { status: 'up' } | { status: 'down'; error: string };

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
      check(async () => {
        if (!sparkHome) throw new Error('SPARK_HOME is not set');
        await fs.promises.access(path.join(sparkHome, 'bin', 'spark-submit'), fs.constants.X_OK);
      }),
    ]);
    const components = { temporal, postgres, spark };
    const up = Object.values(components).every((c) => c.status === 'up');
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
