/**
 * Builds the `spark.apache.org/v1` SparkApplication for one attempt (STYLE.md §4: a pure function, tested as data
 * against the operator's real CRD). Field names follow the CRD in
 * ../shared/anchors/apache-spark-k8s-operator/crds/sparkapplications.spark.apache.org-v1.yaml.
 *
 * Decisions:
 * - Name: `sr-<first 8 alphanumerics of the execution id>-<8 hex of sha256(executionId/attempt)>-a<attempt>`,
 *   e.g. `sr-3f2a9c1d-5b0e7a12-a1` (about 24 characters). Deterministic per (execution, attempt), so a repeated
 *   submit hits "already exists" and adopts; short, so the operator's `spark.app.id` (`<name>-<attemptId>`) and
 *   the driver pod name `<name>-<attemptId>-driver` stay readable and valid.
 * - Namespace: the placement's, which the gateway derives from the team's configured domain, never from the request.
 * - `restartPolicy: Never`: Spark Runner's auto-retry owns retries, with a new CR per attempt.
 * - Resources are set twice: in sparkConf (what Spark sizes the JVMs and executors by) and in the pod templates
 *   (requests/limits the scheduler and quota see). Pod memory = heap + overhead, where the overhead is Spark's
 *   default `max(384 MiB, 10% of the heap)`; the memory limit equals the request (no overcommit, so an OOM
 *   is an `OOMKilled` the classifier can see), and no CPU limit is set (CPU limits throttle the JVM).
 */
import { createHash } from 'node:crypto';
import type { AttemptRequest } from '../../backend.js';
import { BackendRejection } from '../../backend.js';
import { eventLogConf } from '../../../observability/event-log.js';
import { formatMemory } from '../../../schema/job-spec.js';
import { assertNever } from '../../../schema/vocabulary.js';

export const SPARK_APP_API_VERSION = 'spark.apache.org/v1';
export const SPARK_APP_GROUP = 'spark.apache.org';
export const SPARK_APP_VERSION = 'v1';
export const SPARK_APP_PLURAL = 'sparkapplications';

export const LABELS = {
  managedBy: 'app.kubernetes.io/managed-by',
  executionId: 'spark-runner.io/execution-id',
  attempt: 'spark-runner.io/attempt',
  team: 'spark-runner.io/team',
  job: 'spark-runner.io/job',
} as const;
export const MANAGED_BY = 'spark-runner';
export const JOB_PATH_ANNOTATION = 'spark-runner.io/job-path';

/** Spark's default container names; the pod templates use them so Spark merges into these containers. */
export const DRIVER_CONTAINER = 'spark-kubernetes-driver';
export const EXECUTOR_CONTAINER = 'spark-kubernetes-executor';
export const PYTHON_RUNNER = 'org.apache.spark.deploy.PythonRunner';

export type ResourceRetainPolicy = 'Always' | 'OnFailure' | 'Never';

/** What the builder needs from the backend's options. */
export interface KubernetesOptions {
  /** Engine version ("4.0") → full Spark version ("4.0.1") for `runtimeVersions.sparkVersion`. */
  sparkVersions: Record<string, string>;
  /** Engine version ("4.0") → container image; `{{SPARK_VERSION}}` is expanded by the operator. */
  images: Record<string, string>;
  retention: {
    /** The operator's `resourceRetainPolicy` (`Always` keeps the driver pod, so its log is archived after the run). */
    resourceRetainPolicy: ResourceRetainPolicy;
    /** How long retained resources are kept; -1 = no limit. */
    resourceRetainDurationMillis?: number;
    /** The operator deletes the CR this long after it stops; -1 = never. Keep it above the status poll interval. */
    ttlAfterStopMillis: number;
  };
  /** Each cluster's Spark event-log directory (`spark.eventLog.dir`), by cluster name; a cluster without one: none. */
  eventLogDirs?: Record<string, string>;
  /** Operator timeouts (`applicationTolerations.applicationTimeoutConfig`); operator defaults when absent. */
  timeouts?: {
    driverStartTimeoutMillis?: number;
    driverReadyTimeoutMillis?: number;
    executorStartTimeoutMillis?: number;
  };
}

export type SparkApplication = {
  apiVersion: typeof SPARK_APP_API_VERSION;
  kind: 'SparkApplication';
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
  spec: Record<string, unknown>;
};

/** The deterministic DNS-1123 name of an attempt's SparkApplication (see the header). */
export function sparkApplicationName(executionId: string, attempt: number): string {
  const prefix =
    executionId
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 8) || 'x';
  const hash = createHash('sha256').update(`${executionId}/${attempt}`).digest('hex').slice(0, 8);
  return `sr-${prefix}-${hash}-a${attempt}`;
}

