/**
 * The retention sweep: one activity that removes what the retention policy no longer keeps (service/retention.ts),
 * started by the Temporal Schedule `retention-<task queue>`. Its result, shown in the Temporal UI, says what went.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { createRetentionActivities } from '../activities/retention.js';
import type { RetentionSweepResult } from './retention-definitions.js';

const sweeping = proxyActivities<ReturnType<typeof createRetentionActivities>>({
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumAttempts: 3 },
});

export async function retentionSweepWorkflow(): Promise<RetentionSweepResult> {
  return sweeping.sweepRetention();
}
