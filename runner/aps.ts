/**
 * APS (Auto Parameter Selection): sizes a job's next run from its execution history. Pure: the store reads the
 * history (service/sizing.ts), this module only decides. No I/O, no clock (the caller passes `now`).
 *
 * Input: the job's recent finished executions, newest first, each with the resources its last attempt ran with,
 * the grants that ran out of memory (AR's OOM retries, or a final OOM), and its last attempt's METRICS_SUMMARY
 * Spark metrics (schema/metrics-summary.ts). Output: driver and executor memory, cores and executor count (and the
 * dynamic-allocation bounds when the job uses them), each with a reason, and a confidence.
 *
 * The contract. "The worker JVM" is the one that runs the tasks and whose peaks the metrics measure: the driver on
 * the local backend (its executors live inside the driver JVM), the executors elsewhere. Rules for each memory
 * field are applied in this order; the value is the largest of rows 2–4 (row 5 may lower it), then row 6 caps it.
 *
 * | #  | field                 | rule                                                                                |
 * |----|-----------------------|-------------------------------------------------------------------------------------|
 * | 1  | all                   | history = the last `historyLimit` (20) finished executions within `historyDays`     |
 * |    |                       | (30); with none, every field keeps the requested value and confidence is 0          |
 * | 2  | worker JVM memory     | peak = the largest `peak_jvm_heap_bytes` of the successful runs (max, not mean:    |
 * |    |                       | a spike once is a spike again); target = peak × `headroom` (1.25), rounded up to    |
 * |    |                       | `roundMb` (256 MiB)                                                                  |
 * |    |                       | memory pressure: a successful run that spilled to disk or spent more than          |
 * |    |                       | `gcPressure` (10%) of task time in GC also asks for its grant × headroom           |
 * | 3  | driver, executor mem  | never below the grant of the newest successful run (what last succeeded)           |
 * | 4  | driver, executor mem  | after an OOM: at least the smallest successful grant above the largest grant that  |
 * |    |                       | ran out (the size AR's remediation found to work), else that grant × `oomFactor`    |
 * |    |                       | (AR_OOM_MEMORY_FACTOR) rounded up to `roundMb`                                       |
 * | 5  | driver, executor mem  | over-provisioned: the newest `downsizeAfter` (5) executions all succeeded, none     |
 * |    |                       | ran out of memory, and each peaked under `underuseFraction` (50%) of its grant:     |
 * |    |                       | lowered to max(row 2 target, grant × (1 − `maxDownsize` (10%))), never below row 4 |
 * | 6  | all                   | capped at the team's TEAM_RESOURCE_LIMITS (the reason says so)                      |
 * | 7  | cores                 | kept from the newest successful run, else the request                              |
 * | 8  | executor count        | kept from the newest successful run, else the request. With dynamic allocation:    |
 * |    |                       | maxExecutors = the most executors a successful run used × headroom, rounded up,    |
 * |    |                       | never below the request's minExecutors nor above the team cap                      |
 *
 * confidence = min(1, n / `confidenceAt` (10)), n = successful runs with Spark metrics in the history: 0 without
 * evidence, 1 once ten measured runs agree. A field decided by row 4 alone (an OOM, no metrics) is reported with
 * the confidence of the whole recommendation; the reason names the evidence.
 */
import type { NormalizedJobSpec } from '../schema/job-spec.js';
import type { SparkMetrics } from '../schema/metrics-summary.js';

export type JobResources = NormalizedJobSpec['resources'];
export type SizingMode = 'manual' | 'recommend' | 'auto';
export type MemoryTarget = 'driver' | 'executor';

/** The numbers the rules use; all from settings (config/index.ts, APS_*). */
export interface ApsSettings {
  historyLimit: number;
  historyDays: number;
  headroom: number;
  roundMb: number;
  downsizeAfter: number;
  underuseFraction: number;
  maxDownsize: number;
  oomFactor: number;
  gcPressure: number;
  confidenceAt: number;
}

export const DEFAULT_APS_SETTINGS: ApsSettings = {
  historyLimit: 20,
  historyDays: 30,
  headroom: 1.25,
  roundMb: 256,
  downsizeAfter: 5,
  underuseFraction: 0.5,
  maxDownsize: 0.1,
  oomFactor: 1.5,
  gcPressure: 0.1,
  confidenceAt: 10,
};

/** A team's caps (TEAM_RESOURCE_LIMITS): per driver and executor, and executors in all. */
export interface TeamCaps {
  driverMemoryMb: number;
  driverCores: number;
  executorMemoryMb: number;
  executorCores: number;
  executors: number;
}

