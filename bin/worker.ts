/** The worker process: runs execution workflows and their activities, and forwards backend status changes. */
import pino from 'pino';
import { loadConfig } from '../config/index.js';
import { describeSetup } from '../service/temporal-setup.js';
import { startWorker } from '../worker/index.js';
import { runMain } from './main.js';
import { connectDependencies } from './runtime.js';

runMain('worker', async () => {
  const config = loadConfig(process.env, 'worker');
  const logger = pino({ level: config.LOG_LEVEL });
  const { spark, temporalSetup } = await connectDependencies(config, 'worker');
  for (const line of temporalSetup ? describeSetup(temporalSetup) : []) logger.info(`temporal setup: ${line}`);
  const worker = await startWorker({ config, ...(spark ? { spark } : {}), logger });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, backends: worker.gateway.available }, 'worker started');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'worker stopping');
      void worker.shutdown().then(() => process.exit(0));
    });
  }
  await worker.done;
});