/** A value valid as a Kubernetes label value (≤ 63, alphanumeric ends); long values keep a hash suffix. */
export function labelValue(value: string): string {
  let v = value.replace(/\//g, '.').replace(/[^A-Za-z0-9._-]/g, '-');
  if (v.length > 63) v = `${v.slice(0, 54)}-${createHash('sha256').update(value).digest('hex').slice(0, 8)}`;
  return v.replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** Resolves the engine version to a full Spark version, or rejects. */
export function sparkVersionFor(engineVersion: string, sparkVersions: Record<string, string>): string {
  const configured = Object.hasOwn(sparkVersions, engineVersion) ? sparkVersions[engineVersion] : undefined;
  if (configured) return configured;
  if (/^\d+\.\d+\.\d+$/.test(engineVersion)) return engineVersion;
  throw new BackendRejection(
    `engine version "${engineVersion}" is not available on Kubernetes (configured: ${Object.keys(sparkVersions).join(', ') || 'none'})`,
  );
}

function imageFor(engineVersion: string, images: Record<string, string>): string {
  const minor = engineVersion.split('.').slice(0, 2).join('.');
  const image = images[engineVersion] ?? images[minor];
  if (!image) throw new BackendRejection(`no Spark image is configured for engine version "${engineVersion}"`);
  return image;
}

/** Pod memory for a JVM heap: heap + max(384 MiB, 10%). */
export function podMemoryMb(heapMb: number): number {
  return heapMb + Math.max(384, Math.ceil(heapMb * 0.1));
}

function podTemplate(container: string, cores: number, heapMb: number, labels: Record<string, string>) {
  const memory = `${podMemoryMb(heapMb)}Mi`;
  return {
    podTemplateSpec: {
      metadata: { labels },
      spec: {
        containers: [
          {
            name: container,
            resources: { requests: { cpu: String(cores), memory }, limits: { memory } },
          },
        ],
      },
    },
  };
}

function applicationFields(req: AttemptRequest): Record<string, unknown> {
  const app = req.spec.application;
  switch (app.type) {
    case 'jvm':
      return { mainClass: app.mainClass, jars: app.jar, driverArgs: [...req.spec.args] };
    case 'python': {
      const files = [app.file, ...app.pyFiles];
      // Several files need PythonRunner, else the operator passes "a.py,b.py" as one path (SPARK-53869).
      return {
        ...(files.length > 1 ? { mainClass: PYTHON_RUNNER } : {}),
        pyFiles: files.join(','),
        driverArgs: [...req.spec.args],
      };
    }
    case 'coreEtl':
      return {
        mainClass: app.mainClass,
        jars: app.jarPath,
        driverArgs: ['--job-spec', JSON.stringify(app.jobSpec), ...req.spec.args],
      };
    default:
      return assertNever(app);
  }
}

function resourceConf(req: AttemptRequest): Record<string, string> {
  const { driver, executor, dynamicAllocation } = req.spec.resources;
  const conf: Record<string, string> = {
    'spark.driver.cores': String(driver.cores),
    'spark.driver.memory': formatMemory(driver.memoryMb),
    'spark.executor.cores': String(executor.cores),
    'spark.executor.memory': formatMemory(executor.memoryMb),
    'spark.executor.instances': String(executor.instances),
  };
  if (dynamicAllocation) {
    conf['spark.dynamicAllocation.enabled'] = String(dynamicAllocation.enabled);
    if (dynamicAllocation.enabled) {
      // No external shuffle service on Kubernetes: shuffle tracking lets executors be released safely.
      conf['spark.dynamicAllocation.shuffleTracking.enabled'] = 'true';
      conf['spark.dynamicAllocation.minExecutors'] = String(dynamicAllocation.minExecutors);
      conf['spark.dynamicAllocation.maxExecutors'] = String(dynamicAllocation.maxExecutors);
    }
  }
  return conf;
}

/**
 * The SparkApplication for one attempt. Pure: the same request, cluster and options give the same object.
 * Throws `BackendRejection` when the engine version has no configured Spark version or image.
 */
export function buildSparkApplication(
  req: AttemptRequest,
  cluster: { name: string; namespace: string },
  options: KubernetesOptions,
): SparkApplication {
  // The job's own labels (JobSpec-checked: Kubernetes syntax, no platform prefix) first; the platform's win.
  const labels = {
    ...req.spec.labels,
    [LABELS.managedBy]: MANAGED_BY,
    [LABELS.executionId]: labelValue(req.executionId),
    [LABELS.attempt]: String(req.attempt),
    [LABELS.team]: labelValue(req.team),
    [LABELS.job]: labelValue(req.jobPath),
  };
  const sparkVersion = sparkVersionFor(req.spec.engineVersion, options.sparkVersions);
  const { driver, executor } = req.spec.resources;
  const podLabels = {
    ...req.spec.labels,
    [LABELS.executionId]: labels[LABELS.executionId],
    [LABELS.team]: labels[LABELS.team],
  };
  const { retention } = options;
  return {
    apiVersion: SPARK_APP_API_VERSION,
    kind: 'SparkApplication',
    metadata: {
      name: sparkApplicationName(req.executionId, req.attempt),
      namespace: cluster.namespace,
      labels,
      annotations: { [JOB_PATH_ANNOTATION]: req.jobPath },
    },
    spec: {
      ...applicationFields(req),
      runtimeVersions: { sparkVersion },
      // User settings first: the platform's image and sizing win (the JobSpec already rejects forbidden keys).
      sparkConf: {
        // The cluster's event log is a platform default a job may override; its image and sizing are not.
        ...(options.eventLogDirs?.[cluster.name] ? eventLogConf(options.eventLogDirs[cluster.name]!) : {}),
        ...req.spec.sparkConf,
        'spark.kubernetes.container.image': imageFor(req.spec.engineVersion, options.images),
        ...resourceConf(req),
      },
      driverSpec: podTemplate(DRIVER_CONTAINER, driver.cores, driver.memoryMb, podLabels),
      executorSpec: podTemplate(EXECUTOR_CONTAINER, executor.cores, executor.memoryMb, podLabels),
      applicationTolerations: {
        restartConfig: { restartPolicy: 'Never' },
        ...(options.timeouts ? { applicationTimeoutConfig: { ...options.timeouts } } : {}),
        resourceRetainPolicy: retention.resourceRetainPolicy,
        ...(retention.resourceRetainDurationMillis !== undefined
          ? { resourceRetainDurationMillis: retention.resourceRetainDurationMillis }
          : {}),
        ttlAfterStopMillis: retention.ttlAfterStopMillis,
      },
    },
  };
}
