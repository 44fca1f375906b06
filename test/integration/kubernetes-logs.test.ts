/**
 * Driver logs of Kubernetes runs after the run (issue 15): archived when the attempt ends, readable after the
 * SparkApplication is gone, and followed from live to archived without a gap. A real kube-apiserver (with etcd
 * and the operator's real CRD) holds the SparkApplications, the execution workflow runs on the real Temporal
 * server and Postgres, and the operator is played by test/helpers/operator-standin.ts.
 *
 * STAND-IN: a driver pod's log cannot be produced here, since the kube-apiserver serves it from the kubelet
 * running the pod and there is no kubelet. The backend reads logs behind its `PodLogReader` interface
 * (gateway/backends/kubernetes/pod-logs.ts), and this file hands it a reader that serves text for the driver
 * pod the backend asks for by name; everything else (the CR, its status, its deletion) is the real API server.
 * The real reader is exercised against the API server too: for a pod that does not exist it gets the 404.
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiPodLogs,
  createClusterClients,
  createKubernetesBackend,
  type PodLogReader,
  type PodRef,
} from '../../gateway/backends/kubernetes/index.js';
import { httpStatusOf } from '../../gateway/backends/kubernetes/throttle.js';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { JobSpec } from '../../schema/job-spec.js';
import type { MetricsSummaryV1 } from '../../schema/metrics-summary.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startTestKube } from '../helpers/kube.js';
import { createOperatorStandIn, SEQUENCES, type OperatorStandIn } from '../helpers/operator-standin.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const NAMESPACE = 'sjns-logs';
const CLUSTER = 'logs-east';
const UI = 'https://spark.example.test/{namespace}/{appId}/';
const EVENTS = 's3a://spark-events/logs-east/';

let server: KubeApiServer;
let stack: TestStack;
let api: TestApi;
let standIn: OperatorStandIn;

/** The stand-in pod log: what each driver pod "printed", as the live API and as the archive's stream read it. */
const pods = new Map<string, { live: string; whole: string }>();
const streamed: string[] = [];
const standInLogs: PodLogReader = {
  read(_client, pod: PodRef, options) {
    const log = pods.get(`${pod.namespace}/${pod.name}/${pod.container}`);
    if (!log) return Promise.reject(Object.assign(new Error(`pod ${pod.name} not found`), { code: 404 }));
    const tail = options?.tailLines;
    return Promise.resolve(
      tail
        ? log.live
            .split('\n')
            .slice(-tail - 1)
            .join('\n')
        : log.live,
    );
  },
  stream(_client, pod: PodRef) {
    const log = pods.get(`${pod.namespace}/${pod.name}/${pod.container}`);
    if (!log) throw Object.assign(new Error(`pod ${pod.name} not found`), { code: 404 });
    streamed.push(pod.name);
    const bytes = Buffer.from(log.whole);
    return Readable.from(
      (function* () {
        for (let at = 0; at < bytes.length; at += 10_000) yield bytes.subarray(at, at + 10_000);
      })(),
    );
  },
};

const lines = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => `driver line ${String(from + i).padStart(5, '0')}\n`).join('');

beforeAll(async () => {
  server = await startTestKube('logs', [NAMESPACE]);
  standIn = createOperatorStandIn(server);
  const file = path.join(process.env.SPARK_RUNNER_TEST_TMP!, `gateway-logs-${Date.now()}.yaml`);
  const cluster = {
    name: CLUSTER,
    region: 'us-east',
    capacity: 10,
    kubeconfig: server.kubeconfigPath,
    eventLogDir: EVENTS,
    sparkUiUrlTemplate: UI,
  };
  fs.writeFileSync(file, YAML.stringify({ teamDomains: { 'k8s-logs': 'logs' }, clusters: [cluster] }));
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    GATEWAY_HEALTH_INTERVAL_MS: '200',
    STATUS_POLL_INTERVAL_MS: '1000',
  });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(server.kubeconfigPath);
  // The product's Kubernetes backend, as gateway/compose.ts builds it, with the stand-in pod log reader.
  const kubernetes = createKubernetesBackend({
    clients: createClusterClients([{ name: CLUSTER, kubeConfig }]),
    sparkVersions: stack.config.SPARK_VERSIONS,
    images: { '4.0': stack.config.SPARK_IMAGE },
    retention: {
      resourceRetainPolicy: 'Always',
      resourceRetainDurationMillis: 1_800_000,
      ttlAfterStopMillis: 3_600_000,
    },
    eventLogDirs: { [CLUSTER]: EVENTS },
    uiUrlTemplates: { [CLUSTER]: UI },
    followIntervalMs: 100,
    podLogs: standInLogs,
  });
  await stack.startWorker({ kubernetes });
  api = await startTestApi(stack, { backends: { kubernetes } });
}, 180_000);

afterAll(async () => {
  await api?.close();
  await stack?.close();
  await server?.stop();
});

