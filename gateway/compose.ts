/**
 * The one composition of the Spark Gateway's parts, for each process role (STYLE.md §15: one decider, chosen at
 * one composition root; each process builds only what its role needs):
 *
 * | role    | gateway (placement + submitting backends)       | health monitor | status sources (watch, Lease)   |
 * |---------|-------------------------------------------------|----------------|---------------------------------|
 * | api     | yes: previews placements from recorded health   | no             | no                              |
 * | worker  | yes: places, records and submits                | with clusters  | local, EMR, sim; Kubernetes     |
 * |         |                                                 |                | unless WORKER_WATCHES_KUBERNETES |
 * | watcher | no                                              | yes            | Kubernetes only, under a Lease  |
 *
 * The worker's monitor records every probe round in `cluster_health`, which is how the API previews the same
 * placement the worker would make without probing anything itself.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { apiPublicUrl, dataPaths, localApplicationRoots, type Config, type ProcessRole } from '../config/index.js';
import { createRunLinks, type RunLinks } from '../observability/links.js';

export type { ProcessRole } from '../config/index.js';
import type { BackendName } from '../schema/states.js';
import type { ExecutionStore } from '../store/executions.js';
import type { Backend, StatusSource } from './backend.js';
import {
  createClusterClients,
  createKubernetesBackend,
  createKubernetesStatusSource,
  createWatchHealth,
  type ClusterClients,
  type KubernetesStatusSource,
  type LeaseElector,
} from './backends/kubernetes/index.js';
import { createEmrBackend, createEmrStatusSource } from './backends/emr/index.js';
import { loadTeamSecrets } from './backends/local/core-etl.js';
import { createLocalBackend, createLocalStatusSource } from './backends/local/index.js';
import { createSimBackend } from './backends/sim/index.js';
import { emrConfigured, kubeConfigFor, loadGatewayConfig, type GatewayConfig } from './clusters.js';
import { HealthMonitor } from './health.js';
import { SparkGateway } from './index.js';

export interface SparkInstallation {
  sparkHome: string;
  python?: string;
  /** Its full version; unset, it takes a job of any version (callers that never learnt it). */
  version?: string;
}

export interface ComposeOptions {
  role: ProcessRole;
  config: Config;
  logger: Logger;
  /** Placements, recorded health and load; the watcher has none. */
  store?: ExecutionStore;
  /**
   * Spark for the local backend, or several (one per engine version, the primary first: findLocalSparks); absent
   * when LOCAL_BACKEND_ENABLED=false (or in the watcher).
   */
  spark?: SparkInstallation | readonly SparkInstallation[];
  /** Extra backends built by the caller (tests add `sim`); one that can also watch is a status source too. */
  extra?: Partial<Record<BackendName, Backend & Partial<StatusSource>>>;
}

export interface Composition {
  role: ProcessRole;
  /** The clusters file, when GATEWAY_CONFIG is set. */
  gatewayConfig?: GatewayConfig;
  /** Placement and the submitting backends (api and worker). */
  gateway?: SparkGateway;
  /** The clusters' health probes (worker and watcher, with clusters). */
  monitor?: HealthMonitor;
  /** What this process forwards as workflow signals. */
  statusSources: StatusSource[];
  /** Per-cluster Lease electors, when this process watches with WATCH_LEASE_NAMESPACE set. */
  electors: ReadonlyMap<string, LeaseElector>;
  /** Where each run's History Server and archived logs are (observability/links.ts). */
  links: RunLinks;
  /** The clusters' API clients (one rate limit per cluster), shared with the Spark Connect servers (connect/compose.ts). */
  clients?: ClusterClients;
  stop(): Promise<void>;
}

/** How long a recorded probe stays valid for the API: a few probe rounds, at least 30 s. */
function healthStaleAfterMs(config: Config): number {
  return Math.max(30_000, 3 * (config.GATEWAY_HEALTH_INTERVAL_MS + config.GATEWAY_HEALTH_TIMEOUT_MS));
}

