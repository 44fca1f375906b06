/**
 * Builds the EMR on EKS `StartJobRun` input for one attempt (STYLE.md §4: a pure function, tested as data). Field
 * names are the API's (https://docs.aws.amazon.com/emr-on-eks/latest/APIReference/API_StartJobRun.html), typed by
 * the SDK's own `StartJobRunCommandInput`.
 *
 * Decisions:
 * - Name: `sr-<executionId>-<attempt>`. EMR allows 1–64 characters of `[.\-_/#A-Za-z0-9]`; a UUID execution id
 *   gives at most 3 + 36 + 1 + 2 = 42. Any other id that does not fit (too long, or other characters) becomes
 *   `sr-<up to 32 of its allowed characters>-<16 hex of sha256(executionId/attempt)>-<attempt>`, still
 *   deterministic and at most 56 characters. The name is the idempotency key: submit finds an earlier run by it.
 * - clientToken: the 64 hex of sha256(`<executionId>/<attempt>`) (EMR allows 1–64 characters). EMR would dedupe on
 *   it, but submit does not rely on that (index.ts).
 * - Tags carry execution id, attempt and team, so a listed run maps back to its attempt, and an adopted run can be
 *   checked to be ours.
 * - Sizing and sparkConf go into `sparkSubmitParameters` as `--conf k=v`, the form EMR's own examples use. That is
 *   one space-separated string and EMR documents no quoting for it, so a value with whitespace or quotes (say
 *   `-XX:+UseG1GC -Xss4m`) goes into `applicationConfiguration` as a `spark-defaults` property instead, a map
 *   that needs no quoting.
 * - Dynamic allocation turns on shuffle tracking: EMR on EKS has no external shuffle service.
 */
import { createHash } from 'node:crypto';
import type { StartJobRunCommandInput } from '@aws-sdk/client-emr-containers';
import type { AttemptRequest, Placement } from '../../backend.js';
import { BackendRejection } from '../../backend.js';
import type { EmrConfig } from '../../clusters.js';
import { formatMemory } from '../../../schema/job-spec.js';
import { assertNever } from '../../../schema/vocabulary.js';

/** Tag keys on every job run Spark Runner starts. */
export const EMR_TAGS = {
  executionId: 'spark-runner.io/execution-id',
  attempt: 'spark-runner.io/attempt',
  team: 'spark-runner.io/team',
} as const;

/** Every job run Spark Runner starts is named with this prefix; the status source ignores the rest. */
export const JOB_RUN_NAME_PREFIX = 'sr-';

/** What the builder needs from the EMR config. */
export type EmrBuildOptions = Pick<EmrConfig, 'virtualClusterId' | 'executionRoleArn' | 'releaseLabels' | 'logUri'>;

