/**
 * The project's names for things, each declared once: job paths and job ids, every Temporal workflow and schedule
 * id with its inverse, the search attributes and the one helper that builds them, and `assertNever`. Pure: the
 * workflow sandbox, the API, the CLI and the Temporal set-up all import it.
 *
 * | name                 | form                                          | example                                       |
 * |----------------------|-----------------------------------------------|-----------------------------------------------|
 * | job path             | `<team>/<name>`                               | `data-infra/nightly-etl`                      |
 * | job id (REST)        | `<team>.<name>`                               | `data-infra.nightly-etl`                      |
 * | execution workflow   | `exec-<executionId>`                          | `exec-3f2a9c1d-…`                             |
 * | continuous-job loop  | `continuous-<team>.<name>`                    | `continuous-data-infra.clicks-stream`         |
 * | Temporal Schedule    | `sched-<team>.<name>`                         | `sched-data-infra.hourly-pi`                  |
 * | reaper               | `reap-<executionId>-<attempt>`                | `reap-3f2a9c1d-…-1`                           |
 * | retention sweep      | `retention-<task queue>` (schedule and runs)  | `retention-spark-runner`                      |
 * | Connect session      | `session-<sessionId>`                         | `session-7c1e0b2a-…`                          |
 * | warm pool            | `pool-<pool>` (`default` or `<team>.<name>`)  | `pool-data-infra.notebooks`                   |
 *
 * Team and job names are DNS labels, which never hold a dot or a slash, so every form above is reversible.
 */
import { defineSearchAttributeKey, SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { BackendName, ExecutionState, Trigger } from './states.js';

/** For `switch` statements over a union: a compile-time check that every case is handled. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface JobPathParts {
  team: string;
  name: string;
}

/** `<team>/<name>`. */
export function formatJobPath(team: string, name: string): string {
  return `${team}/${name}`;
}

/** The team and name of a job path, or undefined when it is not one. */
export function parseJobPath(jobPath: string): JobPathParts | undefined {
  const [team, name, ...rest] = jobPath.split('/');
  return team && name && rest.length === 0 && DNS_LABEL.test(team) && DNS_LABEL.test(name) ? { team, name } : undefined;
}

/** The team of a job path (its first segment). */
export function teamOfJobPath(jobPath: string): string {
  return jobPath.split('/')[0]!;
}

/** A job path with a dot in place of the slash: one URL segment, used by job ids and Temporal ids. */
function dotted(jobPath: string): string {
  return jobPath.replace('/', '.');
}

function undotted(value: string): string | undefined {
  const [team, name, ...rest] = value.split('.');
  return team && name && rest.length === 0 ? parseJobPath(`${team}/${name}`) && `${team}/${name}` : undefined;
}

/** The REST id of a job, `<team>.<name>` (`/api/v1/jobs/{jobId}`). */
export function jobIdOf(jobPath: string): string {
  return dotted(jobPath);
}

/** The job path of a job id, or undefined when `id` is not one. */
export function jobPathOfJobId(id: string): string | undefined {
  return undotted(id);
}

const EXEC = 'exec-';
const CONTINUOUS = 'continuous-';
const SCHEDULE = 'sched-';

/** The workflow id of an execution: `exec-<executionId>`. */
export function executionWorkflowId(executionId: string): string {
  return `${EXEC}${executionId}`;
}

/** The execution id of an execution workflow id, or undefined when `workflowId` is not one. */
export function executionIdOfWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith(EXEC) ? workflowId.slice(EXEC.length) : undefined;
}

/** The workflow id of a streaming job's continuous-job loop: `continuous-<team>.<name>`. */
export function continuousWorkflowId(jobPath: string): string {
  return `${CONTINUOUS}${dotted(jobPath)}`;
}

/** The job path of a continuous workflow id, or undefined when `id` is not one. */
export function jobPathOfContinuousId(id: string): string | undefined {
  return id.startsWith(CONTINUOUS) ? undotted(id.slice(CONTINUOUS.length)) : undefined;
}

