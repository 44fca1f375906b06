/**
 * The kinds of job-level event (job_events): what a streaming job's continuous loop records about itself, beside
 * each run's own execution events. Pure, so the workflow sandbox, the API's wire shapes and Postgres share it.
 *
 * | kind              | when                                                                                |
 * |-------------------|-------------------------------------------------------------------------------------|
 * | RUN_STARTED       | the loop started a run (an execution, trigger `continuous`)                         |
 * | RESTART_SCHEDULED | a run ended on its own; the loop restarts it after the backoff                      |
 * | DEGRADED          | too many failures within the crash-loop window: no restart until resume or new spec |
 * | REDEPLOYED        | a new spec version (manifest re-apply) replaced the run                             |
 * | RESIZED           | new resources (REST, resize signal, or DCR's own policy) replaced the run           |
 * | STOPPED           | a stop request ended the run; the loop idles                                        |
 * | RESUMED           | a resume left STOPPED or DEGRADED                                                   |
 * | SAMPLE            | one streaming-progress sample of the live run (input and processing rows/s, batch)  |
 */
export const JOB_EVENT_TYPES = [
  'RUN_STARTED',
  'RESTART_SCHEDULED',
  'DEGRADED',
  'REDEPLOYED',
  'RESIZED',
  'STOPPED',
  'RESUMED',
  'SAMPLE',
] as const;
export type JobEventType = (typeof JOB_EVENT_TYPES)[number];
