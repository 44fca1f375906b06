/**
 * The Kubernetes backend's submitting side: one `spark.apache.org/v1` SparkApplication per attempt, run by the
 * Apache Spark Kubernetes Operator (DESIGN.md "The backend contract"; reference/apache-spark-operator.md), on the
 * cluster and namespace the gateway placed the attempt on. Its status-watching side is status-source.ts.
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
 * |        | namespace), unknown engine version, a       |                                                 |
 * |        | placement without cluster and namespace     |                                                 |
 * | submit | 429/5xx/network after retries               | thrown as is: transient, the activity retries   |
 * | status | 404                                         | CANCELLED (`Deleted`): the CR was deleted       |
 * | cancel | 404                                         | fine (already gone)                             |
 * | logs   | CR or driver pod missing                    | a message saying so, not an error               |
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type {
  AttemptRequest,
  Backend,
  CancelTarget,
  LogOptions,
  Placement,
  RunRef,
  RunStatus,
  VendorRun,
} from '../../backend.js';
import { BackendRejection, isFinalPhase } from '../../backend.js';
import { pause } from '../pause.js';
import type { KubernetesOptions, SparkApplication } from './build.js';
import {
  DRIVER_CONTAINER,
  LABELS,
  MANAGED_BY,
  SPARK_APP_GROUP,
  SPARK_APP_PLURAL,
  SPARK_APP_VERSION,
  buildSparkApplication,
  sparkApplicationName,
  sparkVersionFor,
} from './build.js';
import { clientFor, type ClusterClient, type ClusterClients } from './clients.js';
import type { ObservedSparkApplication } from './status.js';
import { apiPodLogs, type PodLogReader, type PodRef } from './pod-logs.js';
import {
  deletedRunStatus,
  noStatusTimeout,
  parseVendorRunId,
  runStatusOf,
  sparkAppIdOf,
  vendorRunIdOf,
} from './status.js';
import { httpStatusOf } from './throttle.js';
import type { WatchLogger } from './watch.js';
import type { WatchHealth } from './watch-health.js';

export * from './build.js';
export * from './clients.js';
export * from './status.js';
export { createThrottle, type Throttle, type ThrottleOptions } from './throttle.js';
export { createLeaseElector, leaseNameFor, type LeaderElectionOptions, type LeaseElector } from './lease.js';
export { watchSparkApplications, type WatchEvent } from './watch.js';
export { createKubernetesStatusSource, type KubernetesStatusSource } from './status-source.js';
export { createWatchHealth, leaseVouches, WATCH_HEALTH_ANNOTATION, type WatchHealth } from './watch-health.js';
export { apiPodLogs, type PodLogReader, type PodRef } from './pod-logs.js';

export interface KubernetesBackendOptions extends KubernetesOptions {
  /** Every cluster this process may reach, by name (clients.ts). */
  clients: ClusterClients;
  /** No operator status this long after creation → FAILED `NO_STATUS`. Default 5 min. */
  statusTimeoutMs?: number;
  /** What runs `coreEtl` jobs (K8S_CORE_ETL_RUNTIME); default `jar`. `builtin` cannot run here (see below). */
  coreEtlRuntime?: 'jar' | 'builtin';
  /** How often followLogs() re-reads the driver log. Default 2 s. */
  followIntervalMs?: number;
  /** Each cluster's live Spark UI template, by cluster name (observability/links.ts). */
  uiUrlTemplates?: Record<string, string>;
  /** How driver logs are read; the pod log API by default (tests, which have no kubelet, stand in for it). */
  podLogs?: PodLogReader;
  /** Whether each cluster's watch is healthy (watch-health.ts); without it, every poll reads the run. */
  watchHealth?: WatchHealth;
  logger?: WatchLogger;
}

const DEFAULT_STATUS_TIMEOUT_MS = 5 * 60_000;

