/**
 * The reaper: stops an attempt the execution gave up on while its backend could not be reached (a cancel, a
 * deadline, or a running attempt whose cluster stayed unreachable). It outlives the execution (started with
 * parent-close policy ABANDON), so the execution can end at once while this keeps asking the backend to cancel
 * the run, until it answers or a week has passed. Cancel is idempotent on every backend, and finds the run from
 * the attempt's recorded placement even without a run id.
 *
 * Until it answers, the abandoned run and the attempt that replaced it may both be running (README: "EMR and
 * the Spark Gateway").
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { ReapInput } from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

const reaping = proxyActivities<Pick<Activities, 'cancelRun'>>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '7 days',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

export async function reapAttemptWorkflow(input: ReapInput): Promise<void> {
  await reaping.cancelRun(input);
}
