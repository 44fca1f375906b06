/** The worker process: runs execution workflows and their activities, and forwards backend status changes. */
import pino from 'pino';
import { ConfigError, loadConfig } from '../config/index.js';
import { startWorker } from '../worker/index.js';
import { runMain } from './main.js';
import { connectDependencies } from './runtime.js';

runMain('worker', async () => {
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL });
  const { spark } = await connectDependencies(config, (line) => logger.info(line));
  if (!spark && !config.GATEWAY_CONFIG) {
    throw new ConfigError(
      'no backend is enabled: set GATEWAY_CONFIG to a clusters file, or LOCAL_BACKEND_ENABLED=true with Spark installed',
    );
  }
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
