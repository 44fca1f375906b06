/** The worker process: runs execution workflows and their activities, and forwards backend status changes. */
import pino from 'pino';
import { loadConfig } from '../config/index.js';
import { createBackends, startWorker } from '../worker/index.js';
import { runMain } from './main.js';
import { connectDependencies } from './runtime.js';

runMain('worker', async () => {
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL });
  const { spark } = await connectDependencies(config, (line) => logger.info(line));
  const backends = createBackends(config, { sparkHome: spark.sparkHome, python: spark.python }, logger);
  const worker = await startWorker({ config, backends, logger });
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, backends: Object.keys(backends) }, 'worker started');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'worker stopping');
      void worker.shutdown().then(() => process.exit(0));
    });
  }
  await worker.done;
});