/** The id of a batch job's Temporal Schedule: `sched-<team>.<name>`. */
export function scheduleIdOf(jobPath: string): string {
  return `${SCHEDULE}${dotted(jobPath)}`;
}

/** The job path of a schedule id, or undefined when `id` is not one. */
export function jobPathOfScheduleId(id: string): string | undefined {
  return id.startsWith(SCHEDULE) ? undotted(id.slice(SCHEDULE.length)) : undefined;
}

/**
 * The workflow id prefix of a schedule's runs. Temporal names each run `<prefix>-<nominal time, RFC 3339>`, and
 * the run then starts the execution as its child `exec-<executionId>` (workflows/execution.ts).
 */
export function scheduledRunWorkflowIdPrefix(jobPath: string): string {
  return executionWorkflowId(scheduleIdOf(jobPath));
}

/** The workflow id of the reaper of one attempt. */
export function reapWorkflowId(executionId: string, attempt: number): string {
  return `reap-${executionId}-${attempt}`;
}

const SESSION = 'session-';
const POOL = 'pool-';

/** The workflow id of an interactive Spark Connect session: `session-<sessionId>`. */
export function sessionWorkflowId(sessionId: string): string {
  return `${SESSION}${sessionId}`;
}

/** The session id of a session workflow id, or undefined when `workflowId` is not one. */
export function sessionIdOfWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith(SESSION) ? workflowId.slice(SESSION.length) : undefined;
}

/** The name of a team's warm pool: `<team>.<name>` (the default pool is plain `default`). */
export function teamPoolName(team: string, name: string): string {
  return `${team}.${name}`;
}

/** The workflow id of a warm pool: `pool-<pool>`. */
export function poolWorkflowId(pool: string): string {
  return `${POOL}${pool}`;
}

/**
 * The id of the retention sweep's Temporal Schedule (service/retention.ts), one per task queue; its runs are
 * named `<id>-<RFC 3339 time>` by Temporal.
 */
export function retentionScheduleId(taskQueue: string): string {
  return `retention-${taskQueue}`;
}

export const SA_TEAM = defineSearchAttributeKey('Team', SearchAttributeType.KEYWORD);
export const SA_JOB_PATH = defineSearchAttributeKey('JobPath', SearchAttributeType.KEYWORD);
export const SA_STATE = defineSearchAttributeKey('ExecutionState', SearchAttributeType.KEYWORD);
export const SA_BACKEND = defineSearchAttributeKey('Backend', SearchAttributeType.KEYWORD);
export const SA_TRIGGER = defineSearchAttributeKey('Trigger', SearchAttributeType.KEYWORD);
/** Set by Temporal on every run a Schedule starts: the time the run was scheduled for (jitter included). */
export const SA_SCHEDULED_START_TIME = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

/** The custom search attributes Spark Runner sets, which a Temporal set-up must register (by name and type). */
export const SEARCH_ATTRIBUTES = [SA_TEAM, SA_JOB_PATH, SA_STATE, SA_BACKEND, SA_TRIGGER].map((key) => ({
  name: key.name,
  type: key.type,
}));

export interface SearchAttributeValues {
  team?: string;
  jobPath?: string;
  state?: ExecutionState;
  backend?: BackendName;
  trigger?: Trigger;
}

/** The typed search attributes for the values given, in one fixed order; the only place they are built. */
export function searchAttributes(values: SearchAttributeValues): SearchAttributePair[] {
  const pairs: SearchAttributePair[] = [];
  if (values.team !== undefined) pairs.push({ key: SA_TEAM, value: values.team });
  if (values.jobPath !== undefined) pairs.push({ key: SA_JOB_PATH, value: values.jobPath });
  if (values.state !== undefined) pairs.push({ key: SA_STATE, value: values.state });
  if (values.backend !== undefined) pairs.push({ key: SA_BACKEND, value: values.backend });
  if (values.trigger !== undefined) pairs.push({ key: SA_TRIGGER, value: values.trigger });
  return pairs;
}
