/**
 * A moto server for a test file, standing in for AWS (EMR on EKS and S3) and nothing else: started on a free
 * loopback port from the venv the global setup installed (MOTO_PYTHON), through provision/moto/moto_server.py,
 * with one EKS-backed virtual cluster and a log bucket.
 *
 * The SDK clients find dummy credentials in the environment (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY = test),
 * set here, so the backend under test keeps using the SDK's default chain.
 */
import { CreateVirtualClusterCommand, EMRContainersClient, ListJobRunsCommand } from '@aws-sdk/client-emr-containers';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import type { EmrConfig } from '../../gateway/clusters.js';
import { EmrConfigSchema } from '../../gateway/clusters.js';
import { MOTO_SERVER_SCRIPT } from '../../provision/moto.js';
import { freePort, startProcess, waitFor } from '../../provision/process.js';

/** moto's state-manager transitions (https://docs.getmoto.org/en/latest/docs/configuration/state_transition/). */
export type MotoTransition =
  { progression: 'immediate' } | { progression: 'manual'; times: number } | { progression: 'time'; seconds: number };

/** The model name the wrapper registers EMR on EKS job runs under. */
export const JOB_RUN_MODEL = 'emrcontainers::job_run';

export interface TestMoto {
  endpoint: string;
  region: string;
  virtualClusterId: string;
  bucket: string;
  logUri: string;
  /** Parsed with EmrConfigSchema, pointing at this server. */
  emrConfig: EmrConfig;
  emr: EMRContainersClient;
  s3: S3Client;
  /** How job runs advance from now on (moto's POST /moto-api/state-manager/set-transition). */
  setTransition(transition: MotoTransition): Promise<void>;
  /** Ends a job run FAILED with what AWS would report (the wrapper's stand-in route). */
  failJobRun(jobRunId: string, failureReason: string, stateDetails: string): Promise<void>;
  /**
   * Job runs on the virtual cluster, all pages; only those named exactly `name` when given. Like any ListJobRuns,
   * it counts as one look for a "manual" transition.
   */
  countJobRuns(name?: string): Promise<number>;
  stop(): Promise<void>;
}

const REGION = 'us-east-1';

async function post(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`POST ${url}: HTTP ${res.status} ${await res.text()}`);
}

export async function startMoto(): Promise<TestMoto> {
  const python = process.env.MOTO_PYTHON;
  if (!python)
    throw new Error('MOTO_PYTHON is not set: run the tests through vitest, whose global setup installs moto');
  process.env.AWS_ACCESS_KEY_ID = 'test';
  process.env.AWS_SECRET_ACCESS_KEY = 'test';
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const server = startProcess('moto', python, [MOTO_SERVER_SCRIPT, '-H', '127.0.0.1', '-p', String(port)], {
    onLine: null,
  });
  try {
    await waitFor(async () => (await fetch(`${endpoint}/moto-api/`)).ok, {
      timeoutMs: 30_000,
      message: `moto did not answer on ${endpoint}`,
      exited: server.exited,
    });
    const emr = new EMRContainersClient({ region: REGION, endpoint });
    const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true });
    const cluster = await emr.send(
      new CreateVirtualClusterCommand({
        name: 'spark-runner-test',
        containerProvider: { type: 'EKS', id: 'test-eks', info: { eksInfo: { namespace: 'spark-runner-jobs' } } },
      }),
    );
    const virtualClusterId = cluster.id!;
    const bucket = 'spark-runner-logs';
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const logUri = `s3://${bucket}/emr/`;
    const emrConfig = EmrConfigSchema.parse({
      region: REGION,
      virtualClusterId,
      executionRoleArn: 'arn:aws:iam::123456789012:role/spark-runner-jobs',
      releaseLabels: { '3.5': 'emr-7.9.0-latest' },
      logUri,
      endpoint,
    });
    return {
      endpoint,
      region: REGION,
      virtualClusterId,
      bucket,
      logUri,
      emrConfig,
      emr,
      s3,
      setTransition: (transition) =>
        post(`${endpoint}/moto-api/state-manager/set-transition`, { model_name: JOB_RUN_MODEL, transition }),
      failJobRun: (id, failureReason, stateDetails) =>
        post(`${endpoint}/moto-api/spark-runner/emrcontainers/job-run-outcome`, {
          region: REGION,
          id,
          state: 'FAILED',
          failureReason,
          stateDetails,
        }),
      async countJobRuns(name) {
        let count = 0;
        let nextToken: string | undefined;
        do {
          const page = await emr.send(new ListJobRunsCommand({ virtualClusterId, nextToken }));
          count += (page.jobRuns ?? []).filter((r) => name === undefined || r.name === name).length;
          nextToken = page.nextToken;
        } while (nextToken);
        return count;
      },
      async stop() {
        emr.destroy();
        s3.destroy();
        await server.stop();
      },
    };
  } catch (err) {
    await server.stop();
    throw err;
  }
}
