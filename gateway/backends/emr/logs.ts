/**
 * Where EMR on EKS writes a job run's logs under `s3MonitoringConfiguration.logUri`, and how the driver's are
 * picked out. Pure.
 *
 * The layout, from AWS's EMR on EKS best-practices guide ("Spark Driver and Executor Logs",
 * https://aws.github.io/aws-emr-containers-best-practices/troubleshooting/docs/where-to-look-for-spark-logs/):
 *
 *     <logUri>/<virtual-cluster-id>/jobs/<job-id>/containers/<job-runner-pod-id>/(stderr.gz|stdout.gz)
 *     <logUri>/<virtual-cluster-id>/jobs/<job-id>/containers/<spark-application-id>/<driver-pod-name>/(stderr.gz|stdout.gz)
 *     <logUri>/<virtual-cluster-id>/jobs/<job-id>/containers/<spark-application-id>/<executor-pod-name>/(stderr.gz|stdout.gz)
 *
 * The driver pod is `spark-<job-id>-driver` (e.g. `.../containers/spark-000000032psj6spu6q7/
 * spark-000000032psj6spu6q7-driver/stdout.gz` in AWS's examples), but the application id differs between releases,
 * so the keys are found by listing `.../jobs/<job-id>/containers/` and taking the newest `*-driver/stdout.gz` and
 * `*-driver/stderr.gz`. Objects are gzip; EMR uploads them while the run goes and when it ends.
 */

/** A bucket and a key prefix ('' or ending in '/'). */
export interface S3Location {
  bucket: string;
  prefix: string;
}

/** Splits an `s3://bucket/some/prefix` URI; the prefix comes back '' or with one trailing '/'. */
export function parseS3Uri(uri: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// URI: "${uri}"`);
  const path = m[2]!.replace(/\/+$/, '');
  return { bucket: m[1]!, prefix: path ? `${path}/` : '' };
}

/** Everything EMR keeps for one job run: `<logUri>/<vc>/jobs/<jobRunId>/`. */
export function jobLogLocation(logUri: string, virtualClusterId: string, jobRunId: string): S3Location {
  const { bucket, prefix } = parseS3Uri(logUri);
  return { bucket, prefix: `${prefix}${virtualClusterId}/jobs/${jobRunId}/` };
}

/** The run's log prefix as an `s3://` URI (`vendor_logs_link`). */
export function logsUrlOf(logUri: string, virtualClusterId: string, jobRunId: string): string {
  const { bucket, prefix } = jobLogLocation(logUri, virtualClusterId, jobRunId);
  return `s3://${bucket}/${prefix}`;
}

/** The prefix listed to find the driver's logs. */
export function containersLocation(logUri: string, virtualClusterId: string, jobRunId: string): S3Location {
  const job = jobLogLocation(logUri, virtualClusterId, jobRunId);
  return { bucket: job.bucket, prefix: `${job.prefix}containers/` };
}

/** One listed object. */
export interface LogObject {
  key: string;
  lastModified?: Date;
}

const DRIVER_LOG = /\/containers\/[^/]+\/[^/]+-driver\/(stdout|stderr)\.gz$/;

/** The newest driver stdout and stderr among listed keys. */
export function driverLogKeys(objects: readonly LogObject[]): { stdout?: string; stderr?: string } {
  const newest: { stdout?: LogObject; stderr?: LogObject } = {};
  for (const object of objects) {
    const stream = DRIVER_LOG.exec(object.key)?.[1] as 'stdout' | 'stderr' | undefined;
    if (!stream) continue;
    const seen = newest[stream];
    if (!seen || (object.lastModified?.getTime() ?? 0) >= (seen.lastModified?.getTime() ?? 0)) newest[stream] = object;
  }
  return {
    ...(newest.stdout ? { stdout: newest.stdout.key } : {}),
    ...(newest.stderr ? { stderr: newest.stderr.key } : {}),
  };
}

/** The last `lines` lines of a text, keeping its final newline. */
export function tailLines(text: string, lines: number): string {
  if (lines <= 0) return '';
  const ends = text.endsWith('\n');
  const all = (ends ? text.slice(0, -1) : text).split('\n');
  const kept = all.slice(-lines).join('\n');
  return ends ? `${kept}\n` : kept;
}
