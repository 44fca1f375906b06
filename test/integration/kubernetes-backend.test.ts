/**
 * The Kubernetes backend against a real kube-apiserver + etcd with the operator's real SparkApplication CRD. The
 * operator itself is played by test/helpers/operator-standin.ts (it needs a kubelet), which writes `.status`
 * through the status subresource in the sequences the operator documents.
 */
import { randomUUID } from 'node:crypto';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRequest, Backend, Placement, RunStatus, StatusSource, VendorRun } from '../../gateway/backend.js';
import { BackendRejection } from '../../gateway/backend.js';
import type { KubernetesBackendOptions } from '../../gateway/backends/kubernetes/index.js';
import {
  createClusterClients,
  createKubernetesBackend,
  createKubernetesStatusSource,
  createThrottle,
  sparkApplicationName,
  watchSparkApplications,
} from '../../gateway/backends/kubernetes/index.js';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { startTestKube } from '../helpers/kube.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { SEQUENCES, createOperatorStandIn, type OperatorStandIn } from '../helpers/operator-standin.js';

const NS = 'sjns-fin';
const APPS = `/apis/spark.apache.org/v1/namespaces/${NS}/sparkapplications`;

let server: KubeApiServer;
let standIn: OperatorStandIn;
let backend: Backend;
let statusSource: StatusSource;
/** Where the gateway would place a payments attempt on this cluster. */
const PLACED: Placement = { backend: 'kubernetes', cluster: 'test', namespace: NS, reason: 'test' };

function kubeConfigOf(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.kubeconfigPath);
  return kubeConfig;
}

function clients(names = ['test']) {
  return createClusterClients(
    names.map((name) => ({ name, kubeConfig: kubeConfigOf() })),
    { qps: 100, burst: 200, retryBaseDelayMs: 50 },
  );
}

function options(overrides: Partial<KubernetesBackendOptions> = {}): KubernetesBackendOptions {
  return {
    clients: clients(),
    sparkVersions: { '4.0': '4.0.1' },
    images: { '4.0': 'apache/spark:{{SPARK_VERSION}}' },
    retention: {
      resourceRetainPolicy: 'OnFailure',
      resourceRetainDurationMillis: 600_000,
      ttlAfterStopMillis: 3_600_000,
    },
    followIntervalMs: 100,
    ...overrides,
  };
}

function watchOf(source: Parameters<typeof createKubernetesStatusSource>[0]['clients']): StatusSource {
  return createKubernetesStatusSource({ clients: source, watchBackoffMs: { min: 50, max: 500 } });
}

function request(application: JobSpecInput['application'], extra: Partial<JobSpecInput> = {}): AttemptRequest {
  return {
    executionId: randomUUID(),
    attempt: 1,
    team: 'payments',
    jobPath: 'payments/daily-agg',
    spec: JobSpec.parse({ name: 'daily-agg', engineVersion: '4.0', application, ...extra }),
  };
}
const jvmRequest = () => request({ type: 'jvm', mainClass: 'com.acme.Agg', jar: 's3://b/agg.jar' });
const nameOf = (run: VendorRun) => run.vendorRunId.split('/').pop()!;

/** Consumes a watch() into an array, with a wait for a matching status. */
function collect(b: StatusSource) {
  const controller = new AbortController();
  const seen: RunStatus[] = [];
  const waiters = new Set<() => void>();
  const done = (async () => {
    for await (const status of b.watch(controller.signal)) {
      seen.push(status);
      for (const w of [...waiters]) w();
    }
  })();
  return {
    seen,
    controller,
    done,
    async waitFor(pred: (s: RunStatus) => boolean, timeoutMs = 10_000): Promise<RunStatus> {
      const found = () => seen.find(pred);
      if (found()) return found()!;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `no matching status within ${timeoutMs} ms; saw ${JSON.stringify(seen.map((s) => [s.executionId, s.phase, s.backendState]))}`,
            ),
          );
        }, timeoutMs);
        const check = () => {
          const hit = found();
          if (hit) {
            clearTimeout(timer);
            waiters.delete(check);
            resolve(hit);
          }
        };
        waiters.add(check);
      });
    },
    async stop() {
      controller.abort();
      await done;
    },
  };
}