/** Builds the gateway parts the role needs. With clusters, a probing role starts its monitor before returning. */
export async function composeGateway(options: ComposeOptions): Promise<Composition> {
  const { role, config, logger, store } = options;
  const gatewayConfig = config.GATEWAY_CONFIG ? loadGatewayConfig(config.GATEWAY_CONFIG) : undefined;
  const clusters = gatewayConfig?.clusters ?? [];
  const clients: ClusterClients | undefined =
    clusters.length > 0
      ? createClusterClients(
          clusters.map((c) => ({ name: c.name, kubeConfig: kubeConfigFor(c) })),
          { qps: config.K8S_QPS, burst: config.K8S_BURST, userAgent: `spark-runner-${role}` },
        )
      : undefined;
  const kubeLogger = logger.child({ backend: 'kubernetes' });
  const perCluster = <K extends 'eventLogDir' | 'historyServerUrl' | 'sparkUiUrlTemplate'>(key: K) =>
    Object.fromEntries(clusters.flatMap((c) => (c[key] ? [[c.name, c[key]]] : []))) as Record<string, string>;
  const links = createRunLinks({
    apiPublicUrl: apiPublicUrl(config),
    ...(config.HISTORY_SERVER_URL ? { localHistoryServer: config.HISTORY_SERVER_URL } : {}),
    clusterHistoryServers: perCluster('historyServerUrl'),
  });

  const probes = role !== 'api' && clients !== undefined;
  const monitor = probes
    ? new HealthMonitor(
        [...clients.values()].map((c) => ({ name: c.name, kubeConfig: c.kubeConfig })),
        {
          intervalMs: config.GATEWAY_HEALTH_INTERVAL_MS,
          timeoutMs: config.GATEWAY_HEALTH_TIMEOUT_MS,
          onChange: (name, health) => logger.info({ cluster: name, ...health }, 'cluster health changed'),
          ...(store ? { onRound: (snapshot) => store.recordClusterHealth(snapshot) } : {}),
        },
      )
    : undefined;

  const statusSources: StatusSource[] = [];
  let electors: ReadonlyMap<string, LeaseElector> = new Map();
  let ownWatch: KubernetesStatusSource | undefined;
  const watchesKubernetes = role === 'watcher' || (role === 'worker' && config.WORKER_WATCHES_KUBERNETES);
  if (clients && watchesKubernetes) {
    const source = createKubernetesStatusSource({
      clients,
      uiUrlTemplates: perCluster('sparkUiUrlTemplate'),
      leaderElection: config.WATCH_LEASE_NAMESPACE
        ? {
            namespace: config.WATCH_LEASE_NAMESPACE,
            identity: `${os.hostname()}-${process.pid}`,
            leaseDurationMs: 15_000,
            renewMs: 5_000,
          }
        : undefined,
      logger: kubeLogger,
    });
    electors = source.electors;
    statusSources.push(source);
    if (!config.WATCH_LEASE_NAMESPACE) ownWatch = source;
  }

  let gateway: SparkGateway | undefined;
  if (role !== 'watcher') {
    const backends: Partial<Record<BackendName, Backend>> = {};
    const [primary, ...moreSparks] = options.spark === undefined ? [] : [options.spark].flat();
    if (primary) {
      const local = {
        sparkHome: primary.sparkHome,
        pythonExecutable: primary.python,
        sparkVersion: primary.version,
        moreSparks,
        offeredVersions: config.LOCAL_SPARK_VERSIONS,
        applicationRoots: localApplicationRoots(config),
        coreEtl: {
          runtime: config.LOCAL_CORE_ETL_RUNTIME,
          cacheDir: config.SPARK_RUNNER_CACHE,
          catalog: config.ICEBERG_CATALOG,
          warehouse: dataPaths(config).icebergWarehouse,
          ...(config.CORE_ETL_SECRETS_FILE ? { secrets: loadTeamSecrets(config.CORE_ETL_SECRETS_FILE) } : {}),
        },
        runsDir: dataPaths(config).runsDir,
        eventLogDir: dataPaths(config).eventLogDir,
        master: config.LOCAL_SPARK_MASTER,
        watchIntervalMs: config.LOCAL_WATCH_INTERVAL_MS,
        logger: logger.child({ backend: 'local' }),
      };
      backends.local = createLocalBackend(local);
      if (role === 'worker') statusSources.push(createLocalStatusSource(local));
    }
    if (clients) {
      backends.kubernetes = createKubernetesBackend({
        clients,
        sparkVersions: config.SPARK_VERSIONS,
        images: Object.fromEntries(Object.keys(config.SPARK_VERSIONS).map((v) => [v, config.SPARK_IMAGE])),
        retention: {
          resourceRetainPolicy: config.K8S_RETAIN_POLICY,
          resourceRetainDurationMillis: config.K8S_RETAIN_DURATION_MS,
          ttlAfterStopMillis: config.K8S_TTL_AFTER_STOP_MS,
        },
        statusTimeoutMs: config.K8S_STATUS_TIMEOUT_MS,
        coreEtlRuntime: config.K8S_CORE_ETL_RUNTIME,
        eventLogDirs: perCluster('eventLogDir'),
        uiUrlTemplates: perCluster('sparkUiUrlTemplate'),
        // Whether the safety-net poll may skip reading a run: this process's own watch, or the watcher's Lease.
        watchHealth: createWatchHealth({
          clients,
          ...(ownWatch ? { local: ownWatch } : {}),
          ...(config.WATCH_LEASE_NAMESPACE ? { leaseNamespace: config.WATCH_LEASE_NAMESPACE } : {}),
        }),
        logger: kubeLogger,
      });
    }
    const emr = gatewayConfig && emrConfigured(gatewayConfig) ? gatewayConfig.emr : undefined;
    if (emr) {
      const emrLogger = logger.child({ backend: 'emr' });
      backends.emr = createEmrBackend({ ...emr, logger: emrLogger });
      if (role === 'worker')
        statusSources.push(
          createEmrStatusSource({ ...emr, pollIntervalMs: emr.statusPollIntervalMs, logger: emrLogger }),
        );
    }
    // SIM_BACKEND_STATE_DIR (test-and-drill only): the sim backend on its shared directory, unless the caller gave one.
    const sim = config.SIM_BACKEND_STATE_DIR
      ? { sim: createSimBackend({ stateDir: config.SIM_BACKEND_STATE_DIR }) }
      : {};
    for (const [name, backend] of Object.entries({ ...sim, ...options.extra })) {
      backends[name as BackendName] = backend;
      if (role === 'worker' && backend.watch) statusSources.push(backend as StatusSource);
    }
    const staleAfterMs = healthStaleAfterMs(config);
    const names = clusters.map((c) => c.name);
    gateway = new SparkGateway({
      backends,
      inventory: {
        ...(clients && gatewayConfig
          ? {
              kubernetes: {
                clusters,
                preferredRegion: gatewayConfig.preferredRegion,
                teamDomains: gatewayConfig.teamDomains,
                defaultDomain: config.K8S_DEFAULT_DOMAIN,
              },
            }
          : {}),
        ...(emr ? { emr } : {}),
        ...(config.DEFAULT_BACKEND ? { defaultBackend: config.DEFAULT_BACKEND } : {}),
      },
      view: async () => ({
        health: monitor ? monitor.snapshot() : store ? await store.clusterHealth(names, staleAfterMs) : {},
        load: store ? await store.runningByCluster() : {},
      }),
      ...(store ? { placements: store.placementLog() } : {}),
    });
  }

  await monitor?.start();
  return {
    role,
    ...(gatewayConfig ? { gatewayConfig } : {}),
    ...(gateway ? { gateway } : {}),
    ...(monitor ? { monitor } : {}),
    ...(clients ? { clients } : {}),
    statusSources,
    electors,
    links,
    stop: async () => {
      await monitor?.stop();
    },
  };
}
