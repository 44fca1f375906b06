/** The API process: Express on API_HOST:API_PORT. */
import { Client } from '@temporalio/client';
import pino from 'pino';
import { loadTokens } from '../api/auth.js';
import { startApiServer } from '../api/server.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { connectTemporal } from '../config/temporal.js';
import { composeGateway } from '../gateway/compose.js';
import { startTracing, tracingClientInterceptors } from '../observability/telemetry.js';
import { startConfiguredSessionProxy } from '../gateway/connect/session-proxy.js';
import { openDatabase } from '../store/db.js';
import { ExecutionStore } from '../store/executions.js';
import { SessionStore } from '../store/sessions.js';
import { runMain } from './main.js';
import { connectDependencies } from './runtime.js';

runMain('api', async () => {
  const config = loadConfig(process.env, 'api');
  const tokens = loadTokens(config);
  const logger = pino({ level: config.LOG_LEVEL });
  const { databaseUrl, spark } = await connectDependencies(config, 'api');
  const connection = await connectTemporal(config);
  // With OTEL_EXPORTER_OTLP_ENDPOINT: a span per request, carried into the workflows it starts.
  const tracing = startTracing(config, 'api');
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    interceptors: tracingClientInterceptors(tracing),
  });
  const database = openDatabase(databaseUrl, config.DATABASE_POOL_SIZE, config.DATABASE_POOL_WAIT_MS);
  const store = new ExecutionStore(database.db);
  // The API previews placements and reads logs through the same backends; it never probes, watches or submits.
  const composition = await composeGateway({ role: 'api', config, logger, store, ...(spark ? { spark } : {}) });
  const gateway = composition.gateway!;
  // The Spark Connect proxy lives here: it needs the sessions store and tells API tokens from session tokens.
  const sessions = new SessionStore(database.db);
  const connect = config.CONNECT_PROXY_ENABLED
    ? await startConfiguredSessionProxy({
        config,
        store: sessions,
        isApiToken: (token) => tokens.authenticate(token) !== undefined,
        logger,
      })
    : undefined;
  let server;
  try {
    server = await startApiServer(
      {
        client,
        store,
        gateway,
        config,
        sparkHome: spark?.[0]?.sparkHome,
        logger,
        tokens,
        // Without the proxy a session could not be reached: the session routes answer 503.
        ...(connect ? { sessions, connect: connect.endpoint } : {}),
      },
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
  if (connect) {
    const { host, port, tlsPort } = connect.proxy;
    logger.info(
      `Spark Connect proxy on ${host}:${port}${tlsPort ? `, TLS on ${config.CONNECT_TLS_HOST}:${tlsPort}` : ''}`,
    );
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      // The proxy's last activity flush needs the database: close it after the proxy.
      void Promise.allSettled([server.close(), connect?.close(), composition.stop(), connection.close()])
        .then(() => database.close())
        .finally(() => process.exit(0));
    });
  }
});
