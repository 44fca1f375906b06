/**
 * The EMR on EKS backend against a real moto server (test/helpers/moto.ts). moto stands in for AWS only: EMR on
 * EKS's API and S3. Its job runs advance through moto's own state manager (provision/moto/moto_server.py), and a
 * run ends FAILED with a failureReason through the wrapper's stand-in route, where AWS would report it itself.
 */
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AttemptRequest, Backend, Placement, RunStatus } from '../../gateway/backend.js';
import { BackendRejection } from '../../gateway/backend.js';
import {
  createEmrBackend,
  createEmrStatusSource,
  jobRunName,
  parseVendorRunId,
} from '../../gateway/backends/emr/index.js';
import { classifyFailure } from '../../runner/classify.js';
import { JobSpec } from '../../schema/job-spec.js';
import { startMoto, type TestMoto } from '../helpers/moto.js';

let moto: TestMoto;
let backend: Backend;
let placement: Placement;

function attemptOf(executionId = randomUUID(), attempt = 1): AttemptRequest {
  return {
    executionId,
    attempt,
    team: 'payments',
    jobPath: 'payments/daily-agg',
    spec: JobSpec.parse({
      name: 'daily-agg',
      engineVersion: '3.5',
      application: { type: 'python', file: 's3://code/etl.py' },
      args: ['--day', '2026-01-01'],
    }),
  };
}

/** status() until the run is final, recording each state EMR reported. */
async function statesUntilFinal(vendorRunId: string, attempt: AttemptRequest): Promise<RunStatus[]> {
  const seen: RunStatus[] = [];
  for (let i = 0; i < 50; i++) {
    const status = await backend.status({ executionId: attempt.executionId, attempt: attempt.attempt, vendorRunId });
    if (seen.at(-1)?.backendState !== status.backendState) seen.push(status);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(status.phase)) return seen;
  }
  throw new Error(`run ${vendorRunId} did not end: ${seen.map((s) => s.backendState).join(' → ')}`);
}

beforeAll(async () => {
  moto = await startMoto();
  backend = createEmrBackend({ ...moto.emrConfig, followIntervalMs: 50 });
  placement = { backend: 'emr', cluster: moto.virtualClusterId, reason: 'fallback: no Kubernetes capacity' };
});

afterAll(async () => {
  await moto?.stop();
});

