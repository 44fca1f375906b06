/**
 * The retention sweep workflow's name and result, shared by the workflow, the schedule that starts it
 * (service/retention.ts) and tests. Pure.
 */
export const RETENTION_WORKFLOW = 'retentionSweepWorkflow';

/** What one sweep removed (service/retention.ts `SweepReport`), shown as the workflow's result. */
export interface RetentionSweepResult {
  archivedLogs: number;
  eventLogs: number;
  runDirs: number;
  liveRunDirs: number;
  executions: number;
  /** Job events (job_events) past the execution retention; each job keeps its newest transitions. */
  jobEvents: number;
}
