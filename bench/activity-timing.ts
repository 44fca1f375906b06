/**
 * Where a workflow's activity time goes: an activity interceptor for the worker that records how long each
 * activity and local activity takes to run (in the worker, from the call to its result), by type.
 */
import type { WorkerInterceptors } from '@temporalio/worker';
import { percentile } from './stats.js';

export interface ActivityTimer {
  interceptors: Pick<WorkerInterceptors, 'activity'>;
  /** Forgets what was recorded (after a warm-up or another benchmark). */
  reset(): void;
  /** One row per activity type, the most total time first: calls, total, p50 and p99. */
  rows(): [string, string][];
}

export function activityTimer(): ActivityTimer {
  const samples = new Map<string, number[]>();
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: {
            async execute(input, next) {
              const started = performance.now();
              try {
                return await next(input);
              } finally {
                const key = `${ctx.info.isLocal ? 'local activity' : 'activity'} ${ctx.info.activityType}`;
                const list = samples.get(key) ?? [];
                list.push(performance.now() - started);
                samples.set(key, list);
              }
            },
          },
        }),
      ],
    },
    reset: () => samples.clear(),
    rows() {
      const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
      return [...samples.entries()]
        .sort((a, b) => sum(b[1]) - sum(a[1]))
        .map(([key, xs]) => [
          key,
          `${xs.length} calls, ${(sum(xs) / 1000).toFixed(1)} s in all, p50 ${percentile(xs, 50)} ms, p99 ${percentile(xs, 99)} ms`,
        ]);
    },
  };
}