describe('EMR on EKS backend (moto)', () => {
  it('submits a job run whose status follows moto’s state manager from PENDING to SUCCEEDED', async () => {
    await moto.setTransition({ progression: 'manual', times: 2 }); // each state is seen by two DescribeJobRuns
    const attempt = attemptOf();
    const run = await backend.submit(attempt, placement);
    const states = await statesUntilFinal(run.vendorRunId, attempt);
    expect(states.map((s) => `${s.backendState}:${s.phase}`)).toEqual([
      'PENDING:PENDING',
      'SUBMITTED:PENDING',
      'RUNNING:RUNNING',
      'COMPLETED:SUCCEEDED',
    ]);
    expect(states.at(-1)!.failure).toBeUndefined();
  });

  it('starts exactly one job run when submit is repeated, also by a fresh backend after a crash', async () => {
    await moto.setTransition({ progression: 'manual', times: 1000 });
    const attempt = attemptOf();
    const first = await backend.submit(attempt, placement);
    const again = await backend.submit(attempt, placement);
    const afterCrash = await createEmrBackend(moto.emrConfig).submit(attempt, placement);
    expect(again.vendorRunId).toBe(first.vendorRunId);
    expect(afterCrash.vendorRunId).toBe(first.vendorRunId);
    expect(await moto.countJobRuns(jobRunName(attempt.executionId, 1))).toBe(1);
  });

  it('starts attempt 10 anew although moto’s name filter also matches attempt 1’s name, a substring of it', async () => {
    const executionId = randomUUID();
    const one = await backend.submit(attemptOf(executionId, 1), placement);
    const ten = await backend.submit(attemptOf(executionId, 10), placement);
    expect(ten.vendorRunId).not.toBe(one.vendorRunId);
    expect(await moto.countJobRuns(jobRunName(executionId, 10))).toBe(1);
  });

  it('rejects a job run EMR refuses (an unknown virtual cluster) as a BackendRejection', async () => {
    const elsewhere: Placement = { ...placement, cluster: 'nosuchvirtualcluster000000' };
    await expect(backend.submit(attemptOf(), elsewhere)).rejects.toThrow(BackendRejection);
    await expect(backend.submit(attemptOf(), elsewhere)).rejects.toThrow(/ResourceNotFoundException/);
  });

  it('cancels a run to CANCELLED, and a second cancel of the ended run is fine', async () => {
    await moto.setTransition({ progression: 'manual', times: 1000 });
    const attempt = attemptOf();
    const run = await backend.submit(attempt, placement);
    const target = { executionId: attempt.executionId, attempt: 1, placement, vendorRunId: run.vendorRunId };
    await backend.cancel(target);
    await backend.cancel(target);
    expect(await backend.status(run)).toMatchObject({ phase: 'CANCELLED', backendState: 'CANCELLED' });
  });

  it('cancels by name when submit may have happened but returned no vendorRunId', async () => {
    await moto.setTransition({ progression: 'manual', times: 1000 });
    const attempt = attemptOf();
    const run = await backend.submit(attempt, placement);
    await backend.cancel({ executionId: attempt.executionId, attempt: 1, placement });
    expect((await backend.status(run)).phase).toBe('CANCELLED');

    const neverSubmitted = attemptOf();
    await backend.cancel({ executionId: neverSubmitted.executionId, attempt: 1, placement });
    expect(await moto.countJobRuns(jobRunName(neverSubmitted.executionId, 1))).toBe(0);
  });

  it('reports EMR’s failureReason and stateDetails so USER_ERROR is not retried and INTERNAL_ERROR is', async () => {
    await moto.setTransition({ progression: 'manual', times: 1000 });
    const outcome = async (failureReason: string, stateDetails: string) => {
      const attempt = attemptOf();
      const run = await backend.submit(attempt, placement);
      await moto.failJobRun(parseVendorRunId(run.vendorRunId).jobRunId, failureReason, stateDetails);
      return backend.status(run);
    };
    const user = await outcome('USER_ERROR', 'Jobrun failed. Main Spark container terminated with errors.');
    expect(user).toMatchObject({
      phase: 'FAILED',
      backendState: 'FAILED',
      failure: { reason: 'USER_ERROR', message: 'Jobrun failed. Main Spark container terminated with errors.' },
    });
    expect(classifyFailure(user.failure!)).toMatchObject({ failureClass: 'USER_ERROR', retriable: false });

    const infra = await outcome('INTERNAL_ERROR', 'Job run failed because of an EMR on EKS service issue.');
    expect(infra.failure).toEqual({
      reason: 'INTERNAL_ERROR',
      message: 'Job run failed because of an EMR on EKS service issue.',
    });
    expect(classifyFailure(infra.failure!)).toMatchObject({ failureClass: 'INFRA', retriable: true });
  });

  it('reads the driver log from the documented S3 layout, gunzipped, with tail; says so while there is none', async () => {
    await moto.setTransition({ progression: 'manual', times: 1000 });
    const attempt = attemptOf();
    const run = await backend.submit(attempt, placement);
    const { virtualClusterId, jobRunId } = parseVendorRunId(run.vendorRunId);

    const none = await backend.logs(run);
    expect(none).toBe(
      `[spark-runner] no driver log under s3://${moto.bucket}/emr/${virtualClusterId}/jobs/${jobRunId}/containers/ ` +
        'yet: EMR uploads it while the job run goes and when it ends.\n',
    );

    // What AWS would write: <logUri>/<vc>/jobs/<job>/containers/<spark-app-id>/<driver pod>/stdout.gz, gzipped.
    const driverDir = `emr/${virtualClusterId}/jobs/${jobRunId}/containers/spark-${jobRunId}/spark-${jobRunId}-driver`;
    const put = (name: string, text: string) =>
      moto.s3.send(new PutObjectCommand({ Bucket: moto.bucket, Key: `${driverDir}/${name}`, Body: gzipSync(text) }));
    await put('stdout.gz', 'rows: 3\nPi is roughly 3.14\n');
    expect(await backend.logs(run)).toBe('rows: 3\nPi is roughly 3.14\n');

    await put('stderr.gz', 'INFO SparkContext: Running Spark version 3.5.5\nINFO SparkContext: Successfully stopped\n');
    expect(await backend.logs(run, { tail: 2 })).toBe(
      'INFO SparkContext: Running Spark version 3.5.5\nINFO SparkContext: Successfully stopped\n',
    );
    expect(await backend.logs(run, { tail: 3 })).toBe(
      'Pi is roughly 3.14\nINFO SparkContext: Running Spark version 3.5.5\nINFO SparkContext: Successfully stopped\n',
    );
  });

  it('follows the driver log until the run is final', async () => {
    await moto.setTransition({ progression: 'manual', times: 1000 });
    const attempt = attemptOf();
    const run = await backend.submit(attempt, placement);
    const { virtualClusterId, jobRunId } = parseVendorRunId(run.vendorRunId);
    const key = `emr/${virtualClusterId}/jobs/${jobRunId}/containers/spark-${jobRunId}/spark-${jobRunId}-driver/stdout.gz`;
    await moto.s3.send(new PutObjectCommand({ Bucket: moto.bucket, Key: key, Body: gzipSync('done\n') }));
    await backend.cancel({ executionId: attempt.executionId, attempt: 1, placement, vendorRunId: run.vendorRunId });
    const chunks: string[] = [];
    for await (const chunk of backend.followLogs(run, AbortSignal.timeout(10_000))) chunks.push(chunk);
    expect(chunks.join('')).toBe('done\n');
  });

  it('links the EMR console page and the run’s S3 log prefix as vendor_webui and vendor_logs_link', async () => {
    const run = await backend.submit(attemptOf(), placement);
    const { jobRunId } = parseVendorRunId(run.vendorRunId);
    expect(run).toMatchObject({ backend: 'emr', cluster: moto.virtualClusterId });
    expect(run.sparkUiUrl).toBe(
      `https://us-east-1.console.aws.amazon.com/emr/home?region=us-east-1#/eks/clusters/${moto.virtualClusterId}`,
    );
    expect(run.logsUrl).toBe(`s3://${moto.bucket}/emr/${moto.virtualClusterId}/jobs/${jobRunId}/`);
  });

  it('watches the virtual cluster with ListJobRuns and yields each state of a run once', async () => {
    // Time-based: a state lasts 0.5 s whoever looks, so the 50 ms polls see each one several times.
    await moto.setTransition({ progression: 'time', seconds: 0.5 });
    const source = createEmrStatusSource({ ...moto.emrConfig, pollIntervalMs: 50 });
    const stop = new AbortController();
    const attempt = attemptOf();
    const run = await backend.submit(attempt, placement);
    const mine: RunStatus[] = [];
    let doneAt: number | undefined;
    for await (const status of source.watch(stop.signal)) {
      if (status.vendorRunId === run.vendorRunId) mine.push(status);
      if (status.phase === 'SUCCEEDED' && status.vendorRunId === run.vendorRunId) doneAt = Date.now();
      if (doneAt !== undefined) setTimeout(() => stop.abort(), 500); // a few more polls: no repeats
    }
    expect(mine.map((s) => s.backendState)).toEqual(['PENDING', 'SUBMITTED', 'RUNNING', 'COMPLETED']);
    expect(mine[0]).toMatchObject({ executionId: attempt.executionId, attempt: 1, sparkUiUrl: run.sparkUiUrl });
  });
});
