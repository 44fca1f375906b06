/**
 * The Kubernetes backend: one `spark.apache.org/v1` SparkApplication per attempt, run by the Apache Spark
 * Kubernetes Operator (DESIGN.md "The backend contract"; reference/apache-spark-operator.md).
 *
 * - vendorRunId is `<cluster>/<namespace>/<name>`, so status, cancel and logs find the object with no other state.
 * - Every API call goes through a per-cluster token bucket with retries for 429/5xx (throttle.ts).
 *
 * Error contract (STYLE.md §6):
 * | call   | answer                                      | result                                          |
 * |--------|---------------------------------------------|-------------------------------------------------|
 * | submit | 201                                         | the new run                                     |
 * | submit | 409 and the object has our labels           | adopted (idempotent submit)                     |
 * | submit | 409 and the labels are not ours             | BackendRejection (a name clash we must not touch)|
 * | submit | 400/422 (schema), 403 (RBAC/quota), 404 (no | BackendRejection                                |
 * |        | namespace), unknown engine version          |                                                 |
 * | submit | 429/5xx/network after retries               | thrown as is: transient, the activity retries   |
 * | status | 404                                         | CANCELLED (`Deleted`): the CR was deleted       |
 * | cancel | 404                                         | fine (already gone)                             |
 * | logs   | CR or driver pod missing                    | a message saying so, not an error               |
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import type { Backend, LogOptions, RunRef, RunStatus, SubmitRequest, VendorRun } from '../../backend.js';
import { BackendRejection, isFinalPhase } from '../../backend.js';
import type { KubernetesOptions, SparkApplication } from './build.js';
import {
  DRIVER_CONTAINER,
  LABELS,
  MANAGED_BY,
  SPARK_APP_GROUP,
  SPARK_APP_PLURAL,
  SPARK_APP_VERSION,
  buildSparkApplication,
  namespaceForTeam,
} from './build.js';
import type { LeaderElectionOptions, LeaseElector } from './lease.js';
import { createLeaseElector, leaseNameFor } from './lease.js';
import type { ObservedSparkApplication } from './status.js';
import { deletedRunStatus, noStatusTimeout, parseVendorRunId, runRefOf, runStatusOf, vendorRunIdOf } from './status.js';
import type { Throttle } from './throttle.js';
import { createThrottle, httpStatusOf } from './throttle.js';
import type { WatchEvent, WatchLogger } from './watch.js';
import { pause } from '../pause.js';
import { watchSparkApplications } from './watch.js';

export * from './build.js';
export * from './status.js';
export { createThrottle, type Throttle, type ThrottleOptions } from './throttle.js';
export { createLeaseElector, leaseNameFor, type LeaderElectionOptions, type LeaseElector } from './lease.js';
export { watchSparkApplications, type WatchEvent } from './watch.js';

export interface KubernetesClusterConfig {
  /** The name the router and vendorRunIds use. */
  name: string;
  region?: string;
  /** A kubeconfig file; its current context unless `context` is given. */
  kubeconfigPath?: string;
  context?: string;
  /** Use the pod's service account (the worker runs in this cluster). */
  inCluster?: boolean;
}

export interface KubernetesBackendOptions extends KubernetesOptions {
  clusters: KubernetesClusterConfig[];
  /** Picks the cluster for a submission (the gateway's router); default: the first cluster. */
  chooseCluster?: (req: SubmitRequest) => Promise<string>;
  /** team → domain; the namespace is `sjns-<domain>`. */
  teamDomains: Record<string, string>;
  /** Domain of a team missing from `teamDomains`. */
  defaultDomain: string;
  /** No operator status this long after creation → FAILED `NO_STATUS`. Default 5 min. */
  statusTimeoutMs?: number;
  /** Client-side rate limit per cluster (client-go's defaults are 5 / 10). */
  qps?: number;
  burst?: number;
  /** Retries of 429/5xx per API call (default 4) and the first backoff (default 200 ms). */
  retries?: number;
  retryBaseDelayMs?: number;
  /** Watch: server-side timeout (default 300 s) and error backoff (default 500 ms … 30 s). */
  watchTimeoutSeconds?: number;
  watchBackoffMs?: { min: number; max: number };
  /** Finished runs older than this are not replayed when a watch (re-)lists. Default 15 min. */
  replayFinishedWithinMs?: number;
  /** With it, watch() streams only the clusters whose Lease this worker holds; without it, all clusters. */
  leaderElection?: LeaderElectionOptions;
  /** How often followLogs() re-reads the driver log. Default 2 s. */
  followIntervalMs?: number;
  logger?: WatchLogger;
}

