/**
 * Bare-Temporal baselines (bench/baseline-workflows.ts) on the benchmark's own server, the same way the Spark Runner
 * executions are driven: `total` workflows started by `concurrency` starters, then all awaited. Its worker runs only
 * while its baseline runs, on a task queue of its own, with the SDK's default worker settings (as Spark Runner's).
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Config } from '../config/index.js';
import { temporalConnectionOptions } from '../config/temporal.js';
import type { BaselineActivities } from './baseline-workflows.js';

export type BaselineWorkflow = 'emptyWorkflow' | 'threeActivityWorkflow';

export interface BaselineResult {
  seconds: number;
  perSecond: number;
  /** History events of one execution. */
  events: number;
}

/** Starts `total` workflows with `concurrency` starters at once; resolves with each one's workflow id. */
export async function startAll(
  total: number,
  concurrency: number,
  start: (i: number) => Promise<string>,
): Promise<string[]> {
  const ids: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        ids.push(await start(i));
      }
    }),
  );
  return ids;
}

export async function runBaseline(
  config: Config,
  client: Client,
  workflow: BaselineWorkflow,
  total: number,
  concurrency: number,
): Promise<BaselineResult> {
  const taskQueue = `bench-baseline-${workflow}`;
  const connection = await NativeConnection.connect(temporalConnectionOptions(config));
  const activities: BaselineActivities = { step: async (n) => Promise.resolve(n + 1) };
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue,
    workflowsPath: path.join(import.meta.dirname, 'baseline-workflows.ts'),
    activities,
  });
  const running = worker.run();
  try {
    const run = `${workflow}-${Date.now()}`;
    const started = Date.now();
    const ids = await startAll(total, concurrency, async (i) => {
      const handle = await client.workflow.start(workflow, { taskQueue, workflowId: `${run}-${i}` });
      return handle.workflowId;
    });
    await Promise.all(ids.map((id) => client.workflow.getHandle(id).result()));
    const seconds = (Date.now() - started) / 1000;
    const history = await client.workflow.getHandle(ids[0]!).fetchHistory();
    return { seconds, perSecond: total / seconds, events: history.events?.length ?? 0 };
  } finally {
    worker.shutdown();
    await running;
    await connection.close();
  }
}
