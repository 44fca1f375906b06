/** The API process: Express on API_HOST:API_PORT. */
import { Client, Connection } from '@temporalio/client';
import pino from 'pino';
import { loadTokens } from '../api/auth.js';
import { startApiServer } from '../api/server.js';
import { ConfigError, loadConfig, temporalAddress } from '../config/index.js';
import { composeGateway } from '../gateway/compose.js';
import { openDatabase } from '../store/db.js';
import { ExecutionStore } from '../store/executions.js';
import { runMain } from './main.js';
import { connectDependencies } from './runtime.js';

runMain('api', async () => {
  const config = loadConfig(process.env, 'api');
  const tokens = loadTokens(config);
  const logger = pino({ level: config.LOG_LEVEL });
  const { databaseUrl, spark } = await connectDependencies(config);
  const connection = await Connection.connect({ address: temporalAddress(config) });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const database = openDatabase(databaseUrl);
  const store = new ExecutionStore(database.db);
  // The API previews placements and reads logs through the same backends; it never probes, watches or submits.
  const composition = await composeGateway({ role: 'api', config, logger, store, ...(spark ? { spark } : {}) });
  const gateway = composition.gateway!;
  let server;
  try {
    server = await startApiServer(
      { client, store, gateway, config, sparkHome: spark?.sparkHome, logger, tokens },
      config.API_HOST,
      config.API_PORT,
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(`API_PORT ${config.API_PORT} is already in use: stop the other process or set API_PORT`);
    }
    throw err;
  }
  logger.info(`API listening on ${server.url}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.allSettled([server.close(), composition.stop(), connection.close(), database.close()]).then(() =>
        process.exit(0),
      );
    });
  }
});