async function submit(name: string) {
  const spec = JobSpec.parse({
    name,
    engineVersion: '4.0',
    application: { type: 'python', file: 'local:///opt/spark/examples/src/main/python/pi.py' },
  });
  const { execution } = await submitExecution(stack, { team: 'k8s-logs', trigger: 'api', spec });
  const id = execution.executionId;
  const row = await eventually('the SparkApplication', async () => {
    const r = await stack.store.getExecution(id);
    return r?.vendorRunId ? r : undefined;
  });
  const appName = row.vendorRunId!.split('/').pop()!;
  return { id, appName, pod: `${appName}-0-driver`, handle: executionHandle(stack.client, id) };
}

const logsOf = async (id: string, query = '') =>
  (
    await fetch(`${api.url}/api/v1/jobs/${id}/logs${query}`, {
      headers: { Authorization: `Bearer ${api.tokens.admin}` },
    })
  ).text();

describe('Kubernetes driver logs after the run', () => {
  it('archives the driver log when the attempt ends, once, and keeps it readable after the SparkApplication is deleted', async () => {
    const run = await submit('archived');
    const text = lines(0, 3000);
    pods.set(`${NAMESPACE}/${run.pod}/spark-kubernetes-driver`, { live: text, whole: text });
    const app = await kubeRequest(
      server,
      'GET',
      `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications/${run.appName}`,
    );
    expect((app.body as { spec: { sparkConf: Record<string, string> } }).spec.sparkConf).toMatchObject({
      'spark.eventLog.enabled': 'true',
      'spark.eventLog.dir': EVENTS,
    });

    await standIn.drive(NAMESPACE, run.appName, SEQUENCES.running);
    const running = await eventually('RUNNING with the live UI link', async () => {
      const row = await stack.store.getExecution(run.id);
      return row?.state === 'RUNNING' && row.sparkUiUrl ? row : undefined;
    });
    expect(running.sparkUiUrl).toBe(`https://spark.example.test/${NAMESPACE}/${run.appName}-0/`);
    expect(await logsOf(run.id, '?tail=2')).toBe(lines(2998, 3000));

    // K8S_RETAIN_POLICY=Always: the operator keeps the driver pod after success, which is when it is archived.
    await standIn.drive(NAMESPACE, run.appName, ['Succeeded', 'TerminatedWithoutReleaseResources']);
    expect((await run.handle.result()).state).toBe('SUCCEEDED');
    expect(streamed.filter((p) => p === run.pod)).toHaveLength(1);
    expect(await stack.store.logs.info({ executionId: run.id, attempt: 1 })).toMatchObject({
      appId: `${run.appName}-0`,
      bytes: Buffer.byteLength(text),
      truncated: false,
    });
    const row = (await stack.store.getExecution(run.id))!;
    expect(row.sparkUiUrl).toBeNull();
    expect(row.vendorLogsLink).toMatch(new RegExp(`/api/v1/jobs/${run.id}/logs\\?attempt=1$`));
    const summary = (await stack.store.listEvents(run.id)).find((e) => e.eventType === 'METRICS_SUMMARY')!
      .payload as unknown as MetricsSummaryV1;
    expect(summary).toMatchObject({ schema_version: 1, spark: null });
    expect(summary.spark_unavailable).toBe(`no History Server is configured for cluster ${CLUSTER}`);

    // The retain duration passes and the TTL removes the SparkApplication and its pods: the log stays.
    await standIn.transition(NAMESPACE, run.appName, 'ResourceReleased');
    const deleted = await kubeRequest(
      server,
      'DELETE',
      `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications/${run.appName}`,
    );
    expect(deleted.status).toBe(200);
    pods.delete(`${NAMESPACE}/${run.pod}/spark-kubernetes-driver`);
    expect(await logsOf(run.id)).toBe(text);
    expect(await logsOf(run.id, '?attempt=1&tail=1')).toBe(lines(2999, 3000));
  });

  it('follows a run from its live log to the archive without a gap or a duplicate line', async () => {
    const run = await submit('followed');
    // The live reads lag behind (the pod log API read every 100 ms); the archive, read at the end, has it all.
    pods.set(`${NAMESPACE}/${run.pod}/spark-kubernetes-driver`, { live: lines(0, 1000), whole: lines(0, 2000) });
    await standIn.drive(NAMESPACE, run.appName, SEQUENCES.running);
    await eventually('RUNNING', async () =>
      (await stack.store.getExecution(run.id))?.state === 'RUNNING' ? true : undefined,
    );
    const follow = logsOf(run.id, '?follow=true');
    await standIn.drive(NAMESPACE, run.appName, ['Succeeded', 'ResourceReleased']);
    expect(await follow).toBe(lines(0, 2000));
  });

  it("reads a missing pod's log through the real API server as its 404, and says the log is gone", async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(server.kubeconfigPath);
    const [client] = createClusterClients([{ name: CLUSTER, kubeConfig }]).values();
    const pod = { namespace: NAMESPACE, name: 'sr-nothing-0-driver', container: 'spark-kubernetes-driver' };
    const error = await (async () => {
      for await (const _ of apiPodLogs.stream(client!, pod)) return undefined;
    })().catch((err: unknown) => err);
    expect(httpStatusOf(error)).toBe(404);
  });
});
