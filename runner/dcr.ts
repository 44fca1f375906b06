/**
 * DCR (Dynamic Cluster Resizing) for streaming jobs: decides, from the live run's streaming-progress samples,
 * whether the continuous loop should resize the job by a controlled restart from its checkpoint. Pure and
 * deterministic: no I/O and no clock (the loop passes `now`, its workflow time), so the workflow may call it and
 * replay it. The loop feeds it one sample at a time and carries its `DcrState` (continue-as-new included).
 *
 * The contract. Rates are the Structured Streaming query progress's, summed over the run's queries: input rows/s
 * (rows that arrived per second since the previous batch) and processed rows/s (rows per second of batch time).
 *
 * | #  | rule            | what                                                                                     |
 * |----|-----------------|------------------------------------------------------------------------------------------|
 * | 1  | lagging sample  | input ≥ `minInputRowsPerSecond` (1) and processed < `lagRatio` (0.8) × input; an idle    |
 * |    |                 | stream (no input) is never lagging                                                       |
 * | 2  | lag streak      | lagging samples in a row; a sample that is not lagging resets it; a new run starts at 0  |
 * | 3  | add executors   | the streak reaches `lagSamples` (3): executors = max(n + 1, ⌈n × input / processed⌉),    |
 * |    |                 | capped at the team's TEAM_RESOURCE_LIMITS executors; with dynamic allocation the same   |
 * |    |                 | for maxExecutors (minExecutors kept). The streak restarts at 0                           |
 * | 4  | at the cap      | rule 3 with executors already at the team cap: no resize, the reason says so             |
 * | 5  | drift (auto)    | `sizing: auto` and APS's recommendation given: drift = the largest relative difference   |
 * |    |                 | \|recommended − running\| / running over driver and executor memory and cores, executor |
 * |    |                 | count (and maxExecutors); drift > `driftThreshold` (0.2) → resize to the recommendation |
 * |    |                 | (capped); rule 3 wins when both apply                                                    |
 * | 6  | cool-down       | a DCR resize (rule 3 or 5) only if none happened within `cooldownMs` (DCR_COOLDOWN_S,    |
 * |    |                 | 30 min): one policy-driven restart per cool-down at most; a lag streak keeps counting    |
 * |    |                 | through it and acts once the cool-down is over. Resizes by REST or manifest are not      |
 * |    |                 | DCR's and do not start a cool-down                                                       |
 */
import type { JobResources, SizingMode, TeamCaps } from './aps.js';

/** One streaming-progress sample of a live run. */
export interface ProgressSample {
  inputRowsPerSecond: number;
  processedRowsPerSecond: number;
  /** The last batch's duration (trigger execution), ms; the largest over the run's queries. */
  batchDurationMs: number;
  /** How many streaming queries the driver reported. */
  queries: number;
}

/** The numbers the rules use; from settings (config/index.ts, STREAMING_SAMPLE_* and DCR_*). */
export interface DcrSettings {
  lagRatio: number;
  lagSamples: number;
  minInputRowsPerSecond: number;
  driftThreshold: number;
  cooldownMs: number;
}

export const DEFAULT_DCR_SETTINGS: DcrSettings = {
  lagRatio: 0.8,
  lagSamples: 3,
  minInputRowsPerSecond: 1,
  driftThreshold: 0.2,
  cooldownMs: 30 * 60_000,
};

/** What the loop carries between samples. */
export interface DcrState {
  /** Lagging samples in a row (rule 2). */
  lagging: number;
  /** Epoch ms of the last DCR resize (rule 6). */
  lastResizeAt?: number;
}

export const INITIAL_DCR_STATE: DcrState = { lagging: 0 };

export interface DcrInput {
  state: DcrState;
  sample: ProgressSample;
  /** What the live run has. */
  running: JobResources;
  caps: TeamCaps;
  sizing: SizingMode;
  /** APS's recommendation for the job now; only read in `auto`. */
  recommended?: JobResources;
  settings: DcrSettings;
  /** Epoch ms (workflow time). */
  now: number;
}

export type DcrRule = 'lag' | 'drift';

export type DcrDecision =
  | { kind: 'keep'; state: DcrState; lagging: boolean; reason: string }
  | { kind: 'resize'; state: DcrState; lagging: boolean; rule: DcrRule; resources: JobResources; reason: string };

/** Rule 1. */
export function isLagging(sample: ProgressSample, settings: DcrSettings): boolean {
  return (
    sample.inputRowsPerSecond >= settings.minInputRowsPerSecond &&
    sample.processedRowsPerSecond < settings.lagRatio * sample.inputRowsPerSecond
  );
}

const fmt = (n: number) => (Math.round(n * 10) / 10).toString();

/** When the cool-down after the last DCR resize ends (rule 6), if it has not yet at `now`. */
export function coolingUntil(state: DcrState, settings: DcrSettings, now: number): number | undefined {
  if (state.lastResizeAt === undefined) return undefined;
  const until = state.lastResizeAt + settings.cooldownMs;
  return now < until ? until : undefined;
}

