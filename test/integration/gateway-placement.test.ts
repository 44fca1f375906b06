/**
 * The Spark Gateway decides every placement, end to end: two REAL kube-apiservers (each with etcd and the Apache
 * operator's real CRD), reached through loopback TCP proxies the tests can cut to play a network partition, and
 * a real AWS API emulator (moto's server mode) for EMR on EKS. Executions run through the real workflow, worker
 * and API.
 *
 * Stand-ins, for what cannot run here: the operator (test/helpers/operator-standin.ts drives SparkApplication
 * status; no kubelet runs pods) and AWS itself (moto; its state manager advances job runs, and its wrapper's test
 * route ends one FAILED with the failureReason AWS would report).
 */
import fs from 'node:fs';
import path from 'node:path';
import { DescribeJobRunCommand } from '@aws-sdk/client-emr-containers';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { cancelUpdate } from '../../workflows/definitions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { startTestKube } from '../helpers/kube.js';
import { startMoto, type TestMoto } from '../helpers/moto.js';
import { createOperatorStandIn, SEQUENCES } from '../helpers/operator-standin.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';
import { proxyKube, type ProxiedKube } from '../helpers/tcp-proxy.js';

const NAMESPACE = 'sjns-analytics';
const TEAM = 'k8s-team';
type ClusterName = 'east' | 'west';
const servers = {} as Record<ClusterName, KubeApiServer>;
const proxied = {} as Record<ClusterName, ProxiedKube>;
let moto: TestMoto;
let stack: TestStack;
let api: TestApi;

