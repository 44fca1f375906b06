/**
 * A real kube-apiserver (with etcd) for a test file: started on free ports from the binaries the global setup
 * built, with the Apache Spark operator's real SparkApplication CRD installed from ../shared/anchors and the
 * namespaces the test needs. With `audit`, the API server writes its own audit log (kube-audit.ts reads it), so
 * tests and benchmarks count requests from the server's side, by user agent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { installCrd, kubeRequest, startKubeApiServer, type KubeApiServer } from '../../provision/kubernetes/index.js';

export const SPARK_APPLICATION_CRD = path.resolve(
  '../shared/anchors/apache-spark-k8s-operator/crds/sparkapplications.spark.apache.org-v1.yaml',
);

/** Every request at Metadata level (no bodies), logged once when its response completes (long-running: started too). */
const AUDIT_POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
`;

export interface TestKubeOptions {
  /** Write the API server's audit log to `auditLogPath`. */
  audit?: boolean;
  /** Binaries, when not the global setup's KUBE_APISERVER and ETCD (benchmarks). */
  binaries?: { kubeApiserver: string; etcd: string };
}

export type TestKube = KubeApiServer & { auditLogPath?: string };

export async function startTestKube(
  name: string,
  namespaces: string[],
  options: TestKubeOptions = {},
): Promise<TestKube> {
  const dir = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), `kube-${name}-`));
  let auditLogPath: string | undefined;
  const extraArgs: string[] = [];
  if (options.audit) {
    const policy = path.join(dir, 'audit-policy.yaml');
    fs.writeFileSync(policy, AUDIT_POLICY);
    auditLogPath = path.join(dir, 'audit.log');
    extraArgs.push(
      `--audit-policy-file=${policy}`,
      `--audit-log-path=${auditLogPath}`,
      '--audit-log-format=json',
      '--audit-log-maxsize=0',
    );
  }
  const server = await startKubeApiServer({
    kubeApiserver: options.binaries?.kubeApiserver ?? process.env.KUBE_APISERVER!,
    etcd: options.binaries?.etcd ?? process.env.ETCD!,
    dir,
    onLine: null,
    extraArgs,
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
  return auditLogPath ? Object.assign(server, { auditLogPath }) : server;
}
