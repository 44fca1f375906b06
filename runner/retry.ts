/**
 * AR retry planner: given a classified failure, decides whether to start another attempt, when, and with what
 * resources. Pure (it runs in the workflow sandbox); it never mutates its input.
 *
 * Contract, checked in this order:
 * 1. A class that is not retriable (USER_ERROR, TIMEOUT, UNKNOWN) is never retried.
 * 2. `attempt` counts from 1 and includes the first try; once `attempt >= maxAttempts` there is no retry.
 * 3. OOM grows the memory of the JVM that ran out (`oomTarget`, executor when absent) by `memoryFactor`,
 *    rounded up to a whole MiB and capped at `maxMemoryMb`. If it cannot grow (already at or above the cap, or a
 *    factor that does not increase it), the attempt is not retried: the same memory would fail the same way.
 *    Whole MiB, not a coarser step: Spark and Kubernetes accept any MiB value, and "50% more" stays exactly
 *    that (1024 → 1536 → 2304). Spark derives memoryOverhead from memory, so off-heap grows with it.
 * 4. Backoff before attempt n+1 is `backoffSeconds × 2^(n-1)`, capped at {@link MAX_BACKOFF_MS}.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { Classification, OomTarget } from './classify.js';

export type JobResources = NormalizedJobSpec['resources'];

/** No single backoff waits longer than this, whatever the retry policy says. */
export const MAX_BACKOFF_MS = 10 * 60 * 1000;

export interface RetryInput {
  /** The resources the failed attempt ran with. */
  spec: JobResources;
  /** The attempt that just failed, counted from 1. */
  attempt: number;
  /** Attempts in all, counting the first (the job's retryPolicy.maxAttempts). */
  maxAttempts: number;
  /** Backoff before the second attempt (the job's retryPolicy.backoffSeconds). */
  backoffSeconds: number;
  classification: Classification;
  /** How much more memory an OOM-killed JVM gets next time, e.g. 1.5. */
  memoryFactor: number;
  /** An OOM retry never asks for more than this per driver or executor. */
  maxMemoryMb: number;
}

export type RetryPlan =
  | { retry: false; reason: string }
  | {
      retry: true;
      nextAttempt: number;
      delayMs: number;
      /** The resources for the next attempt: a new object, equal to the input unless `change` says otherwise. */
      resources: JobResources;
      /** What changed, for the RETRY event, e.g. "executor memory 1024 MiB → 1536 MiB". */
      change?: string;
    };

/** Plans the next attempt after a failure, or explains why there is none. */
export function planRetry(input: RetryInput): RetryPlan {
  const { classification, attempt, maxAttempts } = input;
  const what = `${classification.failureClass}: ${classification.summary}`;
  if (!classification.retriable) {
    return { retry: false, reason: `${classification.failureClass} is not retried (${classification.summary})` };
  }
  if (attempt >= maxAttempts) {
    return { retry: false, reason: `no attempts left: attempt ${attempt} of ${maxAttempts} failed (${what})` };
  }
  const next = { retry: true as const, nextAttempt: attempt + 1, delayMs: backoffMs(input.backoffSeconds, attempt) };
  if (classification.failureClass !== 'OOM') return { ...next, resources: copyResources(input.spec) };

  const target = classification.oomTarget ?? 'executor';
  const grown = growMemory(input.spec[target].memoryMb, input.memoryFactor, input.maxMemoryMb);
  if (!grown.ok) return { retry: false, reason: `${target} ${grown.why}, so an OOM retry would fail the same way` };
  const change = `${target} memory ${input.spec[target].memoryMb} MiB → ${grown.memoryMb} MiB${
    grown.capped ? ` (capped at ${input.maxMemoryMb} MiB)` : ''
  }`;
  return { ...next, resources: withMemory(input.spec, target, grown.memoryMb), change };
}

/** The wait before attempt `attempt + 1`: `backoffSeconds × 2^(attempt-1)` in ms, capped at MAX_BACKOFF_MS. */
export function backoffMs(backoffSeconds: number, attempt: number): number {
  const ms = backoffSeconds * 1000 * 2 ** Math.max(0, attempt - 1);
  return Math.min(MAX_BACKOFF_MS, Math.max(0, Math.round(ms)));
}

type Growth = { ok: true; memoryMb: number; capped: boolean } | { ok: false; why: string };

function growMemory(currentMb: number, factor: number, maxMb: number): Growth {
  if (currentMb >= maxMb) {
    return { ok: false, why: `memory is already ${currentMb} MiB, at or above the ${maxMb} MiB cap for OOM retries` };
  }
  // The epsilon keeps float noise (1000 × 1.15 = 1150.0000000000002) from adding a MiB.
  const wanted = Math.ceil(currentMb * factor - 1e-9);
  const memoryMb = Math.min(maxMb, wanted);
  if (!(memoryMb > currentMb)) {
    return { ok: false, why: `memory ${currentMb} MiB would not grow with a memory factor of ${factor}` };
  }
  return { ok: true, memoryMb, capped: memoryMb < wanted };
}

function copyResources(spec: JobResources): JobResources {
  return {
    ...spec,
    driver: { ...spec.driver },
    executor: { ...spec.executor },
    ...(spec.dynamicAllocation ? { dynamicAllocation: { ...spec.dynamicAllocation } } : {}),
  };
}

function withMemory(spec: JobResources, target: OomTarget, memoryMb: number): JobResources {
  const copy = copyResources(spec);
  copy[target].memoryMb = memoryMb;
  return copy;
}
