import { describe, expect, it } from 'vitest';
import type { JobSpecInput } from '../../schema/job-spec.js';
import { JobSpec, formatMemory, parseMemoryMb } from '../../schema/job-spec.js';

const minimal = {
  name: 'orders-daily',
  engineVersion: '3.5',
  application: { type: 'python', file: 's3://acme-jobs/orders_daily.py' },
} satisfies JobSpecInput;

function issuesOf(input: unknown) {
  const result = JobSpec.safeParse(input);
  expect(result.success).toBe(false);
  return result.error?.issues ?? [];
}

describe('parseMemoryMb', () => {
  it.each([
    ['4g', 4096],
    ['4G', 4096],
    ['512m', 512],
    ['512M', 512],
    ['2Gi', 2048],
    ['2GB', 2048],
    ['1.5g', 1536],
    ['2048k', 2],
    ['1t', 1_048_576],
    [' 4 g ', 4096],
    ['512', 512],
  ] as const)('reads %j as %i MiB', (value, mb) => {
    expect(parseMemoryMb(value)).toBe(mb);
  });

  it('reads a bare number as MiB', () => {
    expect(parseMemoryMb(512)).toBe(512);
    expect(parseMemoryMb(4096)).toBe(4096);
  });

  it.each(['', 'abc', '4 gigs', '-1g', '0', '0g', '100k', '1p', 'g'])('rejects %j', (value) => {
    expect(parseMemoryMb(value)).toBeUndefined();
  });

  it('rejects zero, negative and fractional numbers', () => {
    expect(parseMemoryMb(0)).toBeUndefined();
    expect(parseMemoryMb(-512)).toBeUndefined();
    expect(parseMemoryMb(1.5)).toBeUndefined();
  });

  it('rejects "512b" (bytes in Spark) and "512i" rather than reading them as MiB', () => {
    expect(parseMemoryMb('512b')).toBeUndefined();
    expect(parseMemoryMb('512i')).toBeUndefined();
    expect(parseMemoryMb('4gb')).toBe(4096);
  });
});

describe('formatMemory', () => {
  it('renders whole gibibytes as "g" and anything else as "m"', () => {
    expect(formatMemory(4096)).toBe('4g');
    expect(formatMemory(1536)).toBe('1536m');
    expect(formatMemory(2304)).toBe('2304m');
  });

  it('round-trips through parseMemoryMb', () => {
    for (const mb of [512, 1024, 1536, 2304, 65_536]) expect(parseMemoryMb(formatMemory(mb))).toBe(mb);
  });
});

