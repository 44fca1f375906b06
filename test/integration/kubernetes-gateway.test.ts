/**
 * Spark on Kubernetes end to end: the execution workflow submits through the Spark Gateway, which routes each
 * attempt to one of two REAL kube-apiservers (with etcd and the Apache operator's real CRD) by health, weight
 * and region. The operator itself cannot run here (no kubelet for driver pods), so the test-only stand-in in
 * test/helpers/operator-standin.ts drives each SparkApplication's status the way the operator documents it.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { startTestKube } from '../helpers/kube.js';
import { JobSpec } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { cancelUpdate } from '../../workflows/definitions.js';
import { createOperatorStandIn, SEQUENCES } from '../helpers/operator-standin.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const NAMESPACE = 'sjns-analytics';
const servers: Record<'east' | 'west', KubeApiServer> = {} as never;
let stack: TestStack;

beforeAll(async () => {
  const tmp = process.env.SPARK_RUNNER_TEST_TMP!;
  const start = async (name: 'east' | 'west') => {
    servers[name] = await startTestKube(name, [NAMESPACE]);
  };
  await Promise.all([start('east'), start('west')]);
  const file = path.join(tmp, `gateway-${Date.now()}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      preferredRegion: 'us-east',
      teamDomains: { 'k8s-team': 'analytics' },
      clusters: [
        { name: 'east', region: 'us-east', weight: 1, capacity: 10, kubeconfig: servers.east.kubeconfigPath },
        { name: 'west', region: 'us-west', weight: 1, capacity: 10, kubeconfig: servers.west.kubeconfigPath },
      ],
    }),
  );
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    GATEWAY_HEALTH_INTERVAL_MS: '200',
    STATUS_POLL_INTERVAL_MS: '1000',
  });
  await stack.startWorker();
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await Promise.all(Object.values(servers).map((s) => s.stop()));
});

const spec = (name: string) =>
  JobSpec.parse({
    name,
    engineVersion: '4.0',
    application: { type: 'python', file: 'local:///opt/spark/examples/src/main/python/pi.py' },
    resources: { executor: { instances: 2, memory: '2g' } },
  });

/** Waits for the execution's SparkApplication to appear on one of the clusters; returns where and its name. */
async function findApplication(executionId: string) {
  return eventually('the SparkApplication to be created', async () => {
    for (const [cluster, server] of Object.entries(servers)) {
      const res = await kubeRequest(
        server,
        'GET',
        `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications?labelSelector=spark-runner.io/execution-id=${executionId}`,
      ).catch(() => undefined);
      const items = (res?.body as { items?: { metadata: { name: string } }[] } | undefined)?.items ?? [];
      if (items[0]) return { cluster: cluster as 'east' | 'west', name: items[0].metadata.name, count: items.length };
    }
    return undefined;
  });
}

describe('Spark on Kubernetes through the Spark Gateway', () => {
  it('submits to the preferred region, follows the operator to SUCCEEDED, and records the cluster and namespace', async () => {
    const { execution } = await submitExecution(stack, { team: 'k8s-team', trigger: 'api', spec: spec('pi-east') });
    const app = await findApplication(execution.executionId);
    expect(app).toMatchObject({ cluster: 'east', count: 1 });
    await createOperatorStandIn(servers.east).drive(NAMESPACE, app.name, SEQUENCES.success);
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
    expect(await stack.store.getExecution(execution.executionId)).toMatchObject({
      backend: 'kubernetes',
      cluster: 'east',
      namespace: NAMESPACE,
    });
  });

  it('cancels a running execution by deleting its SparkApplication, and ends CANCELLED', async () => {
    const { execution } = await submitExecution(stack, { team: 'k8s-team', trigger: 'api', spec: spec('to-cancel') });
    const app = await findApplication(execution.executionId);
    await createOperatorStandIn(servers[app.cluster]).drive(NAMESPACE, app.name, SEQUENCES.running);
    await eventually('RUNNING', async () =>
      (await stack.store.getExecution(execution.executionId))?.state === 'RUNNING' ? true : undefined,
    );
    const final = await executionHandle(stack.client, execution.executionId).executeUpdate(cancelUpdate, {
      args: [{ reason: 'test' }],
    });
    expect(final).toBe('CANCELLED');
    const gone = await kubeRequest(
      servers[app.cluster],
      'GET',
      `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications/${app.name}`,
    );
    expect(gone.status).toBe(404);
  });

  it('sends new submissions to the other region once a cluster becomes unhealthy', async () => {
    await servers.east.stop();
    // The health monitor probes every 200 ms; give it a round to notice.
    await new Promise((r) => setTimeout(r, 1500));
    const { execution } = await submitExecution(stack, { team: 'k8s-team', trigger: 'api', spec: spec('pi-west') });
    const app = await findApplication(execution.executionId);
    expect(app.cluster).toBe('west');
    await createOperatorStandIn(servers.west).drive(NAMESPACE, app.name, SEQUENCES.success);
    expect((await executionHandle(stack.client, execution.executionId).result()).state).toBe('SUCCEEDED');
    expect((await stack.store.getExecution(execution.executionId))!.cluster).toBe('west');
  });
});
