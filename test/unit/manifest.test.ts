import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ManifestError, parseManifest, type ManifestIssue } from '../../dcp/manifest.js';
import { AIRFLOW_PRESETS, parseScheduleExpression, scheduleSpecFor } from '../../dcp/schedule.js';

const example = fs.readFileSync(
  new URL('../../examples/manifests/example-data-transform.yaml', import.meta.url),
  'utf8',
);

function issuesOf(text: string, file = 'm.yaml'): ManifestIssue[] {
  try {
    parseManifest(text, file);
  } catch (err) {
    if (err instanceof ManifestError) return err.issues;
    throw err;
  }
  throw new Error('expected the manifest to be rejected');
}

const base = (spec: string, metadata = '  name: job-a\n  team: data-infra\n') =>
  `apiVersion: dcp.pedregal.doordash.com/v1\nkind: SparkJob\nmetadata:\n${metadata}spec:\n${spec}`;

describe('parseManifest', () => {
  it("turns the reference's example manifest into a coreEtl JobSpec with a six-hourly UTC schedule", () => {
    const [job] = parseManifest(example, 'example.yaml');
    expect(job).toMatchObject({
      jobPath: 'data-infra/example-data-transform',
      namespace: 'platform',
      owner: 'data-infra@doordash.com',
      schedule: { cron: '0 */6 * * *', timezone: 'UTC', overlap: 'SKIP', catchupWindowMs: 60_000, jitterMs: 0 },
    });
    expect(job!.spec).toMatchObject({
      name: 'example-data-transform',
      engineVersion: '3.5',
      jobType: 'batch',
      application: { type: 'coreEtl', mainClass: 'com.doordash.coreetl.spark.Main' },
      resources: { driver: { cores: 2, memoryMb: 4096 }, executor: { cores: 4, memoryMb: 8192, instances: 5 } },
      retryPolicy: { maxAttempts: 4 },
    });
  });

  it('reads several documents, with plain JobSpec fields, presets, time zones and a streaming job', () => {
    const text = fs.readFileSync(
      new URL('../../examples/manifests/hourly-and-streaming.yaml', import.meta.url),
      'utf8',
    );
    const [hourly, stream] = parseManifest(text);
    expect(hourly!.schedule).toEqual({
      cron: '0 * * * *',
      timezone: 'America/Los_Angeles',
      overlap: 'SKIP',
      catchupWindowMs: 600_000,
      jitterMs: 30_000,
    });
    expect(hourly!.spec.retryPolicy.maxAttempts).toBe(2);
    expect(stream).toMatchObject({ jobPath: 'data-infra/order-events-stream', schedule: undefined });
    expect(stream!.spec.jobType).toBe('streaming');
  });

  it('points a bad value at its line and column, using the manifest field name', () => {
    const text = base(
      '  engine:\n    version: "3.5"\n  resources:\n    executors:\n      memory: lots\n  coreEtl:\n    jarPath: a.jar\n    mainClass: M\n    jobSpec: { sources: [{ type: csv, path: /a.csv }], sinks: [{ type: console }] }\n',
    );
    expect(issuesOf(text)).toEqual([
      {
        file: 'm.yaml',
        line: 11,
        column: 15,
        field: 'spec.resources.executors.memory',
        message: expect.stringContaining('invalid memory size "lots"') as unknown,
      },
    ]);
  });

  it('points an unknown field at the key itself', () => {
    const issues = issuesOf(base('  engineVersion: "3.5"\n  aplication: {}\n'));
    expect(issues).toContainEqual(
      expect.objectContaining({ line: 8, column: 3, field: 'spec.aplication', message: 'unknown field "aplication"' }),
    );
  });

  it('maps retryPolicy.maxRetries and engine.version errors back to the manifest fields', () => {
    const issues = issuesOf(base('  engine:\n    version: latest\n  application: { type: python, file: a.py }\n'));
    expect(issues).toEqual([expect.objectContaining({ field: 'spec.engine.version', line: 8, column: 14 })]);
    const retries = issuesOf(
      base(
        '  engineVersion: "3.5"\n  application: { type: python, file: a.py }\n  orchestration:\n    retryPolicy:\n      maxRetries: -1\n',
      ),
    );
    expect(retries).toEqual([
      expect.objectContaining({ field: 'spec.orchestration.retryPolicy.maxRetries', line: 11, column: 19 }),
    ]);
  });

  it('reports a bad cron, a bad time zone and a schedule on a streaming job', () => {
    const issues = issuesOf(
      base(
        '  engineVersion: "3.5"\n  jobType: streaming\n  application: { type: python, file: a.py }\n  orchestration:\n    schedule: "@fortnightly"\n    timezone: Mars/Olympus\n',
      ),
    );
    expect(issues.map((i) => [i.field, i.line])).toEqual(
      expect.arrayContaining([
        ['spec.orchestration.timezone', 12],
        ['spec.orchestration.schedule', 11],
      ]),
    );
    expect(issues.map((i) => i.message).join('\n')).toMatch(/streaming job runs continuously/);
    expect(issues.map((i) => i.message).join('\n')).toMatch(/unknown preset "@fortnightly"/);
  });

  it('reports a YAML syntax error with its position, and errors in the second document at their own lines', () => {
    expect(issuesOf('kind: [SparkJob\n')[0]).toMatchObject({ file: 'm.yaml', line: expect.any(Number) as unknown });
    const second = `${example}---\n${base('  engineVersion: "3.5"\n  application: { type: python, file: a.py }\n', '  name: Bad_Name\n  team: data-infra\n')}`;
    const issues = issuesOf(second);
    const offset = example.split('\n').length; // the second document starts after the first and the `---`
    expect(issues).toContainEqual(expect.objectContaining({ field: 'metadata.name', line: offset + 4, column: 9 }));
  });

  it('rejects a file without any SparkJob, the wrong kind, and the same job twice', () => {
    expect(issuesOf('# nothing\n')[0]!.message).toMatch(/declares no SparkJob/);
    expect(issuesOf(example.replace('kind: SparkJob', 'kind: Deployment'))[0]).toMatchObject({
      field: 'kind',
      line: 3,
    });
    expect(issuesOf(`${example}---\n${example}`)[0]!.message).toMatch(/declared twice/);
  });

  it('the error message lists file:line:column: field: message', () => {
    expect(() => parseManifest(base('  engineVersion: "3.5"\n'), 'jobs/a.yaml')).toThrow(
      /^jobs\/a\.yaml:\d+:\d+: spec\.coreEtl: a job needs coreEtl or application$/,
    );
  });
});

