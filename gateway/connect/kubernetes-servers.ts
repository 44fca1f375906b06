/**
 * Spark Connect servers on Kubernetes: per server, a SparkApplication run by the Apache Spark operator, its token's
 * Secret and its Service (kubernetes-build.ts), on the cluster and in the team's namespace the gateway placed it.
 *
 * | call  | what it does                                                                   | idempotency                        |
 * |-------|--------------------------------------------------------------------------------|------------------------------------|
 * | start | creates the SparkApplication, then the Secret and Service owned by it; waits   | "already exists" with our server   |
 * |       | until the operator reports the driver ready (DriverReady or a Running* state)  | label is adopted; an existing      |
 * |       |                                                                                | Secret's token is kept             |
 * | alive | reads the SparkApplication: gone, or in a failure or final state, is dead      | -                                  |
 * | busy  | the driver UI's REST API through the Service (port 4040)                       | -                                  |
 * | stop  | deletes all three (404 is fine); ownerReferences cover a cluster's own GC too  | yes                                |
 *
 * A SparkApplication that fails before it is ready fails the start with the operator's state and message (a plain,
 * retried error); one whose name clashes with an object that is not this server's is a BackendRejection.
 */
import { randomBytes } from 'node:crypto';
import { BackendRejection, type Placement } from '../backend.js';
import {
  FAILURE_STATES,
  FINAL_STATES,
  SPARK_APP_GROUP,
  SPARK_APP_PLURAL,
  SPARK_APP_VERSION,
  clientFor,
  type ClusterClients,
  type KubernetesOptions,
  type ObservedSparkApplication,
} from '../backends/kubernetes/index.js';
import { httpStatusOf } from '../backends/kubernetes/throttle.js';
import { pause } from '../backends/pause.js';
import {
  CONNECT_PORT,
  DRIVER_UI_PORT,
  SERVER_LABEL,
  TOKEN_KEY,
  buildConnectObjects,
  connectServerName,
  connectServiceHost,
  ownedBy,
} from './kubernetes-build.js';
import {
  sparkJobRunning,
  type ConnectServerBackend,
  type ServerRecord,
  type ServerRequest,
  type StartedServer,
} from './servers.js';

export interface KubernetesConnectOptions extends KubernetesOptions {
  clients: ClusterClients;
  /** How often start re-reads the SparkApplication while it waits. Default 2 s. */
  pollMs?: number;
  logger?: { info(obj: object, msg: string): void };
}

/** Operator states in which the driver, and so the Connect server, answers. */
const READY_STATES = [
  'DriverReady',
  'InitializedBelowThresholdExecutors',
  'RunningHealthy',
  'RunningWithPartialCapacity',
  'RunningWithBelowThresholdExecutors',
];
const DEAD_STATES: readonly string[] = [...FAILURE_STATES, ...FINAL_STATES, 'Succeeded'];

