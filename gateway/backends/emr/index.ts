/**
 * The EMR on EKS backend, the fallback: one `StartJobRun` per attempt on the virtual cluster the gateway placed it
 * on (DESIGN.md "The backend contract"). The submitting side is `createEmrBackend`; the watching side,
 * `createEmrStatusSource`, polls ListJobRuns once per interval for the whole virtual cluster.
 *
 * - vendorRunId is `<virtualClusterId>/<jobRunId>`, so status, cancel and logs need no other state.
 * - Idempotency is ours. Before StartJobRun, submit lists the virtual cluster's job runs named like the attempt
 *   (all pages) and adopts the run it finds, so a retried or re-run submit (after a crash, say) starts nothing new.
 *   The deterministic clientToken additionally lets AWS collapse two submits that race past that check; emulators
 *   such as moto ignore it, and the tests prove the listing alone.
 * - Credentials come from the AWS SDK's default chain; `endpoint` overrides both APIs (S3 then uses path style).
 *
 * Error contract (STYLE.md §6). AWS errors are told apart by their code (`err.name`):
 * | call            | answer                                                   | result                                |
 * |-----------------|----------------------------------------------------------|---------------------------------------|
 * | submit          | a job run with the attempt's name and our tags exists     | adopted (idempotent submit)           |
 * | submit          | one with the name exists but its tags are another's       | BackendRejection (never touch it)     |
 * | submit          | no release label for the engine version; a non-EMR        | BackendRejection                      |
 * |                 | placement                                                |                                       |
 * | submit          | ValidationException (bad role, label, parameters),       | BackendRejection                      |
 * |                 | ResourceNotFoundException (virtual cluster or release),  |                                       |
 * |                 | AccessDeniedException                                    |                                       |
 * | any             | InternalServerException, throttling, 5xx, network        | thrown as is: transient, retried      |
 * | status          | ResourceNotFoundException                                | FAILED `VANISHED` (INFRA, retried)    |
 * | cancel          | no vendorRunId and no run with the attempt's name        | fine (submit never happened)          |
 * | cancel          | ResourceNotFoundException                                | fine (nothing to cancel)              |
 * | cancel          | ValidationException and the run is final/CANCEL_PENDING  | fine (already ended or ending)        |
 * | cancel          | ValidationException on a live run                        | BackendRejection                      |
 * | logs            | no driver log under the run's prefix (yet)               | a `[spark-runner]` line, not an error |
 * | logs            | NoSuchBucket, AccessDenied                               | thrown as is                          |
 */
import { gunzipSync } from 'node:zlib';
import type { JobRun, StartJobRunCommandInput } from '@aws-sdk/client-emr-containers';
import {
  CancelJobRunCommand,
  DescribeJobRunCommand,
  EMRContainersClient,
  ListJobRunsCommand,
  StartJobRunCommand,
} from '@aws-sdk/client-emr-containers';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import type {
  AttemptRequest,
  Backend,
  CancelTarget,
  LogOptions,
  Placement,
  RunRef,
  RunStatus,
  StatusSource,
  VendorRun,
} from '../../backend.js';
import { BackendRejection, isFinalPhase } from '../../backend.js';
import type { EmrConfig } from '../../clusters.js';
import { pause } from '../pause.js';
import { EMR_TAGS, buildStartJobRun, jobRunName, virtualClusterOf } from './build.js';
import type { LogObject } from './logs.js';
import { containersLocation, driverLogKeys, logsUrlOf, tailLines } from './logs.js';
import {
  consoleUrlOf,
  isStoppedState,
  parseVendorRunId,
  runRefOf,
  runStatusOf,
  vanishedRunStatus,
  vendorRunIdOf,
  type ObservedJobRun,
} from './status.js';

export * from './build.js';
export * from './logs.js';
export * from './status.js';

/** Where the backend reports what it did; a pino logger fits. */
export interface EmrLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** The EMR section of the clusters file (`enabled` is the router's business, not the backend's). */
export type EmrConnection = Omit<EmrConfig, 'enabled'>;

