/**
 * The worker's part in interactive sessions: the Connect server backends (gateway/connect/compose.ts), the session
 * and pool activities with the settings from the configuration, and the default pool (SESSION_DEFAULT_POOL_SIZE).
 */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { createSessionActivities } from '../activities/sessions.js';
import type { Config } from '../config/index.js';
import type { Composition, SparkInstallation } from '../gateway/compose.js';
import { composeConnectServers } from '../gateway/connect/compose.js';
import { reconcileDefaultPool } from '../service/sessions.js';
import { InstrumentedSessionStore, sessionMetrics } from '../observability/session-metrics.js';
import type { Db } from '../store/db.js';
import { SessionStore } from '../store/sessions.js';
import type { PoolSettings, SessionSettings } from '../workflows/session-definitions.js';

export function sessionSettingsFrom(config: Config): SessionSettings {
  return {
    checkIntervalMs: config.SESSION_CHECK_INTERVAL_MS,
    activityFreshMs: 2 * config.CONNECT_ACTIVITY_FLUSH_MS,
    startTimeoutMs: config.SESSION_START_TIMEOUT_MS,
    continueAsNewAfterChecks: 500,
  };
}

export function poolSettingsFrom(config: Config): PoolSettings {
  return {
    checkIntervalMs: Math.max(config.SESSION_CHECK_INTERVAL_MS, 1000),
    startTimeoutMs: config.SESSION_START_TIMEOUT_MS,
    maxConcurrentStarts: 2,
    continueAsNewAfterRounds: 500,
  };
}

/** The session and pool activities of this worker. */
export function sessionActivities(options: {
  config: Config;
  db: Db;
  composition: Composition;
  spark?: SparkInstallation | readonly SparkInstallation[];
  client: Client;
  logger: Logger;
  /** The worker's registry: the session acquisition and pool metrics go there (observability/session-metrics.ts). */
  registry?: Registry;
}) {
  const { config, composition, client } = options;
  const store = new InstrumentedSessionStore(options.db);
  if (options.registry) store.instrument(sessionMetrics(options.registry, store));
  return createSessionActivities({
    store,
    gateway: composition.gateway!,
    servers: composeConnectServers({
      config,
      composition,
      ...(options.spark ? { spark: options.spark } : {}),
      logger: options.logger,
    }),
    client,
    sessionSettings: sessionSettingsFrom(config),
    poolSettings: poolSettingsFrom(config),
  });
}

/** Keeps the default pool as configured; a failure is logged, not fatal (sessions then start cold). */
export async function startDefaultPool(options: { config: Config; db: Db; client: Client; logger: Logger }) {
  await reconcileDefaultPool({
    client: options.client,
    config: options.config,
    sessions: new SessionStore(options.db),
  }).catch((err: unknown) => options.logger.error({ err }, 'could not set up the default session pool'));
}