interface ClusterClient {
  name: string;
  kubeConfig: KubeConfig;
  objects: CustomObjectsApi;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
  throttle: Throttle;
}

const DEFAULT_STATUS_TIMEOUT_MS = 5 * 60_000;

function kubeConfigFor(cluster: KubernetesClusterConfig): KubeConfig {
  const kc = new KubeConfig();
  if (cluster.inCluster) kc.loadFromCluster();
  else if (cluster.kubeconfigPath) kc.loadFromFile(cluster.kubeconfigPath);
  else kc.loadFromDefault();
  if (cluster.context) kc.setCurrentContext(cluster.context);
  return kc;
}

/** Creates the Kubernetes backend. Settings come only from `options`. */
export function createKubernetesBackend(options: KubernetesBackendOptions): Backend & {
  /** The per-cluster lease electors (when leader election is on), for health checks and tests. */
  readonly electors: ReadonlyMap<string, LeaseElector>;
} {
  if (options.clusters.length === 0) throw new Error('the Kubernetes backend needs at least one cluster');
  const clients = new Map<string, ClusterClient>();
  for (const cluster of options.clusters) {
    const kubeConfig = kubeConfigFor(cluster);
    clients.set(cluster.name, {
      name: cluster.name,
      kubeConfig,
      objects: kubeConfig.makeApiClient(CustomObjectsApi),
      core: kubeConfig.makeApiClient(CoreV1Api),
      coordination: kubeConfig.makeApiClient(CoordinationV1Api),
      throttle: createThrottle({
        qps: options.qps ?? 5,
        burst: options.burst ?? 10,
        ...(options.retries !== undefined ? { retries: options.retries } : {}),
        ...(options.retryBaseDelayMs !== undefined ? { baseDelayMs: options.retryBaseDelayMs } : {}),
      }),
    });
  }
  const electors = new Map<string, LeaseElector>();
  if (options.leaderElection) {
    for (const client of clients.values()) {
      electors.set(
        client.name,
        createLeaseElector(
          client.coordination,
          client.throttle,
          leaseNameFor(client.name),
          options.leaderElection,
          options.logger,
        ),
      );
    }
  }
  const statusTimeoutMs = options.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;

  const clientFor = (name: string): ClusterClient => {
    const client = clients.get(name);
    if (!client) throw new BackendRejection(`unknown Kubernetes cluster "${name}"`);
    return client;
  };

  async function placement(req: SubmitRequest): Promise<{ name: string; namespace: string }> {
    const name = options.chooseCluster ? await options.chooseCluster(req) : options.clusters[0]!.name;
    clientFor(name);
    return { name, namespace: namespaceForTeam(req.team, options.teamDomains, options.defaultDomain) };
  }

  const describe = (req: SubmitRequest, cluster: { name: string; namespace: string }) =>
    buildSparkApplication(req, cluster, options);

  function toVendorRun(req: SubmitRequest, cluster: string, app: SparkApplication): VendorRun {
    const { name, namespace } = app.metadata;
    return {
      executionId: req.executionId,
      attempt: req.attempt,
      vendorRunId: vendorRunIdOf(cluster, namespace, name),
      backend: 'kubernetes',
      cluster,
      namespace,
    };
  }

  async function submit(req: SubmitRequest): Promise<VendorRun> {
    const cluster = await placement(req);
    const client = clientFor(cluster.name);
    const app = describe(req, cluster);
    const { name, namespace } = app.metadata;
    const target = { group: SPARK_APP_GROUP, version: SPARK_APP_VERSION, namespace, plural: SPARK_APP_PLURAL };
    try {
      await client.throttle.call(() => client.objects.createNamespacedCustomObject({ ...target, body: app }));
      options.logger?.info({ cluster: cluster.name, namespace, name, executionId: req.executionId }, 'created');
      return toVendorRun(req, cluster.name, app);
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 409) {
        const existing = (await client.throttle.call(() =>
          client.objects.getNamespacedCustomObject({ ...target, name }),
        )) as KubernetesObject;
        const labels = existing.metadata?.labels ?? {};
        if (
          labels[LABELS.managedBy] !== MANAGED_BY ||
          labels[LABELS.executionId] !== app.metadata.labels[LABELS.executionId] ||
          labels[LABELS.attempt] !== String(req.attempt)
        ) {
          throw new BackendRejection(
            `SparkApplication ${namespace}/${name} already exists on cluster ${cluster.name} and does not belong to execution ${req.executionId} attempt ${req.attempt}`,
          );
        }
        options.logger?.info({ cluster: cluster.name, namespace, name }, 'adopted the existing SparkApplication');
        return toVendorRun(req, cluster.name, app);
      }
      if (status !== undefined && [400, 403, 404, 422].includes(status)) {
        throw new BackendRejection(
          `cluster ${cluster.name} refused SparkApplication ${namespace}/${name} (HTTP ${status}): ${bodyMessage(err)}`,
        );
      }
      throw err;
    }
  }

  async function read(run: RunRef): Promise<{ client: ClusterClient; app?: ObservedSparkApplication }> {
    const { cluster, namespace, name } = parseVendorRunId(run.vendorRunId);
    const client = clientFor(cluster);
    try {
      const app = (await client.throttle.call(() =>
        client.objects.getNamespacedCustomObject({
          group: SPARK_APP_GROUP,
          version: SPARK_APP_VERSION,
          namespace,
          plural: SPARK_APP_PLURAL,
          name,
        }),
      )) as ObservedSparkApplication;
      return { client, app };
    } catch (err) {
      if (httpStatusOf(err) === 404) return { client };
      throw err;
    }
  }

  async function status(run: RunRef): Promise<RunStatus> {
    const { app } = await read(run);
    const now = new Date();
    if (!app) return deletedRunStatus(undefined, run, now.toISOString());
    return noStatusTimeout(app, run, now, statusTimeoutMs) ?? runStatusOf(app, run, now.toISOString());
  }

  async function cancel(run: RunRef): Promise<void> {
    const { cluster, namespace, name } = parseVendorRunId(run.vendorRunId);
    const client = clientFor(cluster);
    try {
      await client.throttle.call(() =>
        client.objects.deleteNamespacedCustomObject({
          group: SPARK_APP_GROUP,
          version: SPARK_APP_VERSION,
          namespace,
          plural: SPARK_APP_PLURAL,
          name,
          propagationPolicy: 'Background',
        }),
      );
      options.logger?.info({ cluster, namespace, name }, 'deleted SparkApplication (cancel)');
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
    }
  }

  async function logs(run: RunRef, logOptions?: LogOptions): Promise<string> {
    const { namespace, name } = parseVendorRunId(run.vendorRunId);
    const { client, app } = await read(run);
    if (!app) return `[spark-runner] SparkApplication ${namespace}/${name} no longer exists, so its logs are gone.\n`;
    const attemptId = app.status?.currentAttemptSummary?.attemptInfo?.id ?? 0;
    const pod = `${name}-${attemptId}-driver`;
    try {
      return await client.throttle.call(() =>
        client.core.readNamespacedPodLog({
          name: pod,
          namespace,
          container: DRIVER_CONTAINER,
          ...(logOptions?.tail !== undefined ? { tailLines: logOptions.tail } : {}),
        }),
      );
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
      return (
        `[spark-runner] driver pod ${namespace}/${pod} does not exist: it has not been created yet, or the ` +
        `operator deleted it when the run ended (resourceRetainPolicy: OnFailure or Always keeps it).\n`
      );
    }
  }

  /** Re-reads the driver log every `followIntervalMs` and yields what is new, until the run is final. */
  async function* followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string> {
    let seen = '';
    while (!signal.aborted) {
      const final = isFinalPhase((await status(run)).phase);
      const text = await logs(run);
      if (text.startsWith(seen)) {
        if (text.length > seen.length) yield text.slice(seen.length);
      } else {
        yield text; // the log was replaced (new pod): start over
      }
      seen = text;
      if (final) return;
      if (!(await pause(options.followIntervalMs ?? 2_000, signal))) return;
    }
  }

  async function* clusterStatuses(client: ClusterClient, signal: AbortSignal): AsyncIterable<RunStatus> {
    const last = new Map<string, string>();
    const replayWithin = options.replayFinishedWithinMs ?? 15 * 60_000;
    const events: AsyncIterable<WatchEvent> = watchSparkApplications(
      {
        cluster: client.name,
        kubeConfig: client.kubeConfig,
        api: client.objects,
        throttle: client.throttle,
        ...(options.watchTimeoutSeconds !== undefined ? { timeoutSeconds: options.watchTimeoutSeconds } : {}),
        ...(options.watchBackoffMs ? { backoffMs: options.watchBackoffMs } : {}),
        ...(options.logger ? { logger: options.logger } : {}),
      },
      signal,
    );
    for await (const event of events) {
      const run = runRefOf(event.object, client.name);
      if (!run) continue;
      const observedAt = new Date().toISOString();
      const status =
        event.type === 'DELETED'
          ? deletedRunStatus(event.object, run, observedAt)
          : runStatusOf(event.object, run, observedAt);
      if (event.type === 'LISTED' && isFinalPhase(status.phase)) {
        const at = Date.parse(event.object.status?.currentState?.lastTransitionTime ?? '');
        if (!(Date.now() - at < replayWithin)) continue; // long finished: polling has recorded it
      }
      const key = run.vendorRunId;
      const signature = `${status.phase}|${status.backendState}`;
      if (last.get(key) === signature) continue;
      // Forget ended runs, so the map holds only live ones; a later event on an ended run repeats its final status,
      // which the workflow ignores.
      if (event.type === 'DELETED' || isFinalPhase(status.phase)) last.delete(key);
      else last.set(key, signature);
      yield status;
    }
  }

  /** Streams one cluster, only while this worker leads it when leader election is on. */
  async function* ledClusterStatuses(client: ClusterClient, signal: AbortSignal): AsyncIterable<RunStatus> {
    const elector = electors.get(client.name);
    if (!elector) {
      yield* clusterStatuses(client, signal);
      return;
    }
    while (!signal.aborted) {
      if (!(await elector.whenLeader(signal))) return;
      const term = new AbortController();
      const stop = () => term.abort();
      signal.addEventListener('abort', stop, { once: true });
      void elector.whenNotLeader(term.signal).then(stop);
      try {
        yield* clusterStatuses(client, term.signal);
      } finally {
        signal.removeEventListener('abort', stop);
        term.abort();
      }
    }
  }

  async function* watch(signal: AbortSignal): AsyncIterable<RunStatus> {
    const inner = new AbortController();
    const stop = () => inner.abort();
    signal.addEventListener('abort', stop, { once: true });
    const elections = [...electors.values()].map((e) => e.run(inner.signal));
    try {
      yield* merge(
        [...clients.values()].map((c) => ledClusterStatuses(c, inner.signal)),
        inner.signal,
      );
    } finally {
      signal.removeEventListener('abort', stop);
      inner.abort();
      await Promise.allSettled(elections);
    }
  }

  return {
    name: 'kubernetes',
    electors,
    describeSubmission(req) {
      const cluster = options.clusters[0]!.name;
      // The router is async; a dry run shows the default cluster's object, which differs only in placement.
      return describe(req, {
        name: cluster,
        namespace: namespaceForTeam(req.team, options.teamDomains, options.defaultDomain),
      });
    },
    submit,
    status,
    cancel,
    logs,
    followLogs,
    watch,
  };
}