beforeAll(async () => {
  const started = Date.now();
  server = await startTestKube('backend', [NS, 'sjns-shared']);
  console.log(`[kube] API server + CRD + namespaces ready in ${Date.now() - started} ms`);
  standIn = createOperatorStandIn(server);
  const shared = options();
  backend = createKubernetesBackend(shared);
  statusSource = watchOf(shared.clients);
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe('the Kubernetes backend on a real API server', () => {
  it('creates SparkApplications for JVM, Python and CoreETL jobs that the CRD schema accepts without pruning a field', async () => {
    const requests = [
      jvmRequest(),
      request({ type: 'python', file: 's3://b/main.py' }),
      request({ type: 'python', file: 's3://b/main.py', pyFiles: ['s3://b/lib.py'] }),
      request(
        {
          type: 'coreEtl',
          jarPath: 's3://b/core.jar',
          mainClass: 'com.acme.CoreEtl',
          jobSpec: { sources: [{ type: 'parquet', path: 's3://b/in/' }], sinks: [{ type: 'console' }] },
        },
        { resources: { dynamicAllocation: { maxExecutors: 4 } }, args: ['--x'] },
      ),
    ];
    for (const req of requests) {
      const run = await backend.submit(req, PLACED);
      expect(run).toMatchObject({ backend: 'kubernetes', cluster: 'test', namespace: NS });
      const stored = await kubeRequest(server, 'GET', `${APPS}/${nameOf(run)}`);
      expect(stored.status).toBe(200);
      const built = backend.describeSubmission(req, PLACED) as { spec: unknown; metadata: { labels: unknown } };
      // A structural CRD prunes unknown fields silently: finding every built field stored proves every field name
      // is in the schema (the server only adds its defaults, e.g. restartCounterResetMillis: -1).
      expect((stored.body as { spec: object }).spec).toMatchObject(built.spec as object);
      expect((stored.body as { metadata: { labels: unknown } }).metadata.labels).toEqual(built.metadata.labels);
    }
  });

  describe('final statuses through watch() and through status() polling', () => {
    let watcher: ReturnType<typeof collect>;
    beforeAll(() => {
      watcher = collect(statusSource);
    });
    afterAll(() => watcher.stop());

    async function scenario(drive: (run: VendorRun) => Promise<void>) {
      const req = jvmRequest();
      const run = await backend.submit(req, PLACED);
      await watcher.waitFor((s) => s.executionId === req.executionId);
      await standIn.claim(NS, nameOf(run));
      await drive(run);
      const pushed = await watcher.waitFor(
        (s) => s.executionId === req.executionId && s.phase !== 'PENDING' && s.phase !== 'RUNNING',
      );
      const polled = await backend.status(run);
      return { run, pushed, polled, history: watcher.seen.filter((s) => s.executionId === req.executionId) };
    }

    it('reports success as SUCCEEDED once the resources are released', async () => {
      const { pushed, polled, history } = await scenario((run) => standIn.drive(NS, nameOf(run), SEQUENCES.success));
      expect(pushed).toMatchObject({ phase: 'SUCCEEDED', backendState: 'ResourceReleased(Succeeded)' });
      expect(polled).toMatchObject({ phase: 'SUCCEEDED', backendState: 'ResourceReleased(Succeeded)' });
      expect(history.map((s) => s.phase)).toContain('RUNNING');
    });

    it('reports a failure with retained resources as FAILED with the driver exit code', async () => {
      const { pushed, polled } = await scenario((run) => standIn.drive(NS, nameOf(run), SEQUENCES.failureWithRetain));
      for (const s of [pushed, polled]) {
        expect(s).toMatchObject({ phase: 'FAILED', failure: { reason: 'Failed', exitCode: 1 } });
        expect(s.failure?.message).toMatch(/Driver has failed.*Exception in thread "main"/);
      }
    });

    it('reports a driver start timeout as FAILED with reason DriverStartTimedOut', async () => {
      const { pushed, polled } = await scenario((run) => standIn.drive(NS, nameOf(run), SEQUENCES.driverStartTimeout));
      for (const s of [pushed, polled])
        expect(s).toMatchObject({ phase: 'FAILED', failure: { reason: 'DriverStartTimedOut' } });
    });

    it('reports a cancelled (deleted) run as CANCELLED, and the CR is gone', async () => {
      const { run, pushed, polled } = await scenario(async (run) => {
        await standIn.drive(NS, nameOf(run), SEQUENCES.running);
        await backend.cancel({ ...run, placement: PLACED });
        await standIn.finishDeletion(NS, nameOf(run));
      });
      expect(pushed.phase).toBe('CANCELLED');
      expect(polled.phase).toBe('CANCELLED');
      expect((await kubeRequest(server, 'GET', `${APPS}/${nameOf(run)}`)).status).toBe(404);
      await backend.cancel({ ...run, placement: PLACED }); // idempotent on a run that is gone
    });

    it('still reports the outcome by polling when the watch is cut', async () => {
      const cut = collect(statusSource);
      const req = jvmRequest();
      const run = await backend.submit(req, PLACED);
      await cut.waitFor((s) => s.executionId === req.executionId);
      await cut.stop();
      const before = cut.seen.length;
      await standIn.drive(NS, nameOf(run), SEQUENCES.driverStartTimeout);
      expect(await backend.status(run)).toMatchObject({ phase: 'FAILED', failure: { reason: 'DriverStartTimedOut' } });
      expect(cut.seen.length).toBe(before);
    });
  });

  it('adopts the existing object when the same attempt is submitted twice', async () => {
    const req = jvmRequest();
    const first = await backend.submit(req, PLACED);
    const second = await backend.submit(req, PLACED);
    expect(second).toEqual(first);
    const list = await kubeRequest(
      server,
      'GET',
      `${APPS}?labelSelector=${encodeURIComponent(`spark-runner.io/execution-id=${req.executionId}`)}`,
    );
    expect((list.body as { items: unknown[] }).items).toHaveLength(1);
  });

  it('rejects a submission whose name is taken by an object with foreign labels', async () => {
    const req = jvmRequest();
    const built = backend.describeSubmission(req, PLACED) as { metadata: { name: string }; spec: object };
    const foreign = await kubeRequest(server, 'POST', APPS, {
      apiVersion: 'spark.apache.org/v1',
      kind: 'SparkApplication',
      metadata: { name: sparkApplicationName(req.executionId, 1), labels: { team: 'someone-else' } },
      spec: built.spec,
    });
    expect(foreign.status).toBe(201);
    await expect(backend.submit(req, PLACED)).rejects.toThrow(BackendRejection);
    await expect(backend.submit(req, PLACED)).rejects.toThrow(/does not belong to execution/);
  });

  it('cancel deletes the SparkApplication, and cancelling again is harmless', async () => {
    const run = await backend.submit(jvmRequest(), PLACED);
    await backend.cancel({ ...run, placement: PLACED });
    expect((await kubeRequest(server, 'GET', `${APPS}/${nameOf(run)}`)).status).toBe(404);
    await backend.cancel({ ...run, placement: PLACED });
    expect(await backend.status(run)).toMatchObject({ phase: 'CANCELLED', backendState: 'Deleted' });
  });

  it('answers logs of a run whose driver pod does not exist with a clear message', async () => {
    const run = await backend.submit(jvmRequest(), PLACED);
    const text = await backend.logs(run, { tail: 10 });
    expect(text).toMatch(new RegExp(`driver pod ${NS}/${nameOf(run)}-0-driver does not exist`));
  });

  it('fails a run with NO_STATUS when no operator writes a status within statusTimeoutMs', async () => {
    const impatient = createKubernetesBackend(options({ statusTimeoutMs: 1_500 }));
    const run = await impatient.submit(jvmRequest(), PLACED);
    expect((await impatient.status(run)).phase).toBe('PENDING');
    await new Promise((r) => setTimeout(r, 2_100)); // creationTimestamp has 1 s resolution
    const late = await impatient.status(run);
    expect(late).toMatchObject({ phase: 'FAILED', failure: { reason: 'NO_STATUS' } });
    expect(late.failure?.message).toMatch(/probably not watched by the operator/);
  });

  it('merges the watches of several clusters into one stream, each run named by its cluster', async () => {
    // Two cluster entries on the same API server: every object is seen once per cluster name.
    const twins = clients(['left', 'right']);
    const twin = createKubernetesBackend(options({ clients: twins }));
    const watcher = collect(watchOf(twins));
    const req = jvmRequest();
    const run = await twin.submit(req, { ...PLACED, cluster: 'left' });
    expect(run.cluster).toBe('left');
    for (const cluster of ['left', 'right']) {
      await watcher.waitFor((s) => s.executionId === req.executionId && s.vendorRunId.startsWith(`${cluster}/`));
    }
    await watcher.stop();
  });

  it('re-lists after 410 Gone when a watch starts from a resourceVersion the server no longer has', async () => {
    const kubeConfig = kubeConfigOf();
    const run = await backend.submit(jvmRequest(), PLACED);
    const relists: string[] = [];
    const controller = new AbortController();
    const seen: string[] = [];
    for await (const event of watchSparkApplications(
      {
        cluster: 'test',
        kubeConfig,
        api: kubeConfig.makeApiClient(CustomObjectsApi),
        throttle: createThrottle({ qps: 100, burst: 100 }),
        startResourceVersion: '1',
        backoffMs: { min: 50, max: 200 },
        onRelist: (reason) => relists.push(reason),
      },
      controller.signal,
    )) {
      seen.push(`${event.type} ${event.object.metadata?.name}`);
      if (event.object.metadata?.name === nameOf(run)) break;
    }
    expect(relists).toEqual(['gone']);
    expect(seen).toContain(`LISTED ${nameOf(run)}`);
  });

  it('rejects a namespace that does not exist on the cluster as a permanent error', async () => {
    const req = { ...jvmRequest(), team: 'unknown-team' };
    await expect(backend.submit(req, { ...PLACED, namespace: 'sjns-nowhere' })).rejects.toThrow(BackendRejection);
  });
});
