/**
 * Maps an EMR on EKS job run to a `RunStatus`, and the ids and links that name a run. Pure.
 *
 * States are EMR's (https://docs.aws.amazon.com/emr/latest/EMR-on-EKS-DevelopmentGuide/emr-eks-jobs-states.html):
 *
 * | EMR state      | phase     | why                                                                       |
 * |----------------|-----------|---------------------------------------------------------------------------|
 * | PENDING        | PENDING   | EMR is still submitting the job to the virtual cluster                     |
 * | SUBMITTED      | PENDING   | submitted; the Kubernetes scheduler has yet to start the driver            |
 * | RUNNING        | RUNNING   | the Spark driver is running                                               |
 * | COMPLETED      | SUCCEEDED |                                                                           |
 * | FAILED         | FAILED    | `failureReason` → FailureInfo.reason, `stateDetails` → FailureInfo.message |
 * | CANCEL_PENDING | RUNNING   | stopping, not final: the driver may still be running                      |
 * | CANCELLED      | CANCELLED |                                                                           |
 * | anything else  | RUNNING   | a state this version does not know is treated as not final                |
 *
 * failureReason is one of INTERNAL_ERROR, USER_ERROR, VALIDATION_ERROR, CLUSTER_UNAVAILABLE; runner/classify.ts
 * knows them (VALIDATION_ERROR / USER_ERROR are the user's, the other two are INFRA).
 */
import type { FailureInfo, RunPhase, RunRef, RunStatus } from '../../backend.js';
import { isFinalPhase } from '../../backend.js';
import { EMR_TAGS, JOB_RUN_NAME_PREFIX } from './build.js';
import { assertNever } from '../../../schema/vocabulary.js';

export const EMR_JOB_RUN_STATES = [
  'PENDING',
  'SUBMITTED',
  'RUNNING',
  'COMPLETED',
  'FAILED',
  'CANCEL_PENDING',
  'CANCELLED',
] as const;
export type EmrJobRunState = (typeof EMR_JOB_RUN_STATES)[number];

/**
 * The parts of a job run (DescribeJobRun's `jobRun`, or a ListJobRuns entry) this module reads. Plain strings
 * rather than the SDK's enums: a state or reason newer than this SDK must still map.
 */
export interface ObservedJobRun {
  id?: string;
  name?: string;
  state?: string;
  failureReason?: string;
  stateDetails?: string;
  tags?: Record<string, string>;
  finishedAt?: Date;
}

function isKnownState(state: string): state is EmrJobRunState {
  return (EMR_JOB_RUN_STATES as readonly string[]).includes(state);
}

/** The phase of a known EMR state (the table above). */
export function phaseOf(state: EmrJobRunState): RunPhase {
  switch (state) {
    case 'PENDING':
    case 'SUBMITTED':
      return 'PENDING';
    case 'RUNNING':
    case 'CANCEL_PENDING':
      return 'RUNNING';
    case 'COMPLETED':
      return 'SUCCEEDED';
    case 'FAILED':
      return 'FAILED';
    case 'CANCELLED':
      return 'CANCELLED';
    default:
      return assertNever(state);
  }
}

/** Whether a state is final or on its way there (CANCEL_PENDING): a run EMR will not cancel again. */
export function isStoppedState(state: string | undefined): boolean {
  return state === 'CANCEL_PENDING' || (state !== undefined && isKnownState(state) && isFinalPhase(phaseOf(state)));
}

/** What a FAILED run reports, in the fields the classifier reads. */
export function failureOf(jobRun: ObservedJobRun): FailureInfo {
  return {
    ...(jobRun.failureReason ? { reason: jobRun.failureReason } : {}),
    ...(jobRun.stateDetails ? { message: jobRun.stateDetails } : {}),
  };
}

/** The `RunStatus` of a job run as read now. */
export function runStatusOf(jobRun: ObservedJobRun, run: RunRef, observedAt: string, sparkUiUrl?: string): RunStatus {
  const base = {
    executionId: run.executionId,
    attempt: run.attempt,
    vendorRunId: run.vendorRunId,
    observedAt,
    ...(sparkUiUrl ? { sparkUiUrl } : {}),
  };
  const state = jobRun.state;
  if (!state) return { ...base, phase: 'PENDING', backendState: 'NoState' };
  if (!isKnownState(state)) return { ...base, phase: 'RUNNING', backendState: state };
  const phase = phaseOf(state);
  if (phase === 'FAILED') return { ...base, phase, backendState: state, failure: failureOf(jobRun) };
  return { ...base, phase, backendState: state };
}

/** The status of a run EMR no longer knows (wrong id, or a deleted virtual cluster): FAILED `VANISHED`. */
export function vanishedRunStatus(run: RunRef, observedAt: string): RunStatus {
  return {
    ...run,
    phase: 'FAILED',
    backendState: 'NotFound',
    observedAt,
    failure: { reason: 'VANISHED', message: `EMR has no job run ${run.vendorRunId} (ResourceNotFoundException)` },
  };
}

/** `<virtualClusterId>/<jobRunId>`: enough to find the run again with no other state. */
export function vendorRunIdOf(virtualClusterId: string, jobRunId: string): string {
  return `${virtualClusterId}/${jobRunId}`;
}

export function parseVendorRunId(vendorRunId: string): { virtualClusterId: string; jobRunId: string } {
  const [virtualClusterId, jobRunId, ...rest] = vendorRunId.split('/');
  if (!virtualClusterId || !jobRunId || rest.length > 0) {
    throw new Error(`not an EMR vendor run id: "${vendorRunId}"`);
  }
  return { virtualClusterId, jobRunId };
}

/**
 * The EMR console page of the virtual cluster, whose job runs tab lists the run with its Spark UI and logs. AWS
 * documents no address for a single job run; this one is the form AWS's samples print after StartJobRun
 * (e.g. aws-samples/sql-based-etl-on-amazon-eks: `console.aws.amazon.com/emr/home?#/eks/clusters/<id>`), with the
 * region made explicit.
 */
export function consoleUrlOf(region: string, virtualClusterId: string): string {
  return `https://${region}.console.aws.amazon.com/emr/home?region=${region}#/eks/clusters/${virtualClusterId}`;
}

/** The attempt a listed job run belongs to, from its name prefix and tags; undefined if it is not ours. */
export function runRefOf(jobRun: ObservedJobRun, virtualClusterId: string): RunRef | undefined {
  if (!jobRun.id || !jobRun.name?.startsWith(JOB_RUN_NAME_PREFIX)) return undefined;
  const executionId = jobRun.tags?.[EMR_TAGS.executionId];
  const attempt = Number(jobRun.tags?.[EMR_TAGS.attempt]);
  if (!executionId || !Number.isInteger(attempt)) return undefined;
  return { executionId, attempt, vendorRunId: vendorRunIdOf(virtualClusterId, jobRun.id) };
}
