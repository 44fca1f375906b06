/**
 * No per-run polling while the watch is healthy, and polling as the fallback when it is not, counted from a REAL
 * kube-apiserver's own audit log (by User-Agent: `spark-runner-worker`, `spark-runner-watcher`, and the stand-in's
 * `operator-standin`). The worker runs with WORKER_WATCHES_KUBERNETES=false beside a real watcher that holds the
 * cluster's Lease and publishes its watch's health on it; real Temporal and Postgres. The Spark operator cannot run
 * here (no kubelet), so test/helpers/operator-standin.ts writes SparkApplication status as the operator does.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import { leaseNameFor, WATCH_HEALTH_ANNOTATION } from '../../gateway/backends/kubernetes/index.js';
import { kubeRequest } from '../../provision/kubernetes/index.js';
import { JobSpec } from '../../schema/job-spec.js';
import { executionWorkflowId } from '../../schema/vocabulary.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { startWatcher, type RunningWatcher } from '../../watcher/index.js';
import { readAudit, requests } from '../helpers/kube-audit.js';
import { startTestKube, type TestKube } from '../helpers/kube.js';
import { createOperatorStandIn, SEQUENCES } from '../helpers/operator-standin.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const NAMESPACE = 'sjns-analytics';
const LEASE_NS = 'spark-runner';
let kube: TestKube;
let stack: TestStack;
let watcher: RunningWatcher | undefined;

beforeAll(async () => {
  kube = await startTestKube('watch-only', [NAMESPACE, LEASE_NS], { audit: true });
  const file = path.join(process.env.SPARK_RUNNER_TEST_TMP!, `watch-only-${Date.now()}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      teamDomains: { 'k8s-team': 'analytics' },
      clusters: [{ name: 'east', region: 'us-east', capacity: 20, kubeconfig: kube.kubeconfigPath }],
    }),
  );
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    GATEWAY_HEALTH_INTERVAL_MS: '1000',
    WORKER_WATCHES_KUBERNETES: 'false',
    WATCH_LEASE_NAMESPACE: LEASE_NS,
    // Short on purpose: several safety-net checks happen in each test's window.
    STATUS_POLL_INTERVAL_MS: '1000',
    STATUS_WATCHED_CHECK_INTERVAL_MS: '1000',
    WATCHER_PORT: '0',
  });
  await stack.startWorker();
  watcher = await startWatcher({ config: loadConfig(stack.env, 'watcher'), logger: pino({ level: 'warn' }) });
}, 180_000);

afterAll(async () => {
  await watcher?.stop();
  await stack?.close();
  await kube?.stop();
});

const spec = (name: string) =>
  JobSpec.parse({
    name,
    engineVersion: '4.0',
    application: { type: 'python', file: 'local:///opt/spark/examples/src/main/python/pi.py' },
  });

async function applicationOf(executionId: string): Promise<string> {
  return eventually('the SparkApplication to be created', async () => {
    const res = await kubeRequest(
      kube,
      'GET',
      `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications?labelSelector=spark-runner.io/execution-id=${executionId}`,
    );
    return (res.body as { items?: { metadata: { name: string } }[] }).items?.[0]?.metadata.name;
  });
}

const stateOf = async (id: string) => (await stack.store.getExecution(id))?.state;

/** Spark Runner's reads of one SparkApplication by name (the per-run poll), from the audit log. */
function runReads(name: string, from: number, to = Date.now()) {
  return requests(readAudit(kube.auditLogPath!), { agent: 'spark-runner-', verbs: ['get'], from, to }).filter(
    (e) => e.objectRef?.resource === 'sparkapplications' && e.objectRef.name === name,
  );
}

/** How many safety-net checks (pollStatus activities) the workflow has scheduled since `from`. */
async function checksSince(executionId: string, from: number): Promise<number> {
  const history = await stack.client.workflow.getHandle(executionWorkflowId(executionId)).fetchHistory();
  return (history.events ?? []).filter(
    (e) =>
      e.activityTaskScheduledEventAttributes?.activityType?.name === 'pollStatus' &&
      Number(e.eventTime?.seconds ?? 0) * 1000 >= from,
  ).length;
}

const running: { id: string; name: string }[] = [];

describe('status by watch, polling only as the fallback', () => {
  it('reads no SparkApplication per run while the watcher leads with a healthy watch, yet follows every run to its end', async () => {
    const standIn = createOperatorStandIn(kube);
    const ids = await Promise.all(
      ['a', 'b', 'c'].map(async (n) => {
        const { execution } = await submitExecution(stack, { team: 'k8s-team', trigger: 'api', spec: spec(`w-${n}`) });
        return execution.executionId;
      }),
    );
    const names = await Promise.all(ids.map(applicationOf));
    await Promise.all(names.map((name) => standIn.drive(NAMESPACE, name, SEQUENCES.running)));
    for (const id of ids)
      await eventually('RUNNING', async () => ((await stateOf(id)) === 'RUNNING' ? true : undefined));
    await eventually('the Lease to vouch for the watch', async () => {
      const res = await kubeRequest(
        kube,
        'GET',
        `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NS}/leases/${leaseNameFor('east')}`,
      );
      const annotations = (res.body as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations;
      return annotations?.[WATCH_HEALTH_ANNOTATION] === 'true' ? true : undefined;
    });
    // Past the worker's Lease cache (5 s): from here on every check sees the healthy watch.
    await new Promise((r) => setTimeout(r, 6_000));
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 5_000));
    const to = Date.now();

    for (const [i, id] of ids.entries()) {
      expect(await checksSince(id, from)).toBeGreaterThanOrEqual(3); // the safety net ran…
      expect(runReads(names[i]!, from, to)).toEqual([]); // …and read nothing from the cluster
    }
    const leaseReads = requests(readAudit(kube.auditLogPath!), {
      agent: 'spark-runner-worker',
      verbs: ['get'],
      resource: 'leases',
      from,
      to,
    });
    expect(leaseReads.length).toBeGreaterThanOrEqual(1);
    expect(leaseReads.length).toBeLessThanOrEqual(2); // one read per 5 s serves all three runs

    // Two end while watched; the third stays running for the fallback test.
    await standIn.drive(NAMESPACE, names[0]!, ['Succeeded', 'ResourceReleased']);
    await standIn.drive(NAMESPACE, names[1]!, SEQUENCES.failureWithRetain.slice(5));
    expect((await executionHandle(stack.client, ids[0]!).result()).state).toBe('SUCCEEDED');
    expect((await executionHandle(stack.client, ids[1]!).result()).state).toBe('FAILED');
    running.push({ id: ids[2]!, name: names[2]! });
  }, 120_000);

  it('falls back to polling each run once the watcher is gone, and still records its end', async () => {
    const [{ id, name }] = running as [{ id: string; name: string }];
    await watcher!.stop(); // releases the Lease: nobody vouches for the watch any more
    watcher = undefined;
    const stoppedAt = Date.now();
    const reads = await eventually(
      'the worker to poll the run',
      () => {
        const seen = runReads(name, stoppedAt);
        return Promise.resolve(seen.length >= 2 ? seen : undefined);
      },
      30_000,
    );
    expect(reads.every((e) => e.userAgent?.startsWith('spark-runner-worker'))).toBe(true);

    await createOperatorStandIn(kube).drive(NAMESPACE, name, ['Succeeded', 'ResourceReleased']);
    expect((await executionHandle(stack.client, id).result()).state).toBe('SUCCEEDED');
    expect(await stateOf(id)).toBe('SUCCEEDED');
  }, 90_000);
});