/** Interleaves several async streams; ends when all end or the signal aborts. An error in one ends all. */
async function* merge<T>(sources: AsyncIterable<T>[], signal: AbortSignal): AsyncIterable<T> {
  const iterators = sources.map((s) => s[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ i: number; r: IteratorResult<T> }>>();
  const next = (i: number) =>
    pending.set(
      i,
      iterators[i]!.next().then((r) => ({ i, r })),
    );
  iterators.forEach((_, i) => next(i));
  const aborted = new Promise<'aborted'>((resolve) => {
    if (signal.aborted) resolve('aborted');
    signal.addEventListener('abort', () => resolve('aborted'), { once: true });
  });
  try {
    while (pending.size > 0) {
      const winner = await Promise.race([...pending.values(), aborted]);
      if (winner === 'aborted') return;
      const { i, r } = winner;
      if (r.done) pending.delete(i);
      else {
        next(i);
        yield r.value;
      }
    }
  } finally {
    // Not awaited: a source busy in next() finishes its return only once the caller's abort reaches it.
    for (const it of iterators) void it.return?.().catch(() => undefined);
  }
}

function bodyMessage(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: string };
      return parsed.message ?? body;
    } catch {
      return body;
    }
  }
  if (body && typeof body === 'object' && 'message' in body) return String(body.message);
  return err instanceof Error ? err.message : String(err);
}
