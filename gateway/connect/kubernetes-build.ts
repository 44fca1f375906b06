/**
 * The Kubernetes objects of one Spark Connect server (STYLE.md §4: pure functions, tested as data and against a
 * real kube-apiserver with the operator's real CRD). All three share one deterministic name, `sc-<8 of the server
 * id>-<8 hex of its hash>`, so a retried start finds what the first one created:
 *
 * - a SparkApplication built by the jobs' own `buildSparkApplication` (sizing, image, retention, restartPolicy
 *   Never, the team's namespace), whose main class is the Connect server and which has no application jar (the
 *   launcher's `spark-internal`, as in the operator's examples/spark-connect-server.yaml). It carries no execution
 *   labels, so the jobs' status watch ignores it.
 * - a Secret holding the server's token. The driver container reads it into `SPARK_CONNECT_AUTHENTICATE_TOKEN`
 *   through `secretKeyRef`: the token is never in the CR's sparkConf, argv or any object a reader of
 *   SparkApplications can see.
 * - a ClusterIP Service in front of the driver's port 15002 (and 4040, the UI whose REST API says whether a job
 *   runs), selecting the operator's driver pod labels. The gateway creates it rather than asking the operator's
 *   `driverServiceIngressList`: that field requires an Ingress too (`ingressMetadata`), which would expose the
 *   server beside the authenticating proxy, while this Service is reachable only inside the cluster, where the
 *   proxy routes to `<name>.<namespace>.svc:15002`. Its name is stable across driver attempts, unlike the operator's
 *   headless `<app>-<attempt>-driver-svc`.
 */
import { createHash } from 'node:crypto';
import { JobSpec } from '../../schema/job-spec.js';
import type { AttemptRequest } from '../backend.js';
import {
  DRIVER_CONTAINER,
  LABELS,
  MANAGED_BY,
  SPARK_APP_API_VERSION,
  buildSparkApplication,
  labelValue,
  type KubernetesOptions,
  type SparkApplication,
} from '../backends/kubernetes/build.js';
import { CONNECT_SERVER_CLASS } from './local-server.js';
import type { ServerRequest } from './servers.js';

export const CONNECT_PORT = 15002;
export const DRIVER_UI_PORT = 4040;
export const TOKEN_ENV = 'SPARK_CONNECT_AUTHENTICATE_TOKEN';
export const TOKEN_KEY = 'token';
/** The label naming the Connect server an object belongs to. */
export const SERVER_LABEL = 'spark-runner.io/connect-server';
/** The operator's labels on the driver pod it creates (reference/apache-spark-operator.md §2). */
export const OPERATOR_APP_LABEL = 'spark.operator/spark-app-name';
export const SPARK_ROLE_LABEL = 'spark-role';

/** The launcher's primary resource for a built-in main class (no application jar). */
const NO_RESOURCE = 'spark-internal';

/** The deterministic DNS-1123 name shared by a server's SparkApplication, Service and Secret. */
export function connectServerName(serverId: string): string {
  const prefix =
    serverId
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 8) || 'x';
  return `sc-${prefix}-${createHash('sha256').update(serverId).digest('hex').slice(0, 8)}`;
}

export interface ConnectObjects {
  application: SparkApplication;
  secret: {
    apiVersion: 'v1';
    kind: 'Secret';
    metadata: ObjectMeta;
    type: 'Opaque';
    stringData: Record<string, string>;
  };
  service: { apiVersion: 'v1'; kind: 'Service'; metadata: ObjectMeta; spec: Record<string, unknown> };
}

interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The attempt-shaped request `buildSparkApplication` takes, for a Connect server. */
export function connectAttemptRequest(
  request: ServerRequest,
  backend: 'auto' | 'local' | 'kubernetes',
): AttemptRequest {
  return {
    executionId: request.serverId,
    attempt: 1,
    team: request.team,
    jobPath: `${request.team}/spark-connect`,
    spec: JobSpec.parse({
      name: 'spark-connect',
      engineVersion: request.sparkVersion,
      application: { type: 'jvm', mainClass: CONNECT_SERVER_CLASS, jar: NO_RESOURCE },
      resources: { driver: { memory: request.driverMemoryMb } },
      backend,
    }),
  };
}

/** The server's three objects. Pure; `token` goes only into the Secret. */
export function buildConnectObjects(
  request: ServerRequest,
  cluster: { name: string; namespace: string },
  options: KubernetesOptions,
  token: string,
): ConnectObjects {
  const name = connectServerName(request.serverId);
  const labels = {
    [LABELS.managedBy]: MANAGED_BY,
    [SERVER_LABEL]: labelValue(request.serverId),
    [LABELS.team]: labelValue(request.team),
  };
  const base = buildSparkApplication(connectAttemptRequest(request, 'kubernetes'), cluster, options);
  const { jars: _noJar, ...spec } = base.spec;
  const driverSpec = spec.driverSpec as { podTemplateSpec: { metadata: object; spec: { containers: object[] } } };
  const [driverContainer] = driverSpec.podTemplateSpec.spec.containers;
  const application: SparkApplication = {
    ...base,
    metadata: { name, namespace: cluster.namespace, labels, annotations: {} },
    spec: {
      ...spec,
      sparkConf: {
        ...(spec.sparkConf as Record<string, string>),
        'spark.connect.grpc.binding.port': String(CONNECT_PORT),
        // One server per session: its queries share the driver fairly (the operator's Connect example does the same).
        'spark.scheduler.mode': 'FAIR',
        'spark.kubernetes.executor.podNamePrefix': name,
      },
      driverSpec: {
        podTemplateSpec: {
          ...driverSpec.podTemplateSpec,
          spec: {
            ...driverSpec.podTemplateSpec.spec,
            containers: [
              {
                ...driverContainer,
                name: DRIVER_CONTAINER,
                env: [{ name: TOKEN_ENV, valueFrom: { secretKeyRef: { name, key: TOKEN_KEY } } }],
                ports: [
                  { name: 'spark-connect', containerPort: CONNECT_PORT, protocol: 'TCP' },
                  { name: 'spark-ui', containerPort: DRIVER_UI_PORT, protocol: 'TCP' },
                ],
              },
            ],
          },
        },
      },
    },
  };
  return {
    application,
    secret: {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, namespace: cluster.namespace, labels },
      type: 'Opaque',
      stringData: { [TOKEN_KEY]: token },
    },
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: cluster.namespace, labels },
      spec: {
        type: 'ClusterIP',
        selector: { [OPERATOR_APP_LABEL]: name, [SPARK_ROLE_LABEL]: 'driver' },
        ports: [
          { name: 'spark-connect', port: CONNECT_PORT, targetPort: CONNECT_PORT, protocol: 'TCP' },
          { name: 'spark-ui', port: DRIVER_UI_PORT, targetPort: DRIVER_UI_PORT, protocol: 'TCP' },
        ],
      },
    },
  };
}

/** The in-cluster address the proxy routes a server's RPCs to. */
export function connectServiceHost(name: string, namespace: string): string {
  return `${name}.${namespace}.svc`;
}

/** An ownerReference to the server's SparkApplication, so the cluster deletes the Service and Secret with it. */
export function ownedBy(application: { metadata: { name: string } }, uid: string) {
  return [
    {
      apiVersion: SPARK_APP_API_VERSION,
      kind: 'SparkApplication',
      name: application.metadata.name,
      uid,
      controller: false,
      blockOwnerDeletion: false,
    },
  ];
}
