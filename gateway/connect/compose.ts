/**
 * The Spark Connect server backends of a process (the worker, which starts and stops servers), built from the
 * gateway's composition (gateway/compose.ts) so they share its cluster clients and their rate limits: local servers
 * from every local Spark of version 4.0 or later, and Kubernetes servers when clusters are configured.
 */
import type { Logger } from 'pino';
import { dataPaths, type Config } from '../../config/index.js';
import type { Composition, SparkInstallation } from '../compose.js';
import { createKubernetesConnectBackend } from './kubernetes-servers.js';
import { createLocalConnectBackend } from './local-servers.js';
import type { ConnectServerBackends } from './servers.js';

/** Spark homes by engine version ("4.0"), of the installs that ship a Connect server (4.0 and later). */
export function connectSparkHomes(spark: SparkInstallation | readonly SparkInstallation[] | undefined) {
  const homes: Record<string, string> = {};
  for (const install of spark === undefined ? [] : [spark].flat()) {
    // An install whose version is unknown is the primary one of an older caller: the project's pyspark 4.0.
    const minor = (install.version ?? '4.0').split('.').slice(0, 2).join('.');
    if (Number(minor.split('.')[0]) >= 4) homes[minor] ??= install.sparkHome;
  }
  return homes;
}

export function composeConnectServers(options: {
  config: Config;
  composition: Composition;
  spark?: SparkInstallation | readonly SparkInstallation[];
  logger: Logger;
}): ConnectServerBackends {
  const { config, composition } = options;
  const backends: ConnectServerBackends = {};
  const sparkHomes = connectSparkHomes(options.spark);
  if (Object.keys(sparkHomes).length > 0) {
    backends.local = createLocalConnectBackend({
      sparkHomes,
      connectDir: dataPaths(config).connectDir,
      startTimeoutMs: config.SESSION_START_TIMEOUT_MS,
      logger: options.logger.child({ backend: 'local', connect: true }),
    });
  }
  if (composition.clients) {
    backends.kubernetes = createKubernetesConnectBackend({
      clients: composition.clients,
      sparkVersions: config.SPARK_VERSIONS,
      images: Object.fromEntries(Object.keys(config.SPARK_VERSIONS).map((v) => [v, config.SPARK_IMAGE])),
      retention: { resourceRetainPolicy: 'Never', ttlAfterStopMillis: config.K8S_TTL_AFTER_STOP_MS },
      logger: options.logger.child({ backend: 'kubernetes', connect: true }),
    });
  }
  return backends;
}