/** One finished execution, as APS sees it. */
export interface SizingSample {
  executionId: string;
  state: 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
  /** Where it ran; decides which JVM the metrics describe. */
  backend: string | null;
  /** What its last attempt ran with. */
  resources: JobResources;
  /** Each grant that ran out of memory in it, in attempt order. */
  ooms: { target: MemoryTarget; memoryMb: number }[];
  /** Its last attempt's Spark metrics, when they could be read. */
  metrics: SparkMetrics | null;
}

/** What APS decided for one execution: recorded in its SUBMIT event (`sizing`) and shown by dry-run. */
export interface SizingDecision {
  mode: Exclude<SizingMode, 'manual'>;
  /** True in `auto`: the execution runs with `resources`. */
  applied: boolean;
  /** The spec's own resources. */
  requested: JobResources;
  /** APS's resources (what runs, when applied). */
  resources: JobResources;
  /** One line per changed field, with its reason; empty when APS agrees with the request. */
  changes: string[];
  confidence: number;
  samples: number;
}

export interface FieldAdvice<T> {
  value: T;
  /** What the request (or the job's spec) asked for. */
  requested: T;
  reason: string;
}

export interface Recommendation {
  driverMemoryMb: FieldAdvice<number>;
  driverCores: FieldAdvice<number>;
  executorMemoryMb: FieldAdvice<number>;
  executorCores: FieldAdvice<number>;
  executorInstances: FieldAdvice<number>;
  /** Present when the request uses dynamic allocation. */
  dynamicAllocation?: FieldAdvice<{ minExecutors: number; maxExecutors: number }>;
  /** In [0, 1]: min(1, measured successful runs / confidenceAt). */
  confidence: number;
  /** How many executions the rules looked at, and how many were measured successes. */
  samples: number;
  measured: number;
  /** The recommended resources, in the JobSpec's shape. */
  resources: JobResources;
}

export interface RecommendInput {
  requested: JobResources;
  /** Newest first; only the first `historyLimit` are read (the caller filters by `historyDays`). */
  history: readonly SizingSample[];
  caps: TeamCaps;
  settings: ApsSettings;
}

const MIB = 1024 * 1024;

/** Rounds up to a multiple of `step` MiB. */
export function roundUpMb(mb: number, step: number): number {
  return Math.ceil(mb / step - 1e-9) * step;
}

/** Which JVM runs the tasks on a backend: the driver on local Spark, the executors elsewhere. */
export function workerJvm(backend: string | null): MemoryTarget {
  return backend === 'local' ? 'driver' : 'executor';
}

export function recommend(input: RecommendInput): Recommendation {
  const { requested, caps, settings } = input;
  const history = input.history.slice(0, settings.historyLimit);
  const successes = history.filter((h) => h.state === 'SUCCEEDED');
  const measured = successes.filter((h) => h.metrics !== null).length;
  const confidence = Math.round(Math.min(1, measured / settings.confidenceAt) * 100) / 100;
  const newestSuccess = successes[0];

  const memory = (target: MemoryTarget): FieldAdvice<number> => {
    const cap = target === 'driver' ? caps.driverMemoryMb : caps.executorMemoryMb;
    const wanted = requested[target].memoryMb;
    if (history.length === 0)
      return capped({ value: wanted, requested: wanted, reason: 'no history: as requested' }, cap);
    return capped(memoryFor(target, wanted, history, settings), cap);
  };

  const cores = (target: MemoryTarget): FieldAdvice<number> => {
    const wanted = requested[target].cores;
    const cap = target === 'driver' ? caps.driverCores : caps.executorCores;
    const advice = newestSuccess
      ? { value: newestSuccess.resources[target].cores, requested: wanted, reason: 'as the newest successful run' }
      : {
          value: wanted,
          requested: wanted,
          reason: history.length ? 'no successful run: as requested' : 'no history: as requested',
        };
    return capped(advice, cap);
  };

  const instances = capped(
    newestSuccess
      ? {
          value: newestSuccess.resources.executor.instances,
          requested: requested.executor.instances,
          reason: 'as the newest successful run',
        }
      : { value: requested.executor.instances, requested: requested.executor.instances, reason: 'as requested' },
    caps.executors,
  );

  const driverMemoryMb = memory('driver');
  const executorMemoryMb = memory('executor');
  const driverCores = cores('driver');
  const executorCores = cores('executor');
  const dynamicAllocation = requested.dynamicAllocation
    ? dynamicBounds(requested.dynamicAllocation, successes, caps, settings)
    : undefined;

  const resources: JobResources = {
    driver: { cores: driverCores.value, memoryMb: driverMemoryMb.value },
    executor: { cores: executorCores.value, memoryMb: executorMemoryMb.value, instances: instances.value },
    ...(requested.dynamicAllocation && dynamicAllocation
      ? { dynamicAllocation: { ...requested.dynamicAllocation, ...dynamicAllocation.value } }
      : {}),
  };
  return {
    driverMemoryMb,
    driverCores,
    executorMemoryMb,
    executorCores,
    executorInstances: instances,
    ...(dynamicAllocation ? { dynamicAllocation } : {}),
    confidence,
    samples: history.length,
    measured,
    resources,
  };
}