describe('JobSpec', () => {
  it('fills in every default for a minimal spec', () => {
    expect(JobSpec.parse(minimal)).toEqual({
      name: 'orders-daily',
      engineVersion: '3.5',
      application: { type: 'python', file: 's3://acme-jobs/orders_daily.py', pyFiles: [] },
      args: [],
      sparkConf: {},
      resources: {
        driver: { cores: 1, memoryMb: 1024 },
        executor: { cores: 1, memoryMb: 1024, instances: 1 },
      },
      jobType: 'batch',
      backend: 'auto',
      retryPolicy: { maxAttempts: 3, backoffSeconds: 10 },
      labels: {},
    });
  });

  it('normalises driver and executor memory to MiB from strings and numbers', () => {
    const spec = JobSpec.parse({
      ...minimal,
      resources: { driver: { memory: '2Gi' }, executor: { cores: 4, memory: 6144, instances: 10 } },
    });
    expect(spec.resources.driver).toEqual({ cores: 1, memoryMb: 2048 });
    expect(spec.resources.executor).toEqual({ cores: 4, memoryMb: 6144, instances: 10 });
  });

  it('rejects an unreadable memory size at its field path, quoting the value', () => {
    const issues = issuesOf({ ...minimal, resources: { executor: { memory: '4 gigs' } } });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['resources', 'executor', 'memory']);
    expect(issues[0]?.message).toContain('invalid memory size "4 gigs"');
  });

  it.each([
    ['spark.kubernetes.authenticate.driver.serviceAccountName', 'service account'],
    ['spark.kubernetes.authenticate.executor.serviceAccountName', 'service account'],
    ['spark.kubernetes.driver.podTemplateFile', 'pod templates'],
    ['spark.kubernetes.executor.podTemplateFile', 'pod templates'],
    ['spark.kubernetes.executor.podTemplateContainerName', 'pod templates'],
    ['spark.kubernetes.namespace', 'namespace'],
    ['spark.kubernetes.authenticate.submission.oauthToken', 'authentication'],
    ['spark.kubernetes.authenticate.caCertFile', 'authentication'],
    ['spark.authenticate', 'authentication'],
    ['spark.authenticate.secret', 'authentication'],
    ['spark.master', 'master'],
    ['SPARK.MASTER', 'master'],
  ])('rejects sparkConf key %s, naming the key and its path', (key, why) => {
    const issues = issuesOf({ ...minimal, sparkConf: { 'spark.sql.shuffle.partitions': '400', [key]: 'x' } });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['sparkConf', key]);
    expect(issues[0]?.message).toContain(`sparkConf key "${key}" is not allowed`);
    expect(issues[0]?.message).toContain(why);
  });

  it('reports every forbidden sparkConf key, not just the first', () => {
    const issues = issuesOf({
      ...minimal,
      sparkConf: { 'spark.master': 'local[*]', 'spark.kubernetes.namespace': 'x' },
    });
    expect(issues.map((i) => i.path)).toEqual([
      ['sparkConf', 'spark.master'],
      ['sparkConf', 'spark.kubernetes.namespace'],
    ]);
  });

  it('accepts ordinary sparkConf keys', () => {
    const sparkConf = {
      'spark.sql.shuffle.partitions': '400',
      'spark.sql.adaptive.enabled': 'true',
      'spark.kubernetes.executor.label.team': 'sales',
    };
    expect(JobSpec.parse({ ...minimal, sparkConf }).sparkConf).toEqual(sparkConf);
  });

  it('rejects an unknown top-level field, naming it', () => {
    const issues = issuesOf({ ...minimal, retries: 5 });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['retries'], path: [] });
  });

  it.each([
    [{ resources: { driver: { memoryMb: 2048 } } }, ['resources', 'driver'], 'memoryMb'],
    [{ resources: { executor: { gpus: 1 } } }, ['resources', 'executor'], 'gpus'],
    [
      { resources: { dynamicAllocation: { maxExecutors: 4, initialExecutors: 2 } } },
      ['resources', 'dynamicAllocation'],
      'initialExecutors',
    ],
    [{ retryPolicy: { maxRetries: 2 } }, ['retryPolicy'], 'maxRetries'],
    [{ application: { type: 'python', file: 'a.py', mainClass: 'x' } }, ['application'], 'mainClass'],
  ])('rejects an unknown nested field %j at its path', (extra, path, key) => {
    const issues = issuesOf({ ...minimal, ...extra });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ code: 'unrecognized_keys', keys: [key], path });
  });

  it.each(['3', 'v3.5', '3.5.1.2', 'latest', '3.5-rc1', '3.x', ''])('rejects engine version %j', (engineVersion) => {
    const issues = issuesOf({ ...minimal, engineVersion });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['engineVersion']);
    expect(issues[0]?.message).toBe('must look like "3.5" or "4.0.1"');
  });

  it.each(['3.5', '4.0.1', '3.5.10'])('accepts engine version %j', (engineVersion) => {
    expect(JobSpec.parse({ ...minimal, engineVersion }).engineVersion).toBe(engineVersion);
  });

  it('accepts a JVM application', () => {
    const application = { type: 'jvm', mainClass: 'com.acme.etl.Main', jar: 's3://acme-jobs/etl-2.7.0.jar' } as const;
    expect(JobSpec.parse({ ...minimal, application }).application).toEqual(application);
  });

  it('accepts a Python application with extra pyFiles', () => {
    const application = {
      type: 'python',
      file: 's3://acme-jobs/main.py',
      pyFiles: ['s3://acme-jobs/lib.zip'],
    } as const;
    expect(JobSpec.parse({ ...minimal, application }).application).toEqual(application);
  });

  it('accepts a coreEtl application with its nested job spec', () => {
    const application = {
      type: 'coreEtl',
      jarPath: 's3://core-etl-build-artifacts/jars/2.7.0/core-etl-driver-bundle.jar',
      mainClass: 'com.acme.coreetl.Driver',
      jobSpec: {
        sources: [{ type: 'iceberg', catalog: 'pedregal', database: 'raw', table: 'orders' }],
        transformations: [{ type: 'sql', query: 'SELECT * FROM source' }],
        sinks: [{ type: 'iceberg', catalog: 'pedregal', database: 'curated', table: 'orders', mode: 'append' }],
      },
    } as const;
    expect(JobSpec.parse({ ...minimal, application }).application).toEqual(application);
  });

  it('rejects an application that is missing a required field or has an unknown type', () => {
    expect(issuesOf({ ...minimal, application: { type: 'jvm', jar: 's3://acme-jobs/etl.jar' } })[0]?.path).toEqual([
      'application',
      'mainClass',
    ]);
    expect(issuesOf({ ...minimal, application: { type: 'r', file: 'main.R' } })[0]?.path).toEqual([
      'application',
      'type',
    ]);
  });

  it('rejects a name that is not a lowercase DNS label', () => {
    for (const name of ['Orders-Daily', 'orders_daily', '-orders', 'orders-', 'a'.repeat(64)]) {
      expect(issuesOf({ ...minimal, name })[0]?.path).toEqual(['name']);
    }
    expect(JobSpec.parse({ ...minimal, name: 'a'.repeat(63) }).name).toHaveLength(63);
  });

  it('rejects dynamic allocation whose minimum exceeds its maximum', () => {
    const issues = issuesOf({ ...minimal, resources: { dynamicAllocation: { minExecutors: 8, maxExecutors: 4 } } });
    expect(issues).toHaveLength(1);
    expect(issues[0]?.path).toEqual(['resources', 'dynamicAllocation', 'minExecutors']);
    expect(issues[0]?.message).toBe('minExecutors must not exceed maxExecutors');
  });

  it('bounds the retry policy: at least one attempt, at most ten, backoff within an hour', () => {
    expect(issuesOf({ ...minimal, retryPolicy: { maxAttempts: 0 } })[0]?.path).toEqual(['retryPolicy', 'maxAttempts']);
    expect(issuesOf({ ...minimal, retryPolicy: { maxAttempts: 11 } })[0]?.path).toEqual(['retryPolicy', 'maxAttempts']);
    expect(issuesOf({ ...minimal, retryPolicy: { backoffSeconds: 3601 } })[0]?.path).toEqual([
      'retryPolicy',
      'backoffSeconds',
    ]);
    expect(JobSpec.parse({ ...minimal, retryPolicy: { maxAttempts: 1 } }).retryPolicy).toEqual({
      maxAttempts: 1,
      backoffSeconds: 10,
    });
  });
});
