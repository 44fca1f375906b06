/**
 * A real kube-apiserver (with etcd) for a test file: started on free ports from the binaries the global setup
 * built, with the Apache Spark operator's real SparkApplication CRD installed from ../shared/anchors and the
 * namespaces the test needs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCrd, kubeRequest, startKubeApiServer, type KubeApiServer } from '../../provision/kubernetes/index.js';

export const SPARK_APPLICATION_CRD = path.resolve(
  '../shared/anchors/apache-spark-k8s-operator/crds/sparkapplications.spark.apache.org-v1.yaml',
);

export async function startTestKube(name: string, namespaces: string[]): Promise<KubeApiServer> {
  const dir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), `kube-${name}-`));
  const server = await startKubeApiServer({
    kubeApiserver: process.env.KUBE_APISERVER!,
    etcd: process.env.ETCD!,
    dir,
    onLine: null,
  });
  try {
    await installCrd(server.kubeconfigPath, SPARK_APPLICATION_CRD);
    for (const ns of namespaces) {
      const res = await kubeRequest(server, 'POST', '/api/v1/namespaces', { metadata: { name: ns } });
      if (res.status !== 201) throw new Error(`creating namespace ${ns}: HTTP ${res.status} ${res.text}`);
    }
  } catch (err) {
    await server.stop();
    throw err;
  }
  return server;
}