/** Rows 2–5 for one JVM's memory. */
function memoryFor(
  target: MemoryTarget,
  requestedMb: number,
  history: readonly SizingSample[],
  s: ApsSettings,
): FieldAdvice<number> {
  const successes = history.filter((h) => h.state === 'SUCCEEDED');
  const candidates: { mb: number; reason: string }[] = [];

  // Row 2: the measured peak of the JVM that ran the tasks, with headroom; and memory pressure.
  const measured = successes.filter((h) => h.metrics && workerJvm(h.backend) === target);
  const peakBytes = Math.max(0, ...measured.map((h) => h.metrics!.peak_jvm_heap_bytes));
  const peakTarget = peakBytes > 0 ? roundUpMb((peakBytes / MIB) * s.headroom, s.roundMb) : undefined;
  if (peakTarget !== undefined) {
    candidates.push({
      mb: peakTarget,
      reason: `peak heap ${Math.round(peakBytes / MIB)} MiB over ${measured.length} successful run(s) × ${s.headroom} headroom, rounded up to ${s.roundMb} MiB`,
    });
  }
  const pressured = measured.find((h) => pressure(h.metrics!, s) !== undefined);
  if (pressured) {
    candidates.push({
      mb: roundUpMb(pressured.resources[target].memoryMb * s.headroom, s.roundMb),
      reason: `memory pressure in execution ${pressured.executionId} (${pressure(pressured.metrics!, s)}): its grant × ${s.headroom}`,
    });
  }

  // Row 3: never below what last succeeded.
  const last = successes[0];
  if (last) {
    candidates.push({ mb: last.resources[target].memoryMb, reason: 'what the newest successful run was given' });
  }

  // Row 4: after an OOM, the size that worked, or more than the size that failed.
  const ooms = history.flatMap((h) => h.ooms.filter((o) => o.target === target));
  const oomFloor = ooms.length ? floorAfterOom(target, ooms, successes, s) : undefined;
  if (oomFloor) candidates.push(oomFloor);

  if (candidates.length === 0) {
    return { value: requestedMb, requested: requestedMb, reason: 'no successful or out-of-memory run: as requested' };
  }
  let best = candidates.reduce((a, b) => (b.mb > a.mb ? b : a));

  // Row 5: over-provisioned for `downsizeAfter` runs in a row: lower by at most maxDownsize.
  const recent = history.slice(0, s.downsizeAfter);
  const underused =
    recent.length >= s.downsizeAfter &&
    ooms.length === 0 &&
    !pressured &&
    recent.every(
      (h) =>
        h.state === 'SUCCEEDED' &&
        h.metrics !== null &&
        workerJvm(h.backend) === target &&
        h.metrics.peak_jvm_heap_bytes / MIB < h.resources[target].memoryMb * s.underuseFraction,
    );
  if (underused && last) {
    const grant = last.resources[target].memoryMb;
    const lowered = Math.max(peakTarget ?? 0, Math.ceil(grant * (1 - s.maxDownsize)));
    if (lowered < best.mb) {
      best = {
        mb: lowered,
        reason: `over-provisioned: the last ${s.downsizeAfter} runs succeeded under ${s.underuseFraction * 100}% of their grant; lowered by at most ${s.maxDownsize * 100}% from ${grant} MiB`,
      };
    }
  }
  return { value: best.mb, requested: requestedMb, reason: best.reason };
}

function floorAfterOom(
  target: MemoryTarget,
  ooms: { memoryMb: number }[],
  successes: readonly SizingSample[],
  s: ApsSettings,
): { mb: number; reason: string } {
  const failed = Math.max(...ooms.map((o) => o.memoryMb));
  const worked = successes.map((h) => h.resources[target].memoryMb).filter((mb) => mb > failed);
  if (worked.length) {
    return {
      mb: Math.min(...worked),
      reason: `${target} ran out of memory at ${failed} MiB; ${Math.min(...worked)} MiB succeeded after that (remembered remediation)`,
    };
  }
  return {
    mb: roundUpMb(failed * s.oomFactor, s.roundMb),
    reason: `${target} ran out of memory at ${failed} MiB and nothing larger has succeeded yet: × ${s.oomFactor}`,
  };
}

