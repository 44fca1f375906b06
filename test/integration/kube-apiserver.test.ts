/**
 * A real kube-apiserver with etcd on loopback, with the Apache Spark operator's SparkApplication CRD from the
 * anchors: SparkApplications are stored when they match the CRD's schema and rejected when they do not, and
 * stopping the server leaves no process behind.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.js';
import {
  ensureKubeBinaries,
  installCrd,
  kubeRequest,
  readKubeconfig,
  startKubeApiServer,
  type KubeApiServer,
} from '../../provision/kubernetes/index.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const OPERATOR = path.resolve(ROOT, '../shared/anchors/apache-spark-k8s-operator');
const APP_CRD = path.join(OPERATOR, 'crds/sparkapplications.spark.apache.org-v1.yaml');
const PI_EXAMPLE = path.join(OPERATOR, 'examples/pi.yaml');
const NAMESPACE = 'spark-jobs';
const APPS = `/apis/spark.apache.org/v1/namespaces/${NAMESPACE}/sparkapplications`;

type Obj = Record<string, unknown>;

function piApplication(name: string): Obj {
  const app = YAML.parse(fs.readFileSync(PI_EXAMPLE, 'utf8')) as Obj;
  return { ...app, metadata: { ...(app.metadata as Obj), name, namespace: NAMESPACE } };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a kube-apiserver with the Spark operator CRD', () => {
  let server: KubeApiServer;
  let dir: string;

  beforeAll(async () => {
    const config = loadConfig();
    const log = (line: string) => console.log(`[kube] ${line}`);
    const binaries = await ensureKubeBinaries(
      { cacheDir: config.SPARK_RUNNER_CACHE, KUBE_APISERVER: process.env.KUBE_APISERVER, ETCD: process.env.ETCD },
      log,
    );
    dir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'kube-'));
    const started = Date.now();
    server = await startKubeApiServer({ ...binaries, dir, onLine: null });
    log(`kube-apiserver ${binaries.version} with etcd ${binaries.etcdVersion} ready in ${Date.now() - started} ms`);
    const crdStarted = Date.now();
    await installCrd(server.kubeconfigPath, APP_CRD);
    log(`SparkApplication CRD established in ${Date.now() - crdStarted} ms`);
    const ns = await kubeRequest(server, 'POST', '/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: NAMESPACE },
    });
    expect(ns.status).toBe(201);
  }, 1_800_000);

  afterAll(async () => {
    await server?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('answers readyz to the admin in the kubeconfig it writes, and refuses an unknown token', async () => {
    const conn = readKubeconfig(server.kubeconfigPath);
    expect(conn.url).toBe(server.url);
    expect((await kubeRequest(conn, 'GET', '/readyz')).status).toBe(200);
    expect((await kubeRequest({ ...conn, token: 'not-a-token' }, 'GET', '/api/v1/namespaces')).status).toBe(401);
  });

  it('serves the SparkApplication CRD as established, storing v1', async () => {
    const res = await kubeRequest(
      server,
      'GET',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sparkapplications.spark.apache.org',
    );
    expect(res.status).toBe(200);
    const crd = res.body as { spec: { versions: Obj[] }; status: { conditions: Obj[] } };
    expect(crd.status.conditions).toContainEqual(expect.objectContaining({ type: 'Established', status: 'True' }));
    expect(crd.spec.versions.filter((v) => v.storage).map((v) => v.name)).toEqual(['v1']);
  });

  it('accepts the same CRD installed a second time', async () => {
    expect(await installCrd(server, APP_CRD)).toEqual(['sparkapplications.spark.apache.org']);
  });

  it("stores the operator's pi example as a SparkApplication and serves it back", async () => {
    const created = await kubeRequest(server, 'POST', APPS, piApplication('pi'));
    expect(created.status, created.text).toBe(201);
    const read = await kubeRequest(server, 'GET', `${APPS}/pi`);
    expect(read.status).toBe(200);
    const app = read.body as { kind: string; spec: { mainClass: string; runtimeVersions: Obj } };
    expect(app.kind).toBe('SparkApplication');
    expect(app.spec.mainClass).toBe('org.apache.spark.examples.SparkPi');
    expect(app.spec.runtimeVersions).toEqual({ sparkVersion: '4.2.0' });
  });

  it('rejects a SparkApplication whose runtimeVersions is a string instead of an object', async () => {
    const app = piApplication('pi-bad-type');
    const res = await kubeRequest(server, 'POST', APPS, {
      ...app,
      spec: { ...(app.spec as Obj), runtimeVersions: '4.2.0' },
    });
    expect(res.status).toBe(422);
    expect(res.text).toMatch(/spec\.runtimeVersions.*must be of type object/);
    expect((await kubeRequest(server, 'GET', `${APPS}/pi-bad-type`)).status).toBe(404);
  });

  it('rejects a SparkApplication without the required runtimeVersions', async () => {
    const app = piApplication('pi-no-runtime');
    const { runtimeVersions: _dropped, ...spec } = app.spec as Obj;
    const res = await kubeRequest(server, 'POST', APPS, { ...app, spec });
    expect(res.status).toBe(422);
    expect(res.text).toMatch(/spec\.runtimeVersions: Required value/);
  });

  it('stopping it ends kube-apiserver and etcd, and a second stop is harmless', async () => {
    const { etcd, kubeApiserver } = server.pids;
    expect(alive(etcd) && alive(kubeApiserver)).toBe(true);
    await server.stop();
    await server.stop();
    expect(alive(kubeApiserver)).toBe(false);
    expect(alive(etcd)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'etcd'))).toBe(false);
  });
});
