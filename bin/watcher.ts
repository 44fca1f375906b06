/** The watcher process: follows the Kubernetes clusters' SparkApplications and signals their workflows. */
import pino from 'pino';
import { loadConfig } from '../config/index.js';
import { startWatcher } from '../watcher/index.js';
import { runMain } from './main.js';
import { checkTemporal } from './runtime.js';

runMain('watcher', async () => {
  const config = loadConfig(process.env, 'watcher');
  const logger = pino({ level: config.LOG_LEVEL });
  await checkTemporal(config, 'watcher');
  const watcher = await startWatcher({ config, logger });
  logger.info(`watcher health on ${watcher.url}/healthz`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'watcher stopping');
      void watcher.stop().then(() => process.exit(0));
    });
  }
});