const NAME_CHARS = /^[.\-_/#A-Za-z0-9]+$/;
const MAX_NAME = 64;

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The deterministic job run name of an attempt (see the header). */
export function jobRunName(executionId: string, attempt: number): string {
  const plain = `${JOB_RUN_NAME_PREFIX}${executionId}-${attempt}`;
  if (plain.length <= MAX_NAME && NAME_CHARS.test(plain)) return plain;
  const prefix = executionId.replace(/[^.\-_/#A-Za-z0-9]/g, '').slice(0, 32);
  const hash = sha256(`${executionId}/${attempt}`).slice(0, 16);
  return `${JOB_RUN_NAME_PREFIX}${prefix ? `${prefix}-` : ''}${hash}-${attempt}`;
}

/** The deterministic clientToken of an attempt. */
export function clientTokenFor(executionId: string, attempt: number): string {
  return sha256(`${executionId}/${attempt}`);
}

/** The release label for a spec's engine version ("3.5" or "3.5.1" → `releaseLabels["3.5"]`), or a rejection. */
export function releaseLabelFor(engineVersion: string, releaseLabels: Record<string, string>): string {
  const minor = engineVersion.split('.').slice(0, 2).join('.');
  const label = Object.hasOwn(releaseLabels, minor) ? releaseLabels[minor] : undefined;
  if (label) return label;
  throw new BackendRejection(
    `engine version "${engineVersion}" has no EMR release label (emr.releaseLabels has: ${Object.keys(releaseLabels).join(', ') || 'none'})`,
  );
}

/** The virtual cluster a placement names; it must be an EMR placement. */
export function virtualClusterOf(placement: Placement, options: Pick<EmrConfig, 'virtualClusterId'>): string {
  if (placement.backend !== 'emr') {
    throw new BackendRejection(`the EMR backend was given a ${placement.backend} placement`);
  }
  return placement.cluster ?? options.virtualClusterId;
}

function entryPointOf(attempt: AttemptRequest): { entryPoint: string; args: string[]; params: string[] } {
  const { application: app, args } = attempt.spec;
  switch (app.type) {
    case 'python':
      return { entryPoint: app.file, args, params: app.pyFiles.length ? ['--py-files', app.pyFiles.join(',')] : [] };
    case 'jvm':
      return { entryPoint: app.jar, args, params: ['--class', app.mainClass] };
    case 'coreEtl':
      // The same arguments the Kubernetes and local backends pass: the job spec as one JSON argument.
      return {
        entryPoint: app.jarPath,
        args: ['--job-spec', JSON.stringify(app.jobSpec), ...args],
        params: ['--class', app.mainClass],
      };
    default:
      return assertNever(app);
  }
}

/** Spark settings from `resources`, in a fixed order. */
export function resourceConf(attempt: AttemptRequest): [string, string][] {
  const { driver, executor, dynamicAllocation } = attempt.spec.resources;
  const conf: [string, string][] = [
    ['spark.driver.cores', String(driver.cores)],
    ['spark.driver.memory', formatMemory(driver.memoryMb)],
    ['spark.executor.cores', String(executor.cores)],
    ['spark.executor.memory', formatMemory(executor.memoryMb)],
    ['spark.executor.instances', String(executor.instances)],
  ];
  if (dynamicAllocation) {
    conf.push(['spark.dynamicAllocation.enabled', String(dynamicAllocation.enabled)]);
    if (dynamicAllocation.enabled) {
      conf.push(
        ['spark.dynamicAllocation.shuffleTracking.enabled', 'true'],
        ['spark.dynamicAllocation.minExecutors', String(dynamicAllocation.minExecutors)],
        ['spark.dynamicAllocation.maxExecutors', String(dynamicAllocation.maxExecutors)],
      );
    }
  }
  return conf;
}

/** The StartJobRun input for one attempt. Pure: the same attempt, placement and options give the same object. */
export function buildStartJobRun(
  attempt: AttemptRequest,
  placement: Placement,
  options: EmrBuildOptions,
): StartJobRunCommandInput {
  const { entryPoint, args, params } = entryPointOf(attempt);
  const userConf = Object.entries(attempt.spec.sparkConf).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const needsQuoting = (value: string) => /[\s'"]/.test(value);
  const inline = userConf.filter(([, v]) => !needsQuoting(v));
  const verbatim = userConf.filter(([, v]) => needsQuoting(v));
  const conf = [...resourceConf(attempt), ...inline].flatMap(([k, v]) => ['--conf', `${k}=${v}`]);
  return {
    name: jobRunName(attempt.executionId, attempt.attempt),
    clientToken: clientTokenFor(attempt.executionId, attempt.attempt),
    virtualClusterId: virtualClusterOf(placement, options),
    executionRoleArn: options.executionRoleArn,
    releaseLabel: releaseLabelFor(attempt.spec.engineVersion, options.releaseLabels),
    jobDriver: {
      sparkSubmitJobDriver: {
        entryPoint,
        ...(args.length ? { entryPointArguments: [...args] } : {}),
        sparkSubmitParameters: [...params, ...conf].join(' '),
      },
    },
    configurationOverrides: {
      ...(verbatim.length
        ? { applicationConfiguration: [{ classification: 'spark-defaults', properties: Object.fromEntries(verbatim) }] }
        : {}),
      monitoringConfiguration: { s3MonitoringConfiguration: { logUri: options.logUri } },
    },
    tags: {
      [EMR_TAGS.executionId]: attempt.executionId,
      [EMR_TAGS.attempt]: String(attempt.attempt),
      [EMR_TAGS.team]: attempt.team,
    },
  };
}
