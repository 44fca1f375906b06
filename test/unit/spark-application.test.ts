/**
 * buildSparkApplication as data: the SparkApplication each kind of JobSpec becomes (the real server's schema
 * check of the same objects is in test/integration/kubernetes-backend.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { AttemptRequest } from '../../gateway/backend.js';
import { BackendRejection } from '../../gateway/backend.js';
import type { KubernetesOptions } from '../../gateway/backends/kubernetes/build.js';
import {
  PYTHON_RUNNER,
  buildSparkApplication,
  labelValue,
  sparkApplicationName,
} from '../../gateway/backends/kubernetes/build.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';

const OPTIONS: KubernetesOptions = {
  sparkVersions: { '3.5': '3.5.5', '4.0': '4.0.1' },
  images: { '3.5': 'apache/spark:3.5.5', '4.0': 'apache/spark:{{SPARK_VERSION}}' },
  retention: {
    resourceRetainPolicy: 'OnFailure',
    resourceRetainDurationMillis: 600_000,
    ttlAfterStopMillis: 3_600_000,
  },
};
const CLUSTER = { name: 'east', namespace: 'sjns-payments' };
type PodSpec = { podTemplateSpec: { metadata: { labels: Record<string, string> } } };
const ID = '3f2a9c1d-0000-4000-8000-00000000abcd';

function request(input: Partial<JobSpecInput> & Pick<JobSpecInput, 'application'>, attempt = 1): AttemptRequest {
  const spec = JobSpec.parse({ name: 'daily-agg', engineVersion: '4.0', ...input });
  return { executionId: ID, attempt, team: 'payments', jobPath: 'payments/daily-agg', spec };
}

const jvm = request({
  application: { type: 'jvm', mainClass: 'com.acme.Agg', jar: 's3://bucket/agg.jar' },
  args: ['--day', '2026-01-01'],
  sparkConf: { 'spark.sql.shuffle.partitions': '64' },
  resources: { driver: { cores: 2, memory: '2g' }, executor: { cores: 3, memory: '4g', instances: 5 } },
});

describe('buildSparkApplication', () => {
  it('builds a JVM job as mainClass + jars, with args as driverArgs and the sizing in sparkConf', () => {
    const app = buildSparkApplication(jvm, CLUSTER, OPTIONS);
    expect(app.apiVersion).toBe('spark.apache.org/v1');
    expect(app.kind).toBe('SparkApplication');
    expect(app.spec).toMatchObject({
      mainClass: 'com.acme.Agg',
      jars: 's3://bucket/agg.jar',
      driverArgs: ['--day', '2026-01-01'],
      runtimeVersions: { sparkVersion: '4.0.1' },
    });
    expect(app.spec.sparkConf).toEqual({
      'spark.sql.shuffle.partitions': '64',
      'spark.kubernetes.container.image': 'apache/spark:{{SPARK_VERSION}}',
      'spark.driver.cores': '2',
      'spark.driver.memory': '2g',
      'spark.executor.cores': '3',
      'spark.executor.memory': '4g',
      'spark.executor.instances': '5',
    });
  });

  it('puts requests and limits (heap plus max(384 MiB, 10%) overhead) into the driver and executor pod templates', () => {
    const app = buildSparkApplication(jvm, CLUSTER, OPTIONS);
    const container = (side: 'driverSpec' | 'executorSpec') =>
      (app.spec[side] as { podTemplateSpec: { spec: { containers: { name: string; resources: unknown }[] } } })
        .podTemplateSpec.spec.containers[0];
    expect(container('driverSpec')).toEqual({
      name: 'spark-kubernetes-driver',
      resources: { requests: { cpu: '2', memory: '2432Mi' }, limits: { memory: '2432Mi' } },
    });
    expect(container('executorSpec')).toEqual({
      name: 'spark-kubernetes-executor',
      resources: { requests: { cpu: '3', memory: '4506Mi' }, limits: { memory: '4506Mi' } },
    });
  });

  it('runs a single Python file as pyFiles without a mainClass', () => {
    const app = buildSparkApplication(
      request({ application: { type: 'python', file: 's3://b/main.py' } }),
      CLUSTER,
      OPTIONS,
    );
    expect(app.spec.pyFiles).toBe('s3://b/main.py');
    expect(app.spec).not.toHaveProperty('mainClass');
    expect(app.spec).not.toHaveProperty('jars');
  });

  it('runs several Python files through PythonRunner, with the entry point first', () => {
    const app = buildSparkApplication(
      request({ application: { type: 'python', file: 's3://b/main.py', pyFiles: ['s3://b/lib.py', 's3://b/u.zip'] } }),
      CLUSTER,
      OPTIONS,
    );
    expect(app.spec.mainClass).toBe(PYTHON_RUNNER);
    expect(app.spec.pyFiles).toBe('s3://b/main.py,s3://b/lib.py,s3://b/u.zip');
  });

  it('runs a CoreETL job as its jar with the job spec as JSON in --job-spec, before the user args', () => {
    const app = buildSparkApplication(
      request({
        application: {
          type: 'coreEtl',
          jarPath: 's3://b/core-etl.jar',
          mainClass: 'com.acme.CoreEtl',
          jobSpec: { sources: [{ type: 'parquet', path: 's3://b/in/' }], sinks: [{ type: 'console' }] },
        },
        args: ['--dry'],
      }),
      CLUSTER,
      OPTIONS,
    );
    expect(app.spec).toMatchObject({
      mainClass: 'com.acme.CoreEtl',
      jars: 's3://b/core-etl.jar',
      driverArgs: [
        '--job-spec',
        '{"sources":[{"type":"parquet","path":"s3://b/in/","options":{}}],"transformations":[],"sinks":[{"type":"console","rows":20}]}',
        '--dry',
      ],
    });
  });

  it('sets dynamic allocation with shuffle tracking when the spec enables it', () => {
    const app = buildSparkApplication(
      request({
        application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' },
        resources: { dynamicAllocation: { minExecutors: 1, maxExecutors: 20 } },
      }),
      CLUSTER,
      OPTIONS,
    );
    expect(app.spec.sparkConf).toMatchObject({
      'spark.dynamicAllocation.enabled': 'true',
      'spark.dynamicAllocation.shuffleTracking.enabled': 'true',
      'spark.dynamicAllocation.minExecutors': '1',
      'spark.dynamicAllocation.maxExecutors': '20',
    });
  });

  it('derives the same short DNS-1123 name from the same execution and attempt, and a new one per attempt', () => {
    const a1 = buildSparkApplication(jvm, CLUSTER, OPTIONS).metadata.name;
    expect(buildSparkApplication(jvm, CLUSTER, OPTIONS).metadata.name).toBe(a1);
    expect(a1).toBe(sparkApplicationName(ID, 1));
    expect(a1).toMatch(/^sr-3f2a9c1d-[0-9a-f]{8}-a1$/);
    const a2 = sparkApplicationName(ID, 2);
    expect(a2).not.toBe(a1);
    for (const name of [a1, a2, sparkApplicationName('x'.repeat(200), 999)]) {
      expect(name.length).toBeLessThanOrEqual(63);
      expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    }
  });

  it('labels the object as managed by spark-runner with execution, attempt, team and a label-safe job', () => {
    const app = buildSparkApplication({ ...jvm, attempt: 3 }, CLUSTER, OPTIONS);
    expect(app.metadata.labels).toEqual({
      'app.kubernetes.io/managed-by': 'spark-runner',
      'spark-runner.io/execution-id': ID,
      'spark-runner.io/attempt': '3',
      'spark-runner.io/team': 'payments',
      'spark-runner.io/job': 'payments.daily-agg',
    });
    expect(app.metadata.annotations['spark-runner.io/job-path']).toBe('payments/daily-agg');
    expect(labelValue(`team/${'x'.repeat(100)}`)).toMatch(/^[A-Za-z0-9][-A-Za-z0-9_.]{0,61}[A-Za-z0-9]$/);
  });

  it("puts the job's labels on the SparkApplication and its pods, the platform's labels winning", () => {
    const labelled = request({
      application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' },
      labels: { tier: 'gold', 'example.com/cost-center': 'c42' },
    });
    const app = buildSparkApplication(labelled, CLUSTER, OPTIONS);
    expect(app.metadata.labels).toMatchObject({
      tier: 'gold',
      'example.com/cost-center': 'c42',
      'app.kubernetes.io/managed-by': 'spark-runner',
      'spark-runner.io/team': 'payments',
    });
    const pods = app.spec as { driverSpec: PodSpec; executorSpec: PodSpec };
    for (const pod of [pods.driverSpec, pods.executorSpec]) {
      expect(pod.podTemplateSpec.metadata.labels).toMatchObject({ tier: 'gold', 'spark-runner.io/team': 'payments' });
    }
    // A job cannot pose as another team's: the platform's prefix is refused before a CR is ever built.
    expect(() => request({ ...labelled.spec, labels: { 'spark-runner.io/team': 'other' } })).toThrow(/reserved/);
  });

  it('takes the namespace from the placement, never from the request', () => {
    const sneaky = request({
      application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' },
      labels: { namespace: 'kube-system' },
    });
    expect(buildSparkApplication(sneaky, CLUSTER, OPTIONS).metadata.namespace).toBe('sjns-payments');
    expect(() =>
      JobSpec.parse({ ...sneaky.spec, sparkConf: { 'spark.kubernetes.namespace': 'kube-system' } }),
    ).toThrow();
  });

  it('never lets the operator restart an attempt, and takes retention and TTL from the options', () => {
    const app = buildSparkApplication(jvm, CLUSTER, {
      ...OPTIONS,
      timeouts: { driverStartTimeoutMillis: 120_000 },
    });
    expect(app.spec.applicationTolerations).toEqual({
      restartConfig: { restartPolicy: 'Never' },
      applicationTimeoutConfig: { driverStartTimeoutMillis: 120_000 },
      resourceRetainPolicy: 'OnFailure',
      resourceRetainDurationMillis: 600_000,
      ttlAfterStopMillis: 3_600_000,
    });
  });

  it('refuses a sparkConf image, and lets the platform image win should one reach the builder anyway', () => {
    const input = { application: { type: 'jvm' as const, mainClass: 'A', jar: 'a.jar' } };
    expect(() => request({ ...input, sparkConf: { 'spark.kubernetes.container.image': 'evil/image' } })).toThrow(
      /not allowed: the image follows engineVersion/,
    );
    const plain = request(input);
    const req = { ...plain, spec: { ...plain.spec, sparkConf: { 'spark.kubernetes.container.image': 'evil/image' } } };
    expect(
      (buildSparkApplication(req, CLUSTER, OPTIONS).spec.sparkConf as Record<string, string>)[
        'spark.kubernetes.container.image'
      ],
    ).toBe('apache/spark:{{SPARK_VERSION}}');
  });

  it('rejects an engine version with no configured Spark version or image', () => {
    const req = request({ application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' }, engineVersion: '2.4' });
    expect(() => buildSparkApplication(req, CLUSTER, OPTIONS)).toThrow(BackendRejection);
    const full = request({ application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' }, engineVersion: '4.0.2' });
    expect(buildSparkApplication(full, CLUSTER, OPTIONS).spec.runtimeVersions).toEqual({ sparkVersion: '4.0.2' });
  });
});
