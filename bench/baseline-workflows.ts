/**
 * Bare-Temporal baselines for bench/lifecycle (workflow code, run in the sandbox): an empty workflow, and one that
 * runs three activities in a row. They measure what the server, the SDK and this machine can do with nothing of
 * Spark Runner's in the way, so the control plane's overhead is a ratio to them.
 */
import { proxyActivities } from '@temporalio/workflow';

/** The baseline activity: returns at once. */
export interface BaselineActivities {
  step(n: number): Promise<number>;
}

const { step } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '30 seconds' });

export async function emptyWorkflow(): Promise<void> {}

export async function threeActivityWorkflow(): Promise<number> {
  let n = 0;
  for (let i = 0; i < 3; i++) n = await step(n);
  return n;
}