/** Decides what one sample means for the job: keep its size, or resize it (and why). */
export function decideDcr(input: DcrInput): DcrDecision {
  const { sample, settings, now } = input;
  const lagging = isLagging(sample, settings);
  const streak = lagging ? input.state.lagging + 1 : 0;
  const cooledAt = coolingUntil(input.state, settings, now);
  const rates = `processed ${fmt(sample.processedRowsPerSecond)} rows/s against input ${fmt(sample.inputRowsPerSecond)} rows/s`;

  if (streak >= settings.lagSamples) {
    const lagReason = `${streak} samples in a row below ${settings.lagRatio} × the input rate (${rates})`;
    if (cooledAt !== undefined) {
      return {
        kind: 'keep',
        lagging,
        state: { ...input.state, lagging: streak },
        reason: `${lagReason}; in the cool-down until ${new Date(cooledAt).toISOString()}`,
      };
    }
    const grown = addExecutors(input.running, sample, input.caps);
    if (!grown) {
      return {
        kind: 'keep',
        lagging,
        state: { ...input.state, lagging: 0 },
        reason: `${lagReason}; already at the team's limit of ${input.caps.executors} executors`,
      };
    }
    return {
      kind: 'resize',
      rule: 'lag',
      lagging,
      state: { lagging: 0, lastResizeAt: now },
      resources: grown.resources,
      reason: `${lagReason}: ${grown.what}`,
    };
  }

  const state: DcrState = { ...input.state, lagging: streak };
  if (input.sizing === 'auto' && input.recommended) {
    const target = capped(input.recommended, input.caps);
    const d = drift(input.running, target);
    if (d.value > settings.driftThreshold) {
      const driftReason = `APS's recommendation drifted ${Math.round(d.value * 100)}% (${d.field}) past the ${Math.round(settings.driftThreshold * 100)}% threshold`;
      if (cooledAt !== undefined) {
        return {
          kind: 'keep',
          lagging,
          state,
          reason: `${driftReason}; in the cool-down until ${new Date(cooledAt).toISOString()}`,
        };
      }
      return {
        kind: 'resize',
        rule: 'drift',
        lagging,
        state: { lagging: 0, lastResizeAt: now },
        resources: target,
        reason: driftReason,
      };
    }
  }
  return {
    kind: 'keep',
    lagging,
    state,
    reason: lagging ? `lagging (${streak} of ${settings.lagSamples}): ${rates}` : `keeping up: ${rates}`,
  };
}

/** Rule 3: the executors (or dynamic-allocation max) the lag asks for, capped; undefined at the cap. */
function addExecutors(
  running: JobResources,
  sample: ProgressSample,
  caps: TeamCaps,
): { resources: JobResources; what: string } | undefined {
  const ratio = sample.processedRowsPerSecond > 0 ? sample.inputRowsPerSecond / sample.processedRowsPerSecond : 2;
  const want = (n: number) => Math.min(caps.executors, Math.max(n + 1, Math.ceil(n * ratio)));
  const dyn = running.dynamicAllocation;
  if (dyn?.enabled) {
    const max = want(dyn.maxExecutors);
    if (max <= dyn.maxExecutors) return undefined;
    return {
      resources: { ...running, dynamicAllocation: { ...dyn, maxExecutors: max } },
      what: `dynamic-allocation maxExecutors ${dyn.maxExecutors} → ${max}`,
    };
  }
  const n = running.executor.instances;
  const next = want(n);
  if (next <= n) return undefined;
  return {
    resources: { ...running, executor: { ...running.executor, instances: next } },
    what: `executors ${n} → ${next}`,
  };
}

/** Rule 5's drift: the largest relative difference, and the field it is in. */
export function drift(running: JobResources, target: JobResources): { value: number; field: string } {
  const pairs: [string, number, number][] = [
    ['driver.memory', running.driver.memoryMb, target.driver.memoryMb],
    ['driver.cores', running.driver.cores, target.driver.cores],
    ['executor.memory', running.executor.memoryMb, target.executor.memoryMb],
    ['executor.cores', running.executor.cores, target.executor.cores],
    ['executor.instances', running.executor.instances, target.executor.instances],
  ];
  if (running.dynamicAllocation && target.dynamicAllocation) {
    pairs.push([
      'dynamicAllocation.maxExecutors',
      running.dynamicAllocation.maxExecutors,
      target.dynamicAllocation.maxExecutors,
    ]);
  }
  let best = { value: 0, field: 'none' };
  for (const [field, from, to] of pairs) {
    const value = Math.abs(to - from) / Math.max(from, 1);
    if (value > best.value) best = { value, field: `${field} ${from} → ${to}` };
  }
  return best;
}

/** Rule 6 of APS, again: nothing above the team's caps. */
function capped(r: JobResources, caps: TeamCaps): JobResources {
  return {
    ...r,
    driver: {
      cores: Math.min(r.driver.cores, caps.driverCores),
      memoryMb: Math.min(r.driver.memoryMb, caps.driverMemoryMb),
    },
    executor: {
      cores: Math.min(r.executor.cores, caps.executorCores),
      memoryMb: Math.min(r.executor.memoryMb, caps.executorMemoryMb),
      instances: Math.min(r.executor.instances, caps.executors),
    },
    ...(r.dynamicAllocation
      ? {
          dynamicAllocation: {
            ...r.dynamicAllocation,
            maxExecutors: Math.min(r.dynamicAllocation.maxExecutors, caps.executors),
            minExecutors: Math.min(r.dynamicAllocation.minExecutors, caps.executors),
          },
        }
      : {}),
  };
}
