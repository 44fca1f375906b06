/**
 * `npm run bench -- aps [--jobs 100] [--runs 100] [--seed 18]`: replays a synthetic history of jobs × runs
 * executions through APS (runner/aps.ts, the same rules the worker applies) and prints, for `sizing: manual` (the
 * baseline: every run at the requested size) against `sizing: auto` (every run at APS's recommendation from the
 * runs before it), the memory a job was given against the memory it needed:
 *
 * - under-provision: runs whose first attempt ran out of memory (AR then raised it ×1.5 until it fit);
 * - over-provision: memory given beyond the need, as a share of the need, on first attempts that fit;
 * - the memory given and needed in all, and how long one recommendation takes.
 *
 * The synthetic jobs (deterministic for a seed): a quarter each steady (±5%), spiky (one run in 20 needs 1.6×),
 * growing (+0.5% per run) and over-provisioned (requested at 3–5× the need); the others are requested at 0.7–2.5×
 * their need. Needs are 256 MiB to 16 GiB, measured as the run's peak JVM heap. No services are needed.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_APS_SETTINGS, recommend, type SizingSample, type TeamCaps } from '../runner/aps.js';
import { JobSpec } from '../schema/job-spec.js';
import type { SparkMetrics } from '../schema/metrics-summary.js';
import { seededRandom } from '../gateway/routing.js';

const MIB = 1024 * 1024;
const CAPS: TeamCaps = {
  driverMemoryMb: 65536,
  driverCores: 64,
  executorMemoryMb: 65536,
  executorCores: 64,
  executors: 1000,
};
const AR_FACTOR = 1.5;

type Kind = 'steady' | 'spiky' | 'growing' | 'over-provisioned';

interface SyntheticJob {
  kind: Kind;
  baseNeedMb: number;
  requestedMb: number;
}

function jobsFor(count: number, rand: () => number): SyntheticJob[] {
  const kinds: Kind[] = ['steady', 'spiky', 'growing', 'over-provisioned'];
  return Array.from({ length: count }, (_, i) => {
    const kind = kinds[i % kinds.length]!;
    const baseNeedMb = Math.round(256 * 2 ** (rand() * 6)); // 256 MiB … 16 GiB
    const factor = kind === 'over-provisioned' ? 3 + rand() * 2 : 0.7 + rand() * 1.8;
    return { kind, baseNeedMb, requestedMb: Math.max(256, Math.round((baseNeedMb * factor) / 256) * 256) };
  });
}

function needOf(job: SyntheticJob, run: number, rand: () => number): number {
  const noise = 1 + (rand() - 0.5) * 0.1;
  switch (job.kind) {
    case 'spiky':
      return Math.round(job.baseNeedMb * noise * (rand() < 0.05 ? 1.6 : 1));
    case 'growing':
      return Math.round(job.baseNeedMb * noise * 1.005 ** run);
    default:
      return Math.round(job.baseNeedMb * noise);
  }
}

function metrics(peakMb: number): SparkMetrics {
  const zero = {
    app_id: 'app',
    attempt: 1,
    duration_ms: 60_000,
    executor_count: 2,
    total_executor_memory_bytes: 0,
    peak_executor_memory_bytes: Math.round(peakMb * MIB * 0.6),
    peak_jvm_heap_bytes: Math.round(peakMb * MIB),
    stage_count: 1,
    failed_stage_count: 0,
    task_count: 10,
    failed_task_count: 0,
    killed_task_count: 0,
    executor_run_time_ms: 100_000,
    executor_cpu_time_ms: 90_000,
    gc_time_ms: 1_000,
  };
  return {
    ...zero,
    shuffle_read_bytes: 0,
    shuffle_read_records: 0,
    shuffle_write_bytes: 0,
    shuffle_write_records: 0,
    memory_spill_bytes: 0,
    disk_spill_bytes: 0,
    input_bytes: 0,
    input_records: 0,
    output_bytes: 0,
    output_records: 0,
  };
}

interface Tally {
  runs: number;
  underRuns: number;
  oomAttempts: number;
  fitRuns: number;
  overMbSum: number;
  needOnFitSum: number;
  givenMbSum: number;
  neededMbSum: number;
  recommendMs: number;
  recommendCalls: number;
}

const emptyTally = (): Tally => ({
  runs: 0,
  underRuns: 0,
  oomAttempts: 0,
  fitRuns: 0,
  overMbSum: 0,
  needOnFitSum: 0,
  givenMbSum: 0,
  neededMbSum: 0,
  recommendMs: 0,
  recommendCalls: 0,
});

function simulate(jobs: SyntheticJob[], runs: number, mode: 'manual' | 'auto', seed: number): Tally {
  const tally = emptyTally();
  const rand = seededRandom(seed); // the same needs for both modes
  for (const job of jobs) {
    const requested = JobSpec.parse({
      name: 'bench',
      engineVersion: '3.5',
      application: { type: 'python', file: 'job.py' },
      resources: { driver: { memory: '1g' }, executor: { memory: job.requestedMb, instances: 2 } },
    }).resources;
    const history: SizingSample[] = [];
    for (let run = 0; run < runs; run++) {
      const need = needOf(job, run, rand);
      let grant = requested.executor.memoryMb;
      if (mode === 'auto') {
        const t0 = performance.now();
        const rec = recommend({ requested, history, caps: CAPS, settings: DEFAULT_APS_SETTINGS });
        tally.recommendMs += performance.now() - t0;
        tally.recommendCalls += 1;
        grant = rec.executorMemoryMb.value;
      }
      tally.runs += 1;
      tally.givenMbSum += grant;
      tally.neededMbSum += need;
      const ooms: SizingSample['ooms'] = [];
      let final = grant;
      if (need > grant) {
        tally.underRuns += 1;
        while (need > final) {
          ooms.push({ target: 'executor', memoryMb: final });
          tally.oomAttempts += 1;
          final = Math.ceil(final * AR_FACTOR);
        }
      } else {
        tally.fitRuns += 1;
        tally.overMbSum += grant - need;
        tally.needOnFitSum += need;
      }
      history.unshift({
        executionId: `${run}`,
        state: 'SUCCEEDED',
        backend: 'kubernetes',
        resources: { ...requested, executor: { ...requested.executor, memoryMb: final } },
        ooms,
        metrics: metrics(need),
      });
      if (history.length > DEFAULT_APS_SETTINGS.historyLimit) history.pop();
    }
  }
  return tally;
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const gib = (mb: number) => `${(mb / 1024).toFixed(0)} GiB`;

export function apsBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      jobs: { type: 'string', default: '100' },
      runs: { type: 'string', default: '100' },
      seed: { type: 'string', default: '18' },
    },
  });
  const jobCount = Number(values.jobs);
  const runs = Number(values.runs);
  const seed = Number(values.seed);
  const jobs = jobsFor(jobCount, seededRandom(seed * 7919));
  const started = performance.now();
  const manual = simulate(jobs, runs, 'manual', seed);
  const auto = simulate(jobs, runs, 'auto', seed);
  const seconds = (performance.now() - started) / 1000;

  const row = (name: string, t: Tally) =>
    [
      name.padEnd(22),
      String(t.runs).padStart(6),
      pct(t.underRuns / t.runs).padStart(16),
      String(t.oomAttempts).padStart(12),
      pct(t.overMbSum / Math.max(1, t.needOnFitSum)).padStart(15),
      gib(t.givenMbSum).padStart(12),
      gib(t.neededMbSum).padStart(12),
      (t.recommendCalls ? `${((t.recommendMs / t.recommendCalls) * 1000).toFixed(0)} µs` : '-').padStart(14),
    ].join(' ');
  const out = process.stdout;
  out.write(
    `aps: ${jobCount} jobs × ${runs} runs = ${jobCount * runs} synthetic executions (seed ${seed}), replayed in ${seconds.toFixed(1)} s\n`,
  );
  out.write(
    `${'mode'.padEnd(22)} ${'runs'.padStart(6)} ${'under-provision'.padStart(16)} ${'OOM attempts'.padStart(12)} ${'over-provision'.padStart(15)} ${'given'.padStart(12)} ${'needed'.padStart(12)} ${'per recommend'.padStart(14)}\n`,
  );
  out.write(`${row('manual (baseline)', manual)}\n${row('auto (APS)', auto)}\n`);
  out.write(
    'under-provision: runs whose first attempt ran out of memory; over-provision: memory given beyond the need on first attempts that fit, as a share of that need\n',
  );
  return Promise.resolve();
}
