/**
 * The Spark Gateway's Kubernetes path, assembled from config: the clusters file, a health monitor probing each
 * cluster, the router choosing a cluster per attempt (by health, weight, load and region), and the
 * SparkApplication backend. A placement is decided once per (execution, attempt) and recorded, so a retried
 * submit never lands the same attempt on a second cluster.
 */
import os from 'node:os';
import type { Config } from '../config/index.js';
import type { ExecutionStore } from '../store/executions.js';
import type { Backend } from './backend.js';
import { createKubernetesBackend, type LeaseElector } from './backends/kubernetes/index.js';
import { kubeConfigFor, loadGatewayConfig, type GatewayConfig } from './clusters.js';
import { HealthMonitor } from './health.js';
import { chooseTarget, seededRandomFor } from './routing.js';

export interface KubernetesGateway {
  backend: Backend;
  /** Per-cluster Lease electors, when this process watches with WATCH_LEASE_NAMESPACE set. */
  electors: ReadonlyMap<string, LeaseElector>;
  monitor: HealthMonitor;
  gateway: GatewayConfig;
  stop(): Promise<void>;
}

export interface KubernetesGatewayOptions {
  config: Config;
  /** Where placements are recorded; a process that never submits (the watcher) has none. */
  store?: ExecutionStore;
  logger: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void };
  /** Stream status from the clusters (the watcher, or the worker; the API only reads). */
  watch: boolean;
}

/** Undefined when GATEWAY_CONFIG is unset (no Kubernetes clusters). */
export async function startKubernetesGateway(
  options: KubernetesGatewayOptions,
): Promise<KubernetesGateway | undefined> {
  const { config, store, logger } = options;
  if (!config.GATEWAY_CONFIG) return undefined;
  const gateway = loadGatewayConfig(config.GATEWAY_CONFIG);
  const monitor = new HealthMonitor(
    gateway.clusters.map((c) => ({ name: c.name, kubeConfig: kubeConfigFor(c) })),
    {
      intervalMs: config.GATEWAY_HEALTH_INTERVAL_MS,
      timeoutMs: config.GATEWAY_HEALTH_TIMEOUT_MS,
      onChange: (name, health) => logger.info({ cluster: name, ...health }, 'cluster health changed'),
    },
  );
  await monitor.start();
  const backend = createKubernetesBackend({
    clusters: gateway.clusters.map((c) => ({
      name: c.name,
      region: c.region,
      kubeconfigPath: c.kubeconfig,
      context: c.context,
      inCluster: c.inCluster,
    })),
    chooseCluster: async (req) => {
      if (!store) throw new Error('this process does not submit Spark applications');
      return await store.placement(req.executionId, req.attempt, async () => {
        const decision = chooseTarget({
          clusters: gateway.clusters,
          health: monitor.snapshot(),
          load: await store.runningByCluster(),
          preferredRegion: gateway.preferredRegion,
          // EMR is a separate backend (not in this build); inside the Kubernetes backend only clusters qualify.
          emrConfigured: false,
          random: seededRandomFor(`${req.executionId}:${req.attempt}`),
        });
        // No cluster now is transient: the submit activity retries until one recovers.
        if (decision.kind !== 'kubernetes') throw new Error(decision.reason);
        return { cluster: decision.cluster, reason: decision.reason };
      });
    },
    teamDomains: gateway.teamDomains,
    defaultDomain: config.K8S_DEFAULT_DOMAIN,
    sparkVersions: config.SPARK_VERSIONS,
    images: Object.fromEntries(Object.keys(config.SPARK_VERSIONS).map((v) => [v, config.SPARK_IMAGE])),
    retention: { resourceRetainPolicy: config.K8S_RETAIN_POLICY, ttlAfterStopMillis: config.K8S_TTL_AFTER_STOP_MS },
    statusTimeoutMs: config.K8S_STATUS_TIMEOUT_MS,
    qps: config.K8S_QPS,
    burst: config.K8S_BURST,
    leaderElection:
      options.watch && config.WATCH_LEASE_NAMESPACE
        ? {
            namespace: config.WATCH_LEASE_NAMESPACE,
            identity: `${os.hostname()}-${process.pid}`,
            leaseDurationMs: 15_000,
            renewMs: 5_000,
          }
        : undefined,
    logger,
  });
  return { backend, electors: backend.electors, monitor, gateway, stop: () => monitor.stop() };
}