/** Why a run was under memory pressure (disk spill, GC share), or undefined. */
function pressure(m: SparkMetrics, s: ApsSettings): string | undefined {
  if (m.disk_spill_bytes > 0) return `spilled ${Math.round(m.disk_spill_bytes / MIB)} MiB to disk`;
  if (m.executor_run_time_ms > 0 && m.gc_time_ms / m.executor_run_time_ms > s.gcPressure) {
    return `${Math.round((m.gc_time_ms / m.executor_run_time_ms) * 100)}% of task time in GC`;
  }
  return undefined;
}

/** Row 8 for dynamic allocation: the most executors a successful run used, with headroom. */
function dynamicBounds(
  wanted: NonNullable<JobResources['dynamicAllocation']>,
  successes: readonly SizingSample[],
  caps: TeamCaps,
  s: ApsSettings,
): FieldAdvice<{ minExecutors: number; maxExecutors: number }> {
  const requested = { minExecutors: wanted.minExecutors, maxExecutors: wanted.maxExecutors };
  const used = Math.max(0, ...successes.filter((h) => h.metrics).map((h) => h.metrics!.executor_count));
  if (used === 0)
    return cappedBounds({ value: requested, requested, reason: 'no measured run: as requested' }, caps.executors);
  const max = Math.max(wanted.minExecutors, 1, Math.ceil(used * s.headroom));
  return cappedBounds(
    {
      value: { minExecutors: wanted.minExecutors, maxExecutors: max },
      requested,
      reason: `at most ${used} executor(s) in a successful run × ${s.headroom} headroom`,
    },
    caps.executors,
  );
}

function capped(advice: FieldAdvice<number>, cap: number): FieldAdvice<number> {
  if (advice.value <= cap) return advice;
  return { ...advice, value: cap, reason: `${advice.reason}; capped at the team's limit of ${cap}` };
}

type Bounds = { minExecutors: number; maxExecutors: number };

function cappedBounds(advice: FieldAdvice<Bounds>, cap: number): FieldAdvice<Bounds> {
  const v = advice.value;
  if (v.maxExecutors <= cap) return advice;
  return {
    ...advice,
    value: { minExecutors: Math.min(v.minExecutors, cap), maxExecutors: cap },
    reason: `${advice.reason}; capped at the team's limit of ${cap} executors`,
  };
}

/** The fields a recommendation changes, as one line for events ("driver memory 512 → 768 MiB (…)"), or []. */
export function describeChanges(rec: Recommendation): string[] {
  const lines: string[] = [];
  const add = (name: string, a: FieldAdvice<number>, unit = '') => {
    if (a.value !== a.requested) lines.push(`${name} ${a.requested}${unit} → ${a.value}${unit} (${a.reason})`);
  };
  add('driver memory', rec.driverMemoryMb, ' MiB');
  add('driver cores', rec.driverCores);
  add('executor memory', rec.executorMemoryMb, ' MiB');
  add('executor cores', rec.executorCores);
  add('executors', rec.executorInstances);
  if (
    rec.dynamicAllocation &&
    rec.dynamicAllocation.value.maxExecutors !== rec.dynamicAllocation.requested.maxExecutors
  ) {
    lines.push(
      `maxExecutors ${rec.dynamicAllocation.requested.maxExecutors} → ${rec.dynamicAllocation.value.maxExecutors} (${rec.dynamicAllocation.reason})`,
    );
  }
  return lines;
}

/** The first field of `resources` that exceeds the caps, as the JobSpec path and a message; undefined when none. */
export function overCaps(resources: JobResources, caps: TeamCaps): { field: string; message: string } | undefined {
  const checks: [string, number, number, string][] = [
    ['resources.driver.memory', resources.driver.memoryMb, caps.driverMemoryMb, 'MiB of driver memory'],
    ['resources.driver.cores', resources.driver.cores, caps.driverCores, 'driver cores'],
    ['resources.executor.memory', resources.executor.memoryMb, caps.executorMemoryMb, 'MiB of executor memory'],
    ['resources.executor.cores', resources.executor.cores, caps.executorCores, 'executor cores'],
    ['resources.executor.instances', resources.executor.instances, caps.executors, 'executors'],
    [
      'resources.dynamicAllocation.maxExecutors',
      resources.dynamicAllocation?.maxExecutors ?? 0,
      caps.executors,
      'executors',
    ],
  ];
  for (const [field, value, cap, what] of checks) {
    if (value > cap) return { field, message: `${value} exceeds the team's limit of ${cap} ${what}` };
  }
  return undefined;
}
