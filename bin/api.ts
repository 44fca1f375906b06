/** The API process: Express on API_HOST:API_PORT. */
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { createApp } from '../api/app.js';
import { loadConfig } from '../config/index.js';
import { SparkGateway } from '../gateway/index.js';
import { openDatabase } from '../store/db.js';
import { ExecutionStore } from '../store/executions.js';
import { createBackends } from '../worker/index.js';
import { runMain } from './main.js';
import { connectDependencies, temporalAddress } from './runtime.js';

runMain('api', async () => {
  const config = loadConfig();
  const logger = pino({ level: config.LOG_LEVEL });
  const { databaseUrl, spark } = await connectDependencies(config, (line) => logger.info(line));
  const connection = await Connection.connect({ address: temporalAddress(config) });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const database = openDatabase(databaseUrl);
  const store = new ExecutionStore(database.db);
  // The API reads logs and describes payloads through the same backends; it never watches or submits.
  const gateway = new SparkGateway(createBackends(config, spark, logger), config.DEFAULT_BACKEND);
  const app = createApp({ client, store, gateway, config, sparkHome: spark.sparkHome, logger });
  const server = app.listen(config.API_PORT, config.API_HOST, () => {
    logger.info(`API listening on http://${config.API_HOST}:${config.API_PORT}`);
  });
  server.on('error', (err: NodeJS.ErrnoException) => {
    const message =
      err.code === 'EADDRINUSE'
        ? `API_PORT ${config.API_PORT} is already in use: stop the other process or set API_PORT`
        : err.message;
    process.stderr.write(`api: ${message}\n`);
    process.exit(1);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      server.close();
      server.closeAllConnections();
      void Promise.allSettled([connection.close(), database.close()]).then(() => process.exit(0));
    });
  }
});