describe('schedule expressions', () => {
  it('maps every Airflow preset explicitly onto five-field cron', () => {
    expect(AIRFLOW_PRESETS).toMatchObject({
      '@hourly': '0 * * * *',
      '@daily': '0 0 * * *',
      '@weekly': '0 0 * * 0',
      '@monthly': '0 0 1 * *',
      '@yearly': '0 0 1 1 *',
    });
    expect(parseScheduleExpression('@DAILY')).toEqual({ cron: '0 0 * * *' });
  });

  it('refuses overlap policies that would stop a running execution from outside', () => {
    const issues = issuesOf(
      base(
        '  engineVersion: "3.5"\n  application: { type: python, file: a.py }\n  orchestration:\n    schedule: "@daily"\n    overlap: terminate_other\n',
      ),
    );
    expect(issues).toEqual([expect.objectContaining({ field: 'spec.orchestration.overlap', line: 11, column: 14 })]);
  });

  it('turns @every into an interval and rejects malformed cron', () => {
    expect(parseScheduleExpression('@every 5s')).toEqual({ everyMs: 5000 });
    expect(parseScheduleExpression('* * *')).toHaveProperty('error');
    expect(parseScheduleExpression('99 * * * *')).toEqual({
      error: 'invalid cron "99 * * * *": minute "99" must be within 0-59',
    });
    expect(parseScheduleExpression('*/15 9-17 * JAN-MAR MON-FRI')).toEqual({ cron: '*/15 9-17 * JAN-MAR MON-FRI' });
    expect(parseScheduleExpression('0 */6 1,15 * *')).toEqual({ cron: '0 */6 1,15 * *' });
    expect(parseScheduleExpression('0 0 * * */0')).toHaveProperty('error');
    expect(parseScheduleExpression('@every 10ms')).toHaveProperty('error');
    expect(
      scheduleSpecFor({ cron: '0 3 * * *', timezone: 'Asia/Tokyo', overlap: 'SKIP', catchupWindowMs: 1, jitterMs: 5 }),
    ).toEqual({ cronExpressions: ['0 3 * * *'], timezone: 'Asia/Tokyo', jitter: 5 });
  });
});