beforeAll(async () => {
  const start = async (name: ClusterName) => {
    servers[name] = await startTestKube(name, [NAMESPACE]);
    proxied[name] = await proxyKube(servers[name]);
  };
  [moto] = await Promise.all([startMoto(), start('east'), start('west')]);
  const file = path.join(process.env.SPARK_RUNNER_TEST_TMP!, `placement-${Date.now()}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      preferredRegion: 'us-east',
      teamDomains: { [TEAM]: 'analytics' },
      clusters: [
        { name: 'east', region: 'us-east', weight: 3, capacity: 100, kubeconfig: proxied.east.kubeconfigPath },
        { name: 'west', region: 'us-east', weight: 1, capacity: 100, kubeconfig: proxied.west.kubeconfigPath },
      ],
      emr: { ...moto.emrConfig, statusPollIntervalMs: 300 },
    }),
  );
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    GATEWAY_HEALTH_INTERVAL_MS: '200',
    GATEWAY_HEALTH_TIMEOUT_MS: '1000',
    STATUS_POLL_INTERVAL_MS: '500',
    GATEWAY_UNREACHABLE_TIMEOUT_MS: '3000',
  });
  await stack.startWorker();
  api = await startTestApi(stack);
}, 180_000);

afterAll(async () => {
  await api?.close();
  await stack?.close();
  await moto?.stop();
  await Promise.all(Object.values(proxied).map((p) => p.proxy.close()));
  await Promise.all(Object.values(servers).map((s) => s.stop()));
});

const spec = (name: string, extra: Partial<JobSpecInput> = {}) =>
  JobSpec.parse({
    name,
    engineVersion: '3.5',
    application: { type: 'python', file: 's3://jobs/pi.py' },
    retryPolicy: { maxAttempts: 2, backoffSeconds: 0 },
    ...extra,
  });

const submit = (name: string, extra: Partial<JobSpecInput> = {}, idempotencyKey?: string) =>
  submitExecution(stack, { team: TEAM, trigger: 'api', spec: spec(name, extra), idempotencyKey });

const placementOf = (executionId: string, attempt = 1) =>
  eventually(`attempt ${attempt} of ${executionId} to be placed and submitted`, async () => {
    const row = await stack.store.getExecution(executionId);
    if (!row || row.attempt < attempt || row.vendorRunId === null) return undefined;
    return stack.store.recordedPlacement(executionId, attempt);
  });

const jobRunIdOf = async (executionId: string) =>
  (
    await eventually(
      'the EMR job run id',
      async () => (await stack.store.getExecution(executionId))?.vendorRunId ?? undefined,
    )
  )
    .split('/')
    .pop()!;

const appOn = async (cluster: ClusterName, executionId: string, attempt: number) => {
  const res = await kubeRequest(
    servers[cluster],
    'GET',
    `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications?labelSelector=spark-runner.io/execution-id=${executionId},spark-runner.io/attempt=${attempt}`,
  );
  return (res.body as { items: Array<{ metadata: { name: string } }> }).items[0]?.metadata.name;
};

/** The API's view of cluster health is what the worker's monitor recorded. */
const healthSeen = (want: Record<ClusterName, boolean>) =>
  eventually(`cluster health ${JSON.stringify(want)}`, async () => {
    const health = await stack.store.clusterHealth(['east', 'west'], 60_000);
    return health.east!.healthy === want.east && health.west!.healthy === want.west ? true : undefined;
  });

const cancelAll = (ids: string[]) =>
  Promise.all(
    ids.map((id) => executionHandle(stack.client, id).executeUpdate(cancelUpdate, { args: [{ reason: 'test' }] })),
  );

describe('placement by the Spark Gateway', () => {
  it('spreads new executions across two healthy clusters by weight (3:1), each in its team namespace', async () => {
    const ids: string[] = [];
    const counts: Record<string, number> = {};
    for (let i = 0; i < 24; i++) {
      const { execution } = await submit('spread', {}, `spread-${i}`);
      const placement = await placementOf(execution.executionId);
      expect(placement).toMatchObject({ backend: 'kubernetes', namespace: NAMESPACE });
      counts[placement.cluster!] = (counts[placement.cluster!] ?? 0) + 1;
      ids.push(execution.executionId);
    }
    expect(counts.west).toBeGreaterThanOrEqual(1);
    expect(counts.east).toBeGreaterThanOrEqual(2 * counts.west!);
    await cancelAll(ids);
  });

  it('shows in a dry-run the cluster that the following submit with the same Idempotency-Key gets', async () => {
    const seen = new Set<string>();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const headers = { authorization: `Bearer ${api.tokens.admin}`, 'content-type': 'application/json' };
      const body = JSON.stringify({
        team: TEAM,
        name: 'dry',
        engineVersion: '3.5',
        application: { type: 'python', file: 's3://jobs/pi.py' },
      });
      const key = { 'idempotency-key': `dry-then-real-${i}` };
      const dry = (await (
        await fetch(`${api.url}/api/v1/jobs?dryRun=true`, { method: 'POST', headers: { ...headers, ...key }, body })
      ).json()) as { execution_id: string; placement: { cluster: string; reason: string } };
      const real = (await (
        await fetch(`${api.url}/api/v1/jobs`, { method: 'POST', headers: { ...headers, ...key }, body })
      ).json()) as { execution_id: string };
      expect(real.execution_id).toBe(dry.execution_id);
      expect(dry.placement.reason).toMatch(/drawn from 2 qualifying cluster\(s\)/);
      expect((await placementOf(real.execution_id)).cluster).toBe(dry.placement.cluster);
      seen.add(dry.placement.cluster);
      ids.push(real.execution_id);
    }
    expect([...seen].sort()).toEqual(['east', 'west']); // a real choice, not a forced one
    await cancelAll(ids);
  });

  it('sends backend: emr straight to EMR while both clusters are healthy, and follows it to SUCCEEDED', async () => {
    await moto.setTransition({ progression: 'manual', times: 1 });
    const { execution } = await submit('emr-direct', { backend: 'emr' });
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
    const jobRunId = await jobRunIdOf(execution.executionId);
    expect(await stack.store.getExecution(execution.executionId)).toMatchObject({
      backend: 'emr',
      cluster: moto.virtualClusterId,
      vendorWebui: `https://us-east-1.console.aws.amazon.com/emr/home?region=us-east-1#/eks/clusters/${moto.virtualClusterId}`,
      vendorLogsLink: `s3://spark-runner-logs/emr/${moto.virtualClusterId}/jobs/${jobRunId}/`,
    });
    expect(await stack.store.recordedPlacement(execution.executionId, 1)).toEqual({
      backend: 'emr',
      cluster: moto.virtualClusterId,
      reason: 'backend "emr" requested',
    });
  });

  it('does not retry an EMR run that fails with a user error', async () => {
    await moto.setTransition({ progression: 'manual', times: 100_000 });
    const { execution } = await submit('emr-user-error', { backend: 'emr' });
    await moto.failJobRun(await jobRunIdOf(execution.executionId), 'USER_ERROR', 'Job failed: bad SQL in step 2');
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result).toMatchObject({ state: 'FAILED', attempts: 1, failureClass: 'USER_ERROR' });
    expect(await moto.countJobRuns(`sr-${execution.executionId}-2`)).toBe(0);
  });

  it('retries an EMR run that fails for an infrastructure reason, as a new job run that succeeds', async () => {
    await moto.setTransition({ progression: 'manual', times: 100_000 });
    const { execution } = await submit('emr-infra', { backend: 'emr' });
    await moto.failJobRun(await jobRunIdOf(execution.executionId), 'INTERNAL_ERROR', 'EKS node lost');
    await eventually('attempt 2', async () =>
      (await moto.countJobRuns(`sr-${execution.executionId}-2`)) === 1 ? true : undefined,
    );
    await moto.setTransition({ progression: 'immediate' });
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 2 });
    const retry = (await stack.store.listEvents(execution.executionId)).find((e) => e.eventType === 'RETRY');
    expect(retry?.payload).toMatchObject({ failureClass: 'INFRA' });
  });

  it('cancels a running EMR run: the execution ends CANCELLED and so does the job run', async () => {
    await moto.setTransition({ progression: 'manual', times: 100_000 });
    const { execution } = await submit('emr-cancel', { backend: 'emr' });
    const jobRunId = await jobRunIdOf(execution.executionId);
    const final = await executionHandle(stack.client, execution.executionId).executeUpdate(cancelUpdate, {
      args: [{ reason: 'test' }],
    });
    expect(final).toBe('CANCELLED');
    const run = await moto.emr.send(
      new DescribeJobRunCommand({ virtualClusterId: moto.virtualClusterId, id: jobRunId }),
    );
    expect(run.jobRun?.state).toBe('CANCELLED');
  });

  it('sends new attempts to EMR when every cluster is unreachable, and they reach SUCCEEDED there', async () => {
    await moto.setTransition({ progression: 'manual', times: 1 });
    proxied.east.proxy.cut();
    proxied.west.proxy.cut();
    try {
      await healthSeen({ east: false, west: false });
      const { execution } = await submit('to-emr');
      const placement = await placementOf(execution.executionId);
      expect(placement).toMatchObject({ backend: 'emr', cluster: moto.virtualClusterId });
      expect(placement.reason).toMatch(/no Kubernetes cluster is healthy with spare capacity.*falling back to EMR/);
      expect((await executionHandle(stack.client, execution.executionId).result()).state).toBe('SUCCEEDED');
    } finally {
      proxied.east.proxy.restore();
      proxied.west.proxy.restore();
    }
    await healthSeen({ east: true, west: true });
  });

  it('ends a running attempt INFRA when its cluster stays unreachable, runs the next one elsewhere, and deletes the old one once the cluster answers again', async () => {
    const { execution } = await submit('partitioned', { backend: 'kubernetes' }, 'partitioned-1');
    const id = execution.executionId;
    const first = (await placementOf(id)).cluster as ClusterName;
    const other: ClusterName = first === 'east' ? 'west' : 'east';
    const firstApp = (await appOn(first, id, 1))!;
    await createOperatorStandIn(servers[first]).drive(NAMESPACE, firstApp, SEQUENCES.running);
    await eventually('RUNNING', async () =>
      (await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined,
    );

    proxied[first].proxy.cut();
    const second = await placementOf(id, 2);
    expect(second.cluster).toBe(other);
    const retry = (await stack.store.listEvents(id)).find((e) => e.eventType === 'RETRY');
    expect(retry?.payload).toMatchObject({ failureClass: 'INFRA' });
    expect(String(retry?.payload.summary)).toMatch(new RegExp(`kubernetes ${first} unreachable since \\d{4}-`));
    await createOperatorStandIn(servers[other]).drive(NAMESPACE, (await appOn(other, id, 2))!, SEQUENCES.success);
    expect(await executionHandle(stack.client, id).result()).toMatchObject({ state: 'SUCCEEDED', attempts: 2 });

    // The abandoned attempt is still there while its cluster is cut off; the reaper deletes it once it answers.
    expect(await appOn(first, id, 1)).toBe(firstApp);
    proxied[first].proxy.restore();
    await eventually('the abandoned SparkApplication to be deleted', async () =>
      (await appOn(first, id, 1)) === undefined ? true : undefined,
    );
  });
});
