/** The retention sweep as an activity (service/retention.ts does the work), heartbeating while it runs. */
import { heartbeat } from '@temporalio/activity';
import { sweepRetention, type RetentionPolicy, type SweepDeps } from '../service/retention.js';
import type { RetentionSweepResult } from '../workflows/retention-definitions.js';

export function createRetentionActivities(deps: SweepDeps & { policy: RetentionPolicy }) {
  return {
    async sweepRetention(): Promise<RetentionSweepResult> {
      const beat = setInterval(() => heartbeat(), 10_000);
      try {
        return await sweepRetention(deps, deps.policy);
      } finally {
        clearInterval(beat);
      }
    },
  };
}
