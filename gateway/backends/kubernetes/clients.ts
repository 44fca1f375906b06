/**
 * One API client set per Kubernetes cluster, shared by the submitting backend and the status source of a
 * process: the cluster's KubeConfig (built by the gateway's composition from the clusters file), the typed
 * APIs, and one token bucket per cluster, so every call this process makes to a cluster shares one rate limit.
 */
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  CoordinationV1Api,
  CoreV1Api,
  createConfiguration,
  CustomObjectsApi,
  IsomorphicFetchHttpLibrary,
  Observable,
  ServerConfiguration,
  type HttpLibrary,
} from '@kubernetes/client-node';
import { platformMetrics } from '../../../observability/platform-metrics.js';
import { BackendRejection } from '../../backend.js';
import { createThrottle, type Throttle } from './throttle.js';

/** A cluster as the backends see it: its name (the placement's `cluster`) and how to reach it. */
export interface KubernetesCluster {
  name: string;
  kubeConfig: KubeConfig;
}

export interface ClusterClient {
  name: string;
  kubeConfig: KubeConfig;
  objects: CustomObjectsApi;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  throttle: Throttle;
}

export interface ClusterClientOptions {
  /** Client-side rate limit per cluster (client-go's defaults are 5 / 10). */
  qps?: number;
  burst?: number;
  /** Retries of 429/5xx per API call (default 4) and the first backoff (default 200 ms). */
  retries?: number;
  retryBaseDelayMs?: number;
  /**
   * The User-Agent of every request (API calls and watches), so that a cluster's audit log tells this process's
   * requests apart: `spark-runner-<role>` (compose.ts). Unset: the client's own (`node-fetch/1.0`).
   */
  userAgent?: string;
}

/**
 * Sets `userAgent` on every request made with `kubeConfig`: the typed APIs take their headers from
 * applySecurityAuthentication, Watch from applyToFetchOptions, and the raw requests (health probes, log streams)
 * from applyToHTTPSOptions.
 */
export function withUserAgent(kubeConfig: KubeConfig, userAgent: string): KubeConfig {
  const auth = kubeConfig.applySecurityAuthentication.bind(kubeConfig);
  const fetchOptions = kubeConfig.applyToFetchOptions.bind(kubeConfig);
  const httpsOptions = kubeConfig.applyToHTTPSOptions.bind(kubeConfig);
  kubeConfig.applyToHTTPSOptions = async (opts: https.RequestOptions) => {
    await httpsOptions(opts);
    opts.headers = { ...opts.headers, 'User-Agent': userAgent };
  };
  kubeConfig.applySecurityAuthentication = async (context) => {
    await auth(context);
    context.setHeaderParam('User-Agent', userAgent);
  };
  kubeConfig.applyToFetchOptions = async (opts) => {
    const init = await fetchOptions(opts);
    (init.headers as unknown as Headers).set('User-Agent', userAgent);
    return init;
  };
  return kubeConfig;
}

/**
 * The typed API client `kind` for `kubeConfig`, as `kubeConfig.makeApiClient` builds it, but sending through an HTTP
 * library that counts every call in `spark_runner_kubernetes_requests_total{cluster,verb,code}` (code `error` when
 * no answer came).
 */
function countedApiClient<T>(
  kubeConfig: KubeConfig,
  cluster: string,
  kind: new (config: ReturnType<typeof createConfiguration>) => T,
): T {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error(`no active cluster in the kubeconfig of cluster "${cluster}"`);
  const http = new IsomorphicFetchHttpLibrary();
  const counted: HttpLibrary = {
    send(request) {
      const verb = request.getHttpMethod().toString().toUpperCase();
      const count = (code: string) => platformMetrics.kubernetesRequests.inc({ cluster, verb, code });
      return new Observable(
        http
          .send(request)
          .toPromise()
          .then(
            (response) => {
              count(String(response.httpStatusCode));
              return response;
            },
            (err: unknown) => {
              count('error');
              throw err;
            },
          ),
      );
    },
  };
  return new kind(
    createConfiguration({
      baseServer: new ServerConfiguration(server, {}),
      authMethods: { default: kubeConfig },
      httpApi: counted,
    }),
  );
}

/** The clients of a process, by cluster name. */
export type ClusterClients = ReadonlyMap<string, ClusterClient>;

export function createClusterClients(
  clusters: readonly KubernetesCluster[],
  options: ClusterClientOptions = {},
): ClusterClients {
  if (clusters.length === 0) throw new Error('the Kubernetes backend needs at least one cluster');
  return new Map(
    clusters.map(({ name, kubeConfig: given }) => {
      const kubeConfig = options.userAgent ? withUserAgent(given, options.userAgent) : given;
      return [
        name,
        {
          name,
          kubeConfig,
          objects: countedApiClient(kubeConfig, name, CustomObjectsApi),
          core: countedApiClient(kubeConfig, name, CoreV1Api),
          coordination: countedApiClient(kubeConfig, name, CoordinationV1Api),
          throttle: createThrottle({
            qps: options.qps ?? 5,
            burst: options.burst ?? 10,
            ...(options.retries !== undefined ? { retries: options.retries } : {}),
            ...(options.retryBaseDelayMs !== undefined ? { baseDelayMs: options.retryBaseDelayMs } : {}),
          }),
        },
      ];
    }),
  );
}

/** The client of a named cluster; an unknown name is a permanent rejection (a placement from an old config). */
export function clientFor(clients: ClusterClients, name: string): ClusterClient {
  const client = clients.get(name);
  if (!client) throw new BackendRejection(`unknown Kubernetes cluster "${name}"`);
  return client;
}