/** The cluster and namespace of a Kubernetes placement; anything less is a gateway bug, so a rejection. */
function target(placement: Placement): { name: string; namespace: string } {
  if (placement.backend !== 'kubernetes' || !placement.cluster || !placement.namespace) {
    throw new BackendRejection(`not a Kubernetes placement: ${JSON.stringify(placement)}`);
  }
  return { name: placement.cluster, namespace: placement.namespace };
}

/** Creates the Kubernetes backend's submitting side. Settings come only from `options`. */
export function createKubernetesBackend(options: KubernetesBackendOptions): Backend {
  const { clients } = options;
  const statusTimeoutMs = options.statusTimeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS;
  const podLogs = options.podLogs ?? apiPodLogs;
  const appTarget = (namespace: string) => ({
    group: SPARK_APP_GROUP,
    version: SPARK_APP_VERSION,
    namespace,
    plural: SPARK_APP_PLURAL,
  });

  function toVendorRun(attempt: AttemptRequest, cluster: string, app: SparkApplication): VendorRun {
    const { name, namespace } = app.metadata;
    return {
      executionId: attempt.executionId,
      attempt: attempt.attempt,
      vendorRunId: vendorRunIdOf(cluster, namespace, name),
      backend: 'kubernetes',
      cluster,
      namespace,
      // The version the image runs (SPARK_VERSIONS), recorded on the execution like local Spark's.
      sparkVersion: sparkVersionFor(attempt.spec.engineVersion, options.sparkVersions),
    };
  }

  async function submit(attempt: AttemptRequest, placement: Placement): Promise<VendorRun> {
    const cluster = target(placement);
    const client = clientFor(clients, cluster.name);
    const app = buildSparkApplication(attempt, cluster, options);
    const { name, namespace } = app.metadata;
    try {
      await client.throttle.call(() =>
        client.objects.createNamespacedCustomObject({ ...appTarget(namespace), body: app }),
      );
      options.logger?.info({ cluster: cluster.name, namespace, name, executionId: attempt.executionId }, 'created');
      return toVendorRun(attempt, cluster.name, app);
    } catch (err) {
      const status = httpStatusOf(err);
      if (status === 409) {
        const existing = (await client.throttle.call(() =>
          client.objects.getNamespacedCustomObject({ ...appTarget(namespace), name }),
        )) as KubernetesObject;
        const labels = existing.metadata?.labels ?? {};
        if (
          labels[LABELS.managedBy] !== MANAGED_BY ||
          labels[LABELS.executionId] !== app.metadata.labels[LABELS.executionId] ||
          labels[LABELS.attempt] !== String(attempt.attempt)
        ) {
          throw new BackendRejection(
            `SparkApplication ${namespace}/${name} already exists on cluster ${cluster.name} and does not belong to execution ${attempt.executionId} attempt ${attempt.attempt}`,
          );
        }
        options.logger?.info({ cluster: cluster.name, namespace, name }, 'adopted the existing SparkApplication');
        return toVendorRun(attempt, cluster.name, app);
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
    const client = clientFor(clients, cluster);
    try {
      const app = (await client.throttle.call(() =>
        client.objects.getNamespacedCustomObject({ ...appTarget(namespace), name }),
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
    const links = { uiUrlTemplate: options.uiUrlTemplates?.[parseVendorRunId(run.vendorRunId).cluster] };
    return noStatusTimeout(app, run, now, statusTimeoutMs) ?? runStatusOf(app, run, now.toISOString(), links);
  }

  /** Deletes the attempt's object, found from its run id or, before submit returned one, from its placement. */
  async function cancel(run: CancelTarget): Promise<void> {
    const { cluster, namespace, name } = run.vendorRunId
      ? parseVendorRunId(run.vendorRunId)
      : {
          ...target(run.placement),
          cluster: target(run.placement).name,
          name: sparkApplicationName(run.executionId, run.attempt),
        };
    const client = clientFor(clients, cluster);
    try {
      await client.throttle.call(() =>
        client.objects.deleteNamespacedCustomObject({ ...appTarget(namespace), name, propagationPolicy: 'Background' }),
      );
      options.logger?.info({ cluster, namespace, name }, 'deleted SparkApplication (cancel)');
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
    }
  }

  /** The driver pod of the CR's current attempt: `<spark.app.id>-driver`. */
  function driverPod(run: RunRef, app: ObservedSparkApplication): PodRef {
    const { namespace } = parseVendorRunId(run.vendorRunId);
    return { namespace, name: `${sparkAppIdOf(app, run)}-driver`, container: DRIVER_CONTAINER };
  }

  const goneMessage = (pod: PodRef) =>
    `[spark-runner] driver pod ${pod.namespace}/${pod.name} does not exist: it has not been created yet, or the ` +
    `operator released it after the run (K8S_RETAIN_POLICY=Always keeps it for K8S_RETAIN_DURATION_MS).\n`;
  const deletedMessage = (run: RunRef) => {
    const { namespace, name } = parseVendorRunId(run.vendorRunId);
    return `[spark-runner] SparkApplication ${namespace}/${name} no longer exists, so its logs are gone.\n`;
  };

  /** The driver log's text, or (`gone`) the message saying why there is none. */
  async function readText(run: RunRef, logOptions?: LogOptions): Promise<{ text: string; gone: boolean }> {
    const { client, app } = await read(run);
    if (!app) return { text: deletedMessage(run), gone: true };
    const pod = driverPod(run, app);
    try {
      const tail = logOptions?.tail !== undefined ? { tailLines: logOptions.tail } : {};
      return { text: await podLogs.read(client, pod, tail), gone: false };
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
      return { text: goneMessage(pod), gone: true };
    }
  }

  async function logs(run: RunRef, logOptions?: LogOptions): Promise<string> {
    return (await readText(run, logOptions)).text;
  }

  /** The driver log as a stream, for the archive; a pod or CR that is gone gives the message saying so. */
  async function* openLog(run: RunRef, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const { client, app } = await read(run);
    if (!app) {
      yield Buffer.from(deletedMessage(run));
      return;
    }
    const pod = driverPod(run, app);
    let stream: AsyncIterator<Uint8Array>;
    let first: IteratorResult<Uint8Array>;
    try {
      stream = podLogs.stream(client, pod, signal)[Symbol.asyncIterator]();
      first = await stream.next();
    } catch (err) {
      if (httpStatusOf(err) !== 404) throw err;
      yield Buffer.from(goneMessage(pod));
      return;
    }
    for (let next = first; !next.done; next = await stream.next()) yield next.value;
  }

  /** Re-reads the driver log every `followIntervalMs` and yields what is new, until the run is final. */
  async function* followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string> {
    let seen = '';
    while (!signal.aborted) {
      const final = isFinalPhase((await status(run)).phase);
      const { text, gone } = await readText(run);
      // A pod or CR removed after its log was shown: stop here (the log archive has the rest), rather than show
      // the message that it is gone as if it were a new log.
      if (gone && seen) return;
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

  return {
    name: 'kubernetes',
    // The builtin CoreETL runtime does not run on Kubernetes: the stock image (SPARK_IMAGE) has neither
    // coreetl/runtime.py nor the Iceberg runtime, and this backend installs nothing into pods.
    unsupported: (spec) =>
      spec.application.type === 'coreEtl' && options.coreEtlRuntime === 'builtin'
        ? {
            field: 'application',
            message:
              'the builtin CoreETL runtime does not run on Kubernetes: the stock image has neither the runtime nor Iceberg; set K8S_CORE_ETL_RUNTIME=jar to run the job spec with its jar',
          }
        : undefined,
    describeSubmission: (attempt, placement) => buildSparkApplication(attempt, target(placement), options),
    submit,
    status,
    watched: async (run) =>
      options.watchHealth ? options.watchHealth.isWatched(parseVendorRunId(run.vendorRunId).cluster) : false,
    cancel,
    logs,
    followLogs,
    openLog,
  };
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
