/**
 * The sim backend's lifecycle as pure functions of time: a run is PENDING until `runningAfterMs`, RUNNING until
 * `endAfterMs`, then its scripted outcome. Keeping it pure makes status() exact and cheap for thousands of runs.
 */
import type { FailureInfo, RunPhase } from '../../backend.js';
import type { NormalizedJobSpec } from '../../../schema/job-spec.js';

export type SimAttemptScript = NonNullable<NormalizedJobSpec['sim']>['attempts'][number];

/** What a run does when the spec has no `sim` script: start after 50 ms, succeed after 200 ms. */
export const DEFAULT_SIM_ATTEMPT: SimAttemptScript = {
  runningAfterMs: 50,
  endAfterMs: 200,
  outcome: 'SUCCEEDED',
  dropSignals: false,
};

/** The script of attempt N (1-based): entry N-1, and the last entry repeats for later attempts. */
export function scriptForAttempt(spec: NormalizedJobSpec, attempt: number): SimAttemptScript {
  const attempts = spec.sim?.attempts;
  if (!attempts || attempts.length === 0) return DEFAULT_SIM_ATTEMPT;
  return attempts[Math.min(attempt, attempts.length) - 1] ?? DEFAULT_SIM_ATTEMPT;
}

/** The phase `elapsedMs` after submit; a cancelled run stays CANCELLED. */
export function phaseAt(script: SimAttemptScript, elapsedMs: number, cancelled: boolean): RunPhase {
  if (cancelled) return 'CANCELLED';
  if (elapsedMs >= script.endAfterMs) return script.outcome;
  if (elapsedMs >= script.runningAfterMs) return 'RUNNING';
  return 'PENDING';
}

/** The failure reported when a scripted attempt fails. */
export function scriptedFailure(script: SimAttemptScript): FailureInfo {
  return script.failure ?? { exitCode: 1, reason: 'SIMULATED', message: 'simulated failure' };
}
