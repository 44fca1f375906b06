/**
 * Spark Connect sessions on Kubernetes: a session created through the API on a REAL kube-apiserver (with etcd and
 * the Apache operator's real SparkApplication CRD, which validates what is created) becomes a Connect
 * SparkApplication, its token's Secret and its Service, in the team's namespace. The operator cannot run here (no
 * kubelet for the driver pod): the test-only stand-in (test/helpers/operator-standin.ts) marks the application
 * running, and the session turns READY. No Connect server runs, so the test checks where the proxy would route
 * the session's RPCs (its resolve), not a query.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Session, SessionCreated } from '../../api/wire.js';
import { CONNECT_SERVER_CLASS } from '../../gateway/connect/local-server.js';
import { createSessionResolver } from '../../gateway/connect/session-proxy.js';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { openDatabase, type Database } from '../../store/db.js';
import { SessionStore } from '../../store/sessions.js';
import { TEST_TOKENS, startTestApi, type TestApi } from '../helpers/api.js';
import { startTestKube } from '../helpers/kube.js';
import { createOperatorStandIn, SEQUENCES } from '../helpers/operator-standin.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const TEAM = 'k8s-notebooks';
const NAMESPACE = 'sjns-notebooks';
const APPS = `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications`;

let kube: KubeApiServer;
let stack: TestStack;
let database: Database;
let sessions: SessionStore;
let api: TestApi;

beforeAll(async () => {
  kube = await startTestKube('sessions', [NAMESPACE]);
  const file = path.join(process.env.SPARK_RUNNER_TEST_TMP!, `gateway-sessions-${Date.now()}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      teamDomains: { [TEAM]: 'notebooks' },
      clusters: [{ name: 'east', region: 'us-east', weight: 1, capacity: 10, kubeconfig: kube.kubeconfigPath }],
    }),
  );
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    GATEWAY_HEALTH_INTERVAL_MS: '200',
    SESSION_CHECK_INTERVAL_MS: '300',
  });
  database = openDatabase(stack.config.DATABASE_URL!);
  sessions = new SessionStore(database.db);
  await stack.startWorker();
  api = await startTestApi(stack, { sessions, connect: { host: 'localhost', port: 15002 } });
}, 180_000);

afterAll(async () => {
  await api?.close();
  await stack?.close();
  await database?.close();
  await kube?.stop();
});

async function call<T>(method: string, route: string, body?: unknown): Promise<T> {
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: { Authorization: `Bearer ${TEST_TOKENS.admin}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${route}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

interface Obj {
  metadata: {
    name: string;
    uid: string;
    labels: Record<string, string>;
    ownerReferences?: { uid: string; kind: string }[];
  };
  spec: Record<string, unknown>;
  data?: Record<string, string>;
}

describe('Spark Connect sessions on Kubernetes', () => {
  it("creates a valid Connect SparkApplication, its Secret and its Service in the team's namespace, and routes the session to the Service", async () => {
    const created = await call<SessionCreated>('POST', '/api/v1/sessions', { team: TEAM });
    expect(created.state).toMatch(/REQUESTED|STARTING/);
    const app = await eventually('the Connect SparkApplication', async () => {
      const res = await kubeRequest(kube, 'GET', `${APPS}?labelSelector=spark-runner.io/connect-server`);
      return (res.body as { items: Obj[] }).items[0];
    });
    const name = app.metadata.name;
    // The real CRD accepted it, and kept every field (a structural schema prunes what it does not know).
    expect(app.spec).toMatchObject({
      mainClass: CONNECT_SERVER_CLASS,
      runtimeVersions: { sparkVersion: '4.0.1' },
      applicationTolerations: { restartConfig: { restartPolicy: 'Never' } },
    });
    expect(app.spec.jars).toBeUndefined();
    const driver = (app.spec.driverSpec as { podTemplateSpec: { spec: { containers: Record<string, unknown>[] } } })
      .podTemplateSpec.spec.containers[0]!;
    expect(driver.env).toEqual([
      { name: 'SPARK_CONNECT_AUTHENTICATE_TOKEN', valueFrom: { secretKeyRef: { name, key: 'token' } } },
    ]);
    expect(driver.ports).toEqual(expect.arrayContaining([expect.objectContaining({ containerPort: 15002 })]));
    expect(app.metadata.labels['spark-runner.io/execution-id']).toBeUndefined();

    // The Secret and the Service follow the SparkApplication (they are owned by it, so they need its uid).
    const read = (kind: string) =>
      eventually(`the ${kind}`, async () => {
        const res = await kubeRequest(kube, 'GET', `/api/v1/namespaces/${NAMESPACE}/${kind}/${name}`);
        return res.status === 200 ? (res.body as Obj) : undefined;
      });
    const secret = await read('secrets');
    const token = Buffer.from(secret.data!.token!, 'base64').toString('utf8');
    expect(token.length).toBeGreaterThanOrEqual(43);
    // The token is in the Secret only: not in the SparkApplication (its sparkConf included).
    expect(JSON.stringify(app)).not.toContain(token);
    const service = await read('services');
    expect(service.spec).toMatchObject({
      type: 'ClusterIP',
      selector: { 'spark.operator/spark-app-name': name, 'spark-role': 'driver' },
    });
    expect(service.spec.ports).toEqual(
      expect.arrayContaining([expect.objectContaining({ name: 'spark-connect', port: 15002, targetPort: 15002 })]),
    );
    for (const owned of [secret, service]) {
      expect(owned.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'SparkApplication', uid: app.metadata.uid }),
      ]);
    }

    // The stand-in plays the operator: the driver runs, and the session is READY.
    await createOperatorStandIn(kube).drive(NAMESPACE, name, SEQUENCES.running);
    const ready = await eventually('the session to be READY', async () => {
      const s = await call<Session>('GET', `/api/v1/sessions/${created.session_id}`);
      return s.state === 'READY' ? s : undefined;
    });
    expect(ready).toMatchObject({ team: TEAM, pool: null });
    const server = await sessions.getServer((await sessions.getSession(created.session_id))!.serverId!);
    expect(server).toMatchObject({ backend: 'kubernetes', cluster: 'east', namespace: NAMESPACE, objectName: name });

    const sessionToken = /;token=([^;]+)/.exec(created.connect_url)![1]!;
    const route = await createSessionResolver(sessions)({
      token: sessionToken,
      sessionId: created.session_id,
      headers: {},
    });
    expect(route).toEqual({
      kind: 'route',
      sessionId: created.session_id,
      backend: { host: `${name}.${NAMESPACE}.svc`, port: 15002, token },
    });

    // Release deletes all three.
    const released = await call<Session>('DELETE', `/api/v1/sessions/${created.session_id}`);
    expect(released).toMatchObject({ state: 'ENDED', ended_reason: 'RELEASED' });
    for (const url of [
      `${APPS}/${name}`,
      `/api/v1/namespaces/${NAMESPACE}/secrets/${name}`,
      `/api/v1/namespaces/${NAMESPACE}/services/${name}`,
    ]) {
      expect((await kubeRequest(kube, 'GET', url)).status, url).toBe(404);
    }
  });
});