export interface EmrBackendOptions extends EmrConnection {
  /** How often followLogs() re-reads the driver log. Default 5 s (EMR uploads logs in batches anyway). */
  followIntervalMs?: number;
  logger?: EmrLogger;
}

export interface EmrStatusSourceOptions extends Pick<EmrConnection, 'region' | 'virtualClusterId' | 'endpoint'> {
  /** Time between ListJobRuns polls. Default 10 s. */
  pollIntervalMs?: number;
  /** Only runs created this recently are listed, which bounds each poll. Default 7 days; older runs are polled. */
  windowMs?: number;
  /** On the first poll, runs that finished longer ago than this are not replayed. Default 15 min. */
  replayFinishedWithinMs?: number;
  logger?: EmrLogger;
}

const REJECTED_CODES = new Set(['ValidationException', 'ResourceNotFoundException', 'AccessDeniedException']);

const codeOf = (err: unknown): string | undefined => (err as { name?: unknown }).name as string | undefined;
const messageOf = (err: unknown): string => (err as Error).message;

function emrClient(options: Pick<EmrConnection, 'region' | 'endpoint'>): EMRContainersClient {
  return new EMRContainersClient({
    region: options.region,
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
}

function s3Client(options: Pick<EmrConnection, 'region' | 'endpoint'>): S3Client {
  // Emulators and VPC endpoints do not serve virtual-hosted bucket names.
  const endpoint = options.endpoint ? { endpoint: options.endpoint, forcePathStyle: true } : {};
  return new S3Client({ region: options.region, ...endpoint });
}

/** Every job run of a virtual cluster matching the filter, across all pages. */
async function listJobRuns(
  emr: EMRContainersClient,
  virtualClusterId: string,
  filter: { name?: string; createdAfter?: Date } = {},
): Promise<JobRun[]> {
  const runs: JobRun[] = [];
  let nextToken: string | undefined;
  do {
    const page = await emr.send(new ListJobRunsCommand({ virtualClusterId, ...filter, nextToken }));
    runs.push(...(page.jobRuns ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return runs;
}

/**
 * The job run named `name`, the oldest if a race made several. The API's name filter only narrows the listing:
 * its matching is not documented as exact (moto matches substrings), so the name is compared here.
 */
async function findByName(
  emr: EMRContainersClient,
  virtualClusterId: string,
  name: string,
): Promise<JobRun | undefined> {
  const runs = (await listJobRuns(emr, virtualClusterId, { name })).filter((r) => r.name === name && r.id);
  const created = (r: JobRun) => r.createdAt?.getTime() ?? 0;
  return runs.sort((a, b) => created(a) - created(b) || (a.id! < b.id! ? -1 : 1))[0];
}

/** Creates the EMR on EKS backend's submitting side. Settings come only from `options`. */
export function createEmrBackend(options: EmrBackendOptions): Backend {
  const emr = emrClient(options);
  const s3 = s3Client(options);

  function toVendorRun(attempt: AttemptRequest, virtualClusterId: string, jobRunId: string): VendorRun {
    return {
      executionId: attempt.executionId,
      attempt: attempt.attempt,
      vendorRunId: vendorRunIdOf(virtualClusterId, jobRunId),
      backend: 'emr',
      cluster: virtualClusterId,
      sparkUiUrl: consoleUrlOf(options.region, virtualClusterId),
      logsUrl: logsUrlOf(options.logUri, virtualClusterId, jobRunId),
    };
  }

  function rejectionOf(err: unknown, input: StartJobRunCommandInput): unknown {
    const code = codeOf(err);
    if (code === undefined || !REJECTED_CODES.has(code)) return err;
    return new BackendRejection(
      `EMR refused job run ${input.name} on virtual cluster ${input.virtualClusterId} (${code}): ${messageOf(err)}`,
    );
  }

  function assertOurs(existing: JobRun, input: StartJobRunCommandInput): void {
    const tags = existing.tags ?? {};
    const wanted = input.tags ?? {};
    for (const key of [EMR_TAGS.executionId, EMR_TAGS.attempt]) {
      if (tags[key] !== wanted[key]) {
        throw new BackendRejection(
          `EMR job run ${existing.id} on virtual cluster ${input.virtualClusterId} is named ${input.name} but its ` +
            `tag ${key} is "${tags[key] ?? ''}", not "${wanted[key] ?? ''}": it is not this attempt's`,
        );
      }
    }
  }

  async function submit(attempt: AttemptRequest, placement: Placement): Promise<VendorRun> {
    const input = buildStartJobRun(attempt, placement, options);
    const virtualClusterId = input.virtualClusterId!;
    try {
      const existing = await findByName(emr, virtualClusterId, input.name!);
      if (existing) {
        assertOurs(existing, input);
        options.logger?.info({ virtualClusterId, jobRunId: existing.id, name: input.name }, 'adopted the job run');
        return toVendorRun(attempt, virtualClusterId, existing.id!);
      }
      const started = await emr.send(new StartJobRunCommand(input));
      options.logger?.info({ virtualClusterId, jobRunId: started.id, name: input.name }, 'started the job run');
      return toVendorRun(attempt, virtualClusterId, started.id!);
    } catch (err) {
      throw rejectionOf(err, input);
    }
  }

  async function describe(run: RunRef): Promise<ObservedJobRun | undefined> {
    const { virtualClusterId, jobRunId } = parseVendorRunId(run.vendorRunId);
    try {
      return (await emr.send(new DescribeJobRunCommand({ virtualClusterId, id: jobRunId }))).jobRun;
    } catch (err) {
      if (codeOf(err) === 'ResourceNotFoundException') return undefined;
      throw err;
    }
  }

  async function status(run: RunRef): Promise<RunStatus> {
    const jobRun = await describe(run);
    const observedAt = new Date().toISOString();
    if (!jobRun) return vanishedRunStatus(run, observedAt);
    const { virtualClusterId } = parseVendorRunId(run.vendorRunId);
    return runStatusOf(jobRun, run, observedAt, consoleUrlOf(options.region, virtualClusterId));
  }

  async function cancel(target: CancelTarget): Promise<void> {
    let virtualClusterId: string;
    let jobRunId: string | undefined;
    if (target.vendorRunId) {
      ({ virtualClusterId, jobRunId } = parseVendorRunId(target.vendorRunId));
    } else {
      virtualClusterId = virtualClusterOf(target.placement, options);
      jobRunId = (await findByName(emr, virtualClusterId, jobRunName(target.executionId, target.attempt)))?.id;
      if (!jobRunId) return; // never started: nothing to cancel
    }
    try {
      await emr.send(new CancelJobRunCommand({ virtualClusterId, id: jobRunId }));
      options.logger?.info({ virtualClusterId, jobRunId }, 'cancelled the job run');
    } catch (err) {
      const code = codeOf(err);
      if (code === 'ResourceNotFoundException') return;
      if (code !== 'ValidationException') throw err;
      // EMR refuses to cancel a run that has ended (or is ending); that is the outcome cancel wants.
      const vendorRunId = vendorRunIdOf(virtualClusterId, jobRunId);
      const current = await describe({ executionId: target.executionId, attempt: target.attempt, vendorRunId });
      if (!current || isStoppedState(current.state)) return;
      throw new BackendRejection(`EMR refused to cancel job run ${jobRunId} (${code}): ${messageOf(err)}`);
    }
  }

  async function readLog(bucket: string, key: string): Promise<string | undefined> {
    try {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return gunzipSync(await object.Body!.transformToByteArray()).toString('utf8');
    } catch (err) {
      if (codeOf(err) === 'NoSuchKey') return undefined; // rotated away between the listing and the read
      throw err;
    }
  }

  async function logs(run: RunRef, logOptions?: LogOptions): Promise<string> {
    const { virtualClusterId, jobRunId } = parseVendorRunId(run.vendorRunId);
    const { bucket, prefix } = containersLocation(options.logUri, virtualClusterId, jobRunId);
    const objects: LogObject[] = [];
    let token: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) objects.push({ key: o.Key, lastModified: o.LastModified });
      token = page.NextContinuationToken;
    } while (token);
    const { stdout, stderr } = driverLogKeys(objects);
    // stdout (what the job prints) first, then stderr (Spark's log4j): the end of the text is where failures are.
    const parts = await Promise.all(
      [stdout, stderr].map((key) => (key ? readLog(bucket, key) : Promise.resolve(undefined))),
    );
    const found = parts.filter((part) => part !== undefined);
    if (found.length === 0) {
      return `[spark-runner] no driver log under s3://${bucket}/${prefix} yet: EMR uploads it while the job run goes and when it ends.\n`;
    }
    const text = found.join('');
    return logOptions?.tail !== undefined ? tailLines(text, logOptions.tail) : text;
  }

  /** Re-reads the driver log every `followIntervalMs` and yields what is new, until the run is final. */
  async function* followLogs(run: RunRef, signal: AbortSignal): AsyncIterable<string> {
    let seen = '';
    while (!signal.aborted) {
      const final = isFinalPhase((await status(run)).phase);
      const text = await logs(run);
      if (text.startsWith(seen)) {
        if (text.length > seen.length) yield text.slice(seen.length);
      } else {
        yield text; // the "not there yet" line was replaced by the log
      }
      seen = text;
      if (final) return;
      if (!(await pause(options.followIntervalMs ?? 5_000, signal))) return;
    }
  }

  return {
    name: 'emr',
    describeSubmission: (attempt, placement) => buildStartJobRun(attempt, placement, options),
    submit,
    status,
    cancel,
    logs,
    followLogs,
  };
}

/**
 * Creates the EMR on EKS status source: one paginated ListJobRuns per interval for the whole virtual cluster (not
 * one DescribeJobRun per run), yielding each run's state once, when it is first seen and whenever it changes. Only
 * runs named `sr-…` with our tags are reported. A failed poll is logged and retried at the next interval.
 */
export function createEmrStatusSource(options: EmrStatusSourceOptions): StatusSource {
  const emr = emrClient(options);
  const intervalMs = options.pollIntervalMs ?? 10_000;
  const windowMs = options.windowMs ?? 7 * 24 * 3600_000;
  const replayWithinMs = options.replayFinishedWithinMs ?? 15 * 60_000;
  const vc = options.virtualClusterId;
  const sparkUiUrl = consoleUrlOf(options.region, vc);

  async function* watch(signal: AbortSignal): AsyncIterable<RunStatus> {
    let last = new Map<string, string>();
    let first = true;
    while (!signal.aborted) {
      let runs: JobRun[] | undefined;
      try {
        runs = await listJobRuns(emr, vc, { createdAfter: new Date(Date.now() - windowMs) });
      } catch (err) {
        options.logger?.warn({ virtualClusterId: vc, err: messageOf(err) }, 'ListJobRuns failed; retrying');
      }
      if (runs) {
        const seen = new Map<string, string>();
        const observedAt = new Date().toISOString();
        for (const jobRun of runs) {
          const ref = runRefOf(jobRun, vc);
          if (!ref) continue;
          const status = runStatusOf(jobRun, ref, observedAt, sparkUiUrl);
          seen.set(ref.vendorRunId, status.backendState);
          if (last.get(ref.vendorRunId) === status.backendState) continue;
          const finishedAt = jobRun.finishedAt?.getTime();
          const longDone = finishedAt !== undefined && Date.now() - finishedAt > replayWithinMs;
          if (first && isFinalPhase(status.phase) && longDone) continue; // polling recorded it long ago
          yield status;
        }
        // Runs that left the window are forgotten, so the map holds only what the last poll listed.
        last = seen;
        first = false;
      }
      if (!(await pause(intervalMs, signal))) return;
    }
  }

  return { name: 'emr', watch };
}
