/**
 * A Spark Connect server's Kubernetes objects as data (gateway/connect/kubernetes-build.ts); the real server's
 * schema check of the same objects is in test/integration/kubernetes-sessions.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { KubernetesOptions } from '../../gateway/backends/kubernetes/build.js';
import { buildConnectObjects, connectServerName } from '../../gateway/connect/kubernetes-build.js';
import { CONNECT_SERVER_CLASS } from '../../gateway/connect/local-server.js';

const OPTIONS: KubernetesOptions = {
  sparkVersions: { '4.0': '4.0.1' },
  images: { '4.0': 'apache/spark:{{SPARK_VERSION}}' },
  retention: { resourceRetainPolicy: 'Never', ttlAfterStopMillis: 3_600_000 },
};
const REQUEST = {
  serverId: '7c1e0b2a-0000-4000-8000-00000000abcd',
  team: 'data-infra',
  sparkVersion: '4.0',
  driverMemoryMb: 2048,
};
const TOKEN = 'the-server-token-0123456789';

describe('buildConnectObjects', () => {
  const { application, secret, service } = buildConnectObjects(
    REQUEST,
    { name: 'east', namespace: 'sjns-data' },
    OPTIONS,
    TOKEN,
  );
  const name = connectServerName(REQUEST.serverId);

  it('names all three objects alike, deterministically, as a DNS-1123 label', () => {
    expect(name).toMatch(/^sc-7c1e0b2a-[0-9a-f]{8}$/);
    expect(connectServerName(REQUEST.serverId)).toBe(name);
    for (const o of [application, secret, service]) expect(o.metadata).toMatchObject({ name, namespace: 'sjns-data' });
  });

  it('builds the Connect server as a SparkApplication with no jar, sized by the jobs’ own builder', () => {
    expect(application.spec).toMatchObject({
      mainClass: CONNECT_SERVER_CLASS,
      runtimeVersions: { sparkVersion: '4.0.1' },
      applicationTolerations: { restartConfig: { restartPolicy: 'Never' }, resourceRetainPolicy: 'Never' },
    });
    expect(application.spec).not.toHaveProperty('jars');
    expect(application.spec.sparkConf).toMatchObject({
      'spark.driver.memory': '2g',
      'spark.connect.grpc.binding.port': '15002',
      'spark.kubernetes.container.image': 'apache/spark:{{SPARK_VERSION}}',
    });
    // The jobs' status watch forwards only what carries execution labels: a Connect server carries none.
    expect(application.metadata.labels).not.toHaveProperty('spark-runner.io/execution-id');
    expect(application.metadata.labels).toMatchObject({ 'spark-runner.io/connect-server': REQUEST.serverId });
  });

  it('keeps the token in the Secret only, which the driver reads through secretKeyRef', () => {
    expect(secret.stringData).toEqual({ token: TOKEN });
    expect(JSON.stringify(application)).not.toContain(TOKEN);
    expect(JSON.stringify(service)).not.toContain(TOKEN);
    const spec = application.spec.driverSpec as { podTemplateSpec: { spec: { containers: Array<{ env: unknown }> } } };
    expect(spec.podTemplateSpec.spec.containers[0]!.env).toEqual([
      { name: 'SPARK_CONNECT_AUTHENTICATE_TOKEN', valueFrom: { secretKeyRef: { name, key: 'token' } } },
    ]);
  });

  it('puts a ClusterIP Service in front of the driver’s port 15002, selecting the operator’s driver labels', () => {
    expect(service.spec).toEqual({
      type: 'ClusterIP',
      selector: { 'spark.operator/spark-app-name': name, 'spark-role': 'driver' },
      ports: [
        { name: 'spark-connect', port: 15002, targetPort: 15002, protocol: 'TCP' },
        { name: 'spark-ui', port: 4040, targetPort: 4040, protocol: 'TCP' },
      ],
    });
  });
});
