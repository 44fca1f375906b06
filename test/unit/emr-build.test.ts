/**
 * The EMR on EKS backend's pure parts as data: the StartJobRun input each kind of JobSpec becomes, the state table,
 * and the S3 log layout (the same objects against moto's server are in test/integration/emr-backend.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { AttemptRequest, Placement } from '../../gateway/backend.js';
import { BackendRejection } from '../../gateway/backend.js';
import type { EmrBuildOptions, ObservedJobRun } from '../../gateway/backends/emr/index.js';
import {
  EMR_JOB_RUN_STATES,
  buildStartJobRun,
  clientTokenFor,
  consoleUrlOf,
  driverLogKeys,
  jobRunName,
  logsUrlOf,
  parseVendorRunId,
  runRefOf,
  runStatusOf,
  tailLines,
} from '../../gateway/backends/emr/index.js';
import { classifyFailure } from '../../runner/classify.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';

const OPTIONS: EmrBuildOptions = {
  virtualClusterId: 'vc0123456789abcdefghijklm',
  executionRoleArn: 'arn:aws:iam::123456789012:role/spark-runner-jobs',
  releaseLabels: { '3.5': 'emr-7.9.0-latest' },
  logUri: 's3://my-logs/spark-runner/',
};
const PLACEMENT: Placement = { backend: 'emr', cluster: OPTIONS.virtualClusterId, reason: 'no Kubernetes capacity' };
const ID = '3f2a9c1d-0000-4000-8000-00000000abcd';

function attempt(input: Partial<JobSpecInput> & Pick<JobSpecInput, 'application'>, n = 1): AttemptRequest {
  const spec = JobSpec.parse({ name: 'daily-agg', engineVersion: '3.5', ...input });
  return { executionId: ID, attempt: n, team: 'payments', jobPath: 'payments/daily-agg', spec };
}

const SIZING = [
  '--conf spark.driver.cores=2',
  '--conf spark.driver.memory=2g',
  '--conf spark.executor.cores=3',
  '--conf spark.executor.memory=1536m',
  '--conf spark.executor.instances=5',
].join(' ');
const resources = { driver: { cores: 2, memory: '2g' }, executor: { cores: 3, memory: '1536m', instances: 5 } };

describe('buildStartJobRun', () => {
  it('builds a PySpark job: the file as entry point, args, --py-files, sizing and sparkConf as --conf, logs to S3', () => {
    const input = buildStartJobRun(
      attempt({
        application: { type: 'python', file: 's3://code/etl.py', pyFiles: ['s3://code/a.py', 's3://code/b.zip'] },
        args: ['--day', '2026-01-01'],
        sparkConf: { 'spark.sql.shuffle.partitions': '64', 'spark.eventLog.enabled': 'true' },
        resources,
      }),
      PLACEMENT,
      OPTIONS,
    );
    expect(input).toEqual({
      name: `sr-${ID}-1`,
      clientToken: clientTokenFor(ID, 1),
      virtualClusterId: OPTIONS.virtualClusterId,
      executionRoleArn: OPTIONS.executionRoleArn,
      releaseLabel: 'emr-7.9.0-latest',
      jobDriver: {
        sparkSubmitJobDriver: {
          entryPoint: 's3://code/etl.py',
          entryPointArguments: ['--day', '2026-01-01'],
          sparkSubmitParameters:
            `--py-files s3://code/a.py,s3://code/b.zip ${SIZING} ` +
            '--conf spark.eventLog.enabled=true --conf spark.sql.shuffle.partitions=64',
        },
      },
      configurationOverrides: {
        monitoringConfiguration: { s3MonitoringConfiguration: { logUri: 's3://my-logs/spark-runner/' } },
      },
      tags: {
        'spark-runner.io/execution-id': ID,
        'spark-runner.io/attempt': '1',
        'spark-runner.io/team': 'payments',
      },
    });
  });

  it('builds a JVM job as the jar with --class, and leaves entryPointArguments out when there are no args', () => {
    const input = buildStartJobRun(
      attempt({ application: { type: 'jvm', mainClass: 'com.acme.Agg', jar: 's3://code/agg.jar' }, resources }),
      PLACEMENT,
      OPTIONS,
    );
    expect(input.jobDriver).toEqual({
      sparkSubmitJobDriver: {
        entryPoint: 's3://code/agg.jar',
        sparkSubmitParameters: `--class com.acme.Agg ${SIZING}`,
      },
    });
  });

  it('builds a CoreETL job as its jar and main class, with the job spec as one JSON argument before the args', () => {
    // Written normalized (defaults filled in), so it is the JSON the job receives.
    const jobSpec = {
      sources: [{ type: 'parquet' as const, path: 's3://data/orders/', options: {} }],
      transformations: [{ type: 'sql' as const, query: 'SELECT 1 AS one' }],
      sinks: [{ type: 'console' as const, rows: 20 }],
    };
    const input = buildStartJobRun(
      attempt({
        application: { type: 'coreEtl', jarPath: 's3://code/core-etl.jar', mainClass: 'com.acme.CoreEtl', jobSpec },
        args: ['--dry'],
      }),
      PLACEMENT,
      OPTIONS,
    );
    const driver = input.jobDriver!.sparkSubmitJobDriver!;
    expect(driver.entryPoint).toBe('s3://code/core-etl.jar');
    expect(driver.entryPointArguments).toEqual(['--job-spec', JSON.stringify(jobSpec), '--dry']);
    expect(driver.sparkSubmitParameters).toMatch(/^--class com\.acme\.CoreEtl --conf spark\.driver\.cores=1 /);
  });

  it('maps dynamic allocation to its bounds with shuffle tracking (EMR on EKS has no shuffle service)', () => {
    const input = buildStartJobRun(
      attempt({
        application: { type: 'jvm', mainClass: 'com.acme.Agg', jar: 's3://code/agg.jar' },
        resources: { dynamicAllocation: { minExecutors: 2, maxExecutors: 20 } },
      }),
      PLACEMENT,
      OPTIONS,
    );
    expect(input.jobDriver!.sparkSubmitJobDriver!.sparkSubmitParameters).toBe(
      '--class com.acme.Agg --conf spark.driver.cores=1 --conf spark.driver.memory=1g --conf spark.executor.cores=1 ' +
        '--conf spark.executor.memory=1g --conf spark.executor.instances=1 --conf spark.dynamicAllocation.enabled=true ' +
        '--conf spark.dynamicAllocation.shuffleTracking.enabled=true --conf spark.dynamicAllocation.minExecutors=2 ' +
        '--conf spark.dynamicAllocation.maxExecutors=20',
    );
  });

  it('moves sparkConf values with spaces or quotes into spark-defaults, out of the space-separated parameters', () => {
    const input = buildStartJobRun(
      attempt({
        application: { type: 'jvm', mainClass: 'com.acme.Agg', jar: 's3://code/agg.jar' },
        sparkConf: { 'spark.driver.extraJavaOptions': '-XX:+UseG1GC -Xss4m', 'spark.sql.ansi.enabled': 'true' },
      }),
      PLACEMENT,
      OPTIONS,
    );
    expect(input.jobDriver!.sparkSubmitJobDriver!.sparkSubmitParameters).toMatch(
      / --conf spark\.sql\.ansi\.enabled=true$/,
    );
    expect(input.jobDriver!.sparkSubmitJobDriver!.sparkSubmitParameters).not.toContain('extraJavaOptions');
    expect(input.configurationOverrides!.applicationConfiguration).toEqual([
      { classification: 'spark-defaults', properties: { 'spark.driver.extraJavaOptions': '-XX:+UseG1GC -Xss4m' } },
    ]);
  });

  it('derives the name and clientToken from execution id and attempt alone, so a retried submit is recognised', () => {
    const app = { application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' } } as const;
    const a = buildStartJobRun(attempt(app, 2), PLACEMENT, OPTIONS);
    const b = buildStartJobRun(attempt({ ...app, args: ['changed'] }, 2), PLACEMENT, OPTIONS);
    expect([a.name, a.clientToken]).toEqual([b.name, b.clientToken]);
    expect(a.name).toBe(`sr-${ID}-2`);
    expect(a.clientToken).toMatch(/^[0-9a-f]{64}$/);
    expect(buildStartJobRun(attempt(app, 3), PLACEMENT, OPTIONS).clientToken).not.toBe(a.clientToken);
  });

  it('keeps names within EMR’s 64 characters of [.-_/#A-Za-z0-9] for any execution id, deterministically', () => {
    expect(jobRunName(ID, 10)).toBe(`sr-${ID}-10`); // 42 characters: a UUID id always fits
    const odd = `team:payments ${'x'.repeat(80)}`;
    const name = jobRunName(odd, 1);
    expect(name).toMatch(/^sr-[.\-_/#A-Za-z0-9]+-[0-9a-f]{16}-1$/);
    expect(name.length).toBeLessThanOrEqual(64);
    expect(jobRunName(odd, 1)).toBe(name);
    expect(jobRunName(odd, 2)).not.toBe(name);
  });

  it('takes the release label from the engine version’s major.minor, and rejects a version with none', () => {
    const app = { application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' } } as const;
    expect(buildStartJobRun(attempt({ ...app, engineVersion: '3.5.1' }), PLACEMENT, OPTIONS).releaseLabel).toBe(
      'emr-7.9.0-latest',
    );
    const build = () => buildStartJobRun(attempt({ ...app, engineVersion: '4.0' }), PLACEMENT, OPTIONS);
    expect(build).toThrow(BackendRejection);
    expect(build).toThrow('engine version "4.0" has no EMR release label (emr.releaseLabels has: 3.5)');
  });

  it('rejects a placement on another backend', () => {
    const app = { application: { type: 'jvm', mainClass: 'A', jar: 'a.jar' } } as const;
    const kube: Placement = { backend: 'kubernetes', cluster: 'east', reason: 'test' };
    expect(() => buildStartJobRun(attempt(app), kube, OPTIONS)).toThrow(BackendRejection);
  });
});

describe('EMR job run states', () => {
  const ref = { executionId: ID, attempt: 1, vendorRunId: `${OPTIONS.virtualClusterId}/0000000abcdefghij12` };
  const phase = (state: string) => runStatusOf({ state }, ref, '2026-01-01T00:00:00.000Z').phase;

  it('maps every EMR state to a phase', () => {
    expect(Object.fromEntries(EMR_JOB_RUN_STATES.map((s) => [s, phase(s)]))).toEqual({
      PENDING: 'PENDING',
      SUBMITTED: 'PENDING',
      RUNNING: 'RUNNING',
      COMPLETED: 'SUCCEEDED',
      FAILED: 'FAILED',
      CANCEL_PENDING: 'RUNNING',
      CANCELLED: 'CANCELLED',
    });
    expect(phase('SOMETHING_NEW')).toBe('RUNNING');
  });

  it('reports failureReason as the reason and stateDetails as the message, which the classifier reads', () => {
    const failed = (failureReason: string): ObservedJobRun => ({
      state: 'FAILED',
      failureReason,
      stateDetails: 'Jobrun failed. Main Spark container terminated with errors.',
    });
    const user = runStatusOf(failed('USER_ERROR'), ref, '2026-01-01T00:00:00.000Z');
    expect(user).toMatchObject({ phase: 'FAILED', backendState: 'FAILED' });
    expect(user.failure).toEqual({
      reason: 'USER_ERROR',
      message: 'Jobrun failed. Main Spark container terminated with errors.',
    });
    expect(classifyFailure(user.failure!)).toMatchObject({ failureClass: 'USER_ERROR', retriable: false });
    const infra = runStatusOf(failed('CLUSTER_UNAVAILABLE'), ref, '2026-01-01T00:00:00.000Z');
    expect(classifyFailure(infra.failure!)).toMatchObject({ failureClass: 'INFRA', retriable: true });
  });

  it('recognises our runs by name prefix and tags, and ignores others', () => {
    const tags = { 'spark-runner.io/execution-id': ID, 'spark-runner.io/attempt': '2' };
    expect(runRefOf({ id: 'abc', name: `sr-${ID}-2`, tags }, 'vc1')).toEqual({
      executionId: ID,
      attempt: 2,
      vendorRunId: 'vc1/abc',
    });
    expect(runRefOf({ id: 'abc', name: 'nightly', tags }, 'vc1')).toBeUndefined();
    expect(runRefOf({ id: 'abc', name: `sr-${ID}-2` }, 'vc1')).toBeUndefined();
    expect(parseVendorRunId('vc1/abc')).toEqual({ virtualClusterId: 'vc1', jobRunId: 'abc' });
    expect(() => parseVendorRunId('abc')).toThrow('not an EMR vendor run id');
  });
});

describe('EMR links and logs', () => {
  it('links the console page of the virtual cluster and the run’s S3 log prefix', () => {
    expect(consoleUrlOf('eu-west-1', 'vc1')).toBe(
      'https://eu-west-1.console.aws.amazon.com/emr/home?region=eu-west-1#/eks/clusters/vc1',
    );
    expect(logsUrlOf('s3://my-logs/spark-runner/', 'vc1', 'job1')).toBe('s3://my-logs/spark-runner/vc1/jobs/job1/');
    expect(logsUrlOf('s3://my-logs', 'vc1', 'job1')).toBe('s3://my-logs/vc1/jobs/job1/');
  });

  it('picks the newest driver stdout and stderr from the documented layout, not the job runner’s or executors’', () => {
    const base = 'p/vc1/jobs/job1/containers';
    const at = (s: number) => new Date(s * 1000);
    expect(
      driverLogKeys([
        { key: `${base}/000000job1-abcde/stdout.gz`, lastModified: at(1) },
        { key: `${base}/spark-job1/spark-job1-driver/stdout.gz`, lastModified: at(1) },
        { key: `${base}/spark-job1/spark-job1-driver/stdout.gz.1`, lastModified: at(9) },
        { key: `${base}/spark-job1/spark-job1-driver/stderr.gz`, lastModified: at(2) },
        { key: `${base}/spark-job1/pi-abc-exec-1/stderr.gz`, lastModified: at(5) },
        { key: `${base}/spark-job1/spark-job1-retry-driver/stderr.gz`, lastModified: at(3) },
      ]),
    ).toEqual({
      stdout: `${base}/spark-job1/spark-job1-driver/stdout.gz`,
      stderr: `${base}/spark-job1/spark-job1-retry-driver/stderr.gz`,
    });
  });

  it('tails the last lines and keeps the final newline', () => {
    expect(tailLines('a\nb\nc\n', 2)).toBe('b\nc\n');
    expect(tailLines('a\nb\nc', 2)).toBe('b\nc');
    expect(tailLines('a\n', 5)).toBe('a\n');
    expect(tailLines('a\nb\n', 0)).toBe('');
  });
});