export function createKubernetesConnectBackend(options: KubernetesConnectOptions): ConnectServerBackend {
  const apps = (namespace: string) => ({
    group: SPARK_APP_GROUP,
    version: SPARK_APP_VERSION,
    namespace,
    plural: SPARK_APP_PLURAL,
  });

  function where(server: ServerRecord): { cluster: string; namespace: string; name: string } {
    if (!server.cluster || !server.namespace) {
      throw new BackendRejection(`Connect server ${server.serverId} has no recorded cluster and namespace`);
    }
    return {
      cluster: server.cluster,
      namespace: server.namespace,
      name: server.objectName ?? connectServerName(server.serverId),
    };
  }

  async function read(server: ServerRecord): Promise<ObservedSparkApplication | undefined> {
    const { cluster, namespace, name } = where(server);
    const client = clientFor(options.clients, cluster);
    try {
      return (await client.throttle.call(() =>
        client.objects.getNamespacedCustomObject({ ...apps(namespace), name }),
      )) as ObservedSparkApplication;
    } catch (err) {
      if (httpStatusOf(err) === 404) return undefined;
      throw err;
    }
  }

  /** Creates `create()`'s object, or accepts the existing one when it carries this server's label. */
  async function createOrAdopt(
    what: string,
    serverId: string,
    create: () => Promise<unknown>,
    readExisting: () => Promise<{ metadata?: { labels?: Record<string, string> } }>,
  ): Promise<void> {
    try {
      await create();
    } catch (err) {
      if (httpStatusOf(err) !== 409) throw rejectOrRethrow(what, err);
      const existing = await readExisting();
      if (existing.metadata?.labels?.[SERVER_LABEL] !== serverId) {
        throw new BackendRejection(`${what} already exists and does not belong to Connect server ${serverId}`);
      }
    }
  }

  async function start(
    request: ServerRequest,
    placement: Placement,
    { signal, progress }: { signal: AbortSignal; progress?: () => void },
  ): Promise<StartedServer> {
    if (placement.backend !== 'kubernetes' || !placement.cluster || !placement.namespace) {
      throw new BackendRejection(`not a Kubernetes placement: ${JSON.stringify(placement)}`);
    }
    const cluster = placement.cluster;
    const namespace = placement.namespace;
    const client = clientFor(options.clients, cluster);
    const call = <T>(fn: () => Promise<T>) => client.throttle.call(fn);
    const name = connectServerName(request.serverId);
    const objects = buildConnectObjects(
      request,
      { name: cluster, namespace },
      options,
      randomBytes(32).toString('base64url'),
    );
    const record: ServerRecord = { serverId: request.serverId, cluster, namespace, objectName: name };

    await createOrAdopt(
      `SparkApplication ${namespace}/${name}`,
      request.serverId,
      () => call(() => client.objects.createNamespacedCustomObject({ ...apps(namespace), body: objects.application })),
      async () => (await read(record)) ?? {},
    );
    const app = (await read(record)) as { metadata?: { uid?: string } } | undefined;
    const uid = app?.metadata?.uid;
    if (!uid) throw new Error(`SparkApplication ${namespace}/${name} vanished right after it was created`);
    const owner = ownedBy(objects.application, uid);

    await createOrAdopt(
      `Secret ${namespace}/${name}`,
      request.serverId,
      () =>
        call(() =>
          client.core.createNamespacedSecret({
            namespace,
            body: { ...objects.secret, metadata: { ...objects.secret.metadata, ownerReferences: owner } },
          }),
        ),
      () => call(() => client.core.readNamespacedSecret({ name, namespace })),
    );
    // A retried start keeps the token of the Secret the first one created: the driver reads that one.
    const secret = await call(() => client.core.readNamespacedSecret({ name, namespace }));
    const encoded = secret.data?.[TOKEN_KEY];
    if (!encoded) throw new BackendRejection(`Secret ${namespace}/${name} holds no ${TOKEN_KEY}`);
    const token = Buffer.from(encoded, 'base64').toString('utf8');

    await createOrAdopt(
      `Service ${namespace}/${name}`,
      request.serverId,
      () =>
        call(() =>
          client.core.createNamespacedService({
            namespace,
            body: { ...objects.service, metadata: { ...objects.service.metadata, ownerReferences: owner } },
          }),
        ),
      () => call(() => client.core.readNamespacedService({ name, namespace })),
    );
    options.logger?.info({ cluster, namespace, name, serverId: request.serverId }, 'Connect server created');

    for (;;) {
      progress?.();
      const observed = await read(record);
      const state = observed?.status?.currentState?.currentStateSummary;
      if (!observed) throw new Error(`SparkApplication ${namespace}/${name} was deleted while it started`);
      if (state && READY_STATES.includes(state)) break;
      if (state && DEAD_STATES.includes(state)) {
        const message = observed.status?.currentState?.message;
        throw new Error(
          `Connect server ${namespace}/${name} ended while starting: ${state}${message ? `: ${message}` : ''}`,
        );
      }
      if (!(await pause(options.pollMs ?? 2000, signal))) {
        await stop(record);
        throw new Error('the start was cancelled');
      }
    }
    return {
      host: connectServiceHost(name, namespace),
      port: CONNECT_PORT,
      token,
      cluster,
      namespace,
      objectName: name,
    };
  }

  async function stop(server: ServerRecord): Promise<void> {
    if (!server.cluster || !server.namespace) return; // never placed: nothing was created
    const { cluster, namespace, name } = where(server);
    const client = clientFor(options.clients, cluster);
    const gone = (err: unknown) => {
      if (httpStatusOf(err) !== 404) throw err;
    };
    await client.throttle
      .call(() =>
        client.objects.deleteNamespacedCustomObject({ ...apps(namespace), name, propagationPolicy: 'Background' }),
      )
      .catch(gone);
    await client.throttle.call(() => client.core.deleteNamespacedService({ name, namespace })).catch(gone);
    await client.throttle.call(() => client.core.deleteNamespacedSecret({ name, namespace })).catch(gone);
    options.logger?.info({ cluster, namespace, name, serverId: server.serverId }, 'Connect server deleted');
  }

  return {
    name: 'kubernetes',
    start,
    async alive(server) {
      const app = await read(server);
      const state = app?.status?.currentState?.currentStateSummary;
      return app !== undefined && !(state && DEAD_STATES.includes(state));
    },
    async busy(server) {
      const { namespace, name } = where(server);
      return sparkJobRunning(`http://${connectServiceHost(name, namespace)}:${DRIVER_UI_PORT}`);
    },
    stop,
  };
}

function rejectOrRethrow(what: string, err: unknown): unknown {
  const status = httpStatusOf(err);
  if (status !== undefined && [400, 403, 404, 422].includes(status)) {
    return new BackendRejection(`the cluster refused ${what} (HTTP ${status}): ${messageOf(err)}`);
  }
  return err;
}

function messageOf(err: unknown): string {
  const body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      return (JSON.parse(body) as { message?: string }).message ?? body;
    } catch {
      return body;
    }
  }
  return err instanceof Error ? err.message : String(err);
}
