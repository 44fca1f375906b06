/**
 * DCR's policy (runner/dcr.ts) on sequences of streaming-progress samples, fed one at a time as the continuous
 * loop feeds them (the state carried from one decision to the next): a steady stream, a stream lagging for three
 * samples, one lagging twice then recovering, the team's executor cap, the cool-down, and `sizing: auto` drift.
 * Also the parsing of the driver's metrics-servlet JSON the samples come from (the shape a real Spark 3.5 driver
 * served with spark.sql.streaming.metricsEnabled).
 */
import { describe, expect, it } from 'vitest';
import { progressFromMetrics } from '../../activities/continuous.js';
import type { JobResources, SizingMode, TeamCaps } from '../../runner/aps.js';
import {
  DEFAULT_DCR_SETTINGS,
  INITIAL_DCR_STATE,
  decideDcr,
  type DcrDecision,
  type DcrState,
  type ProgressSample,
} from '../../runner/dcr.js';
import { JobSpec } from '../../schema/job-spec.js';

const CAPS: TeamCaps = {
  driverMemoryMb: 16384,
  driverCores: 8,
  executorMemoryMb: 16384,
  executorCores: 8,
  executors: 10,
};
const MIN = 60_000;

function resources(instances: number, driver = '2g', dynamic?: { minExecutors: number; maxExecutors: number }) {
  return JobSpec.parse({
    name: 'clicks',
    engineVersion: '3.5',
    jobType: 'streaming',
    application: { type: 'python', file: 'job.py' },
    resources: {
      driver: { memory: driver },
      executor: { memory: '2g', instances },
      ...(dynamic ? { dynamicAllocation: dynamic } : {}),
    },
  }).resources;
}

const sample = (input: number, processed: number): ProgressSample => ({
  inputRowsPerSecond: input,
  processedRowsPerSecond: processed,
  batchDurationMs: 900,
  queries: 1,
});

/** Feeds the samples in order, five minutes apart, and returns every decision. */
function run(
  samples: ProgressSample[],
  opts: {
    running?: JobResources;
    state?: DcrState;
    sizing?: SizingMode;
    recommended?: JobResources;
    start?: number;
    caps?: TeamCaps;
  } = {},
): DcrDecision[] {
  let state = opts.state ?? INITIAL_DCR_STATE;
  const out: DcrDecision[] = [];
  samples.forEach((s, i) => {
    const d = decideDcr({
      state,
      sample: s,
      running: opts.running ?? resources(2),
      caps: opts.caps ?? CAPS,
      sizing: opts.sizing ?? 'manual',
      ...(opts.recommended ? { recommended: opts.recommended } : {}),
      settings: DEFAULT_DCR_SETTINGS,
      now: (opts.start ?? 100 * MIN) + i * 5 * MIN,
    });
    out.push(d);
    state = d.state;
  });
  return out;
}

describe('the lag rule', () => {
  it('keeps a steady stream that processes as fast as rows arrive, sample after sample', () => {
    const decisions = run([sample(100, 150), sample(100, 95), sample(100, 81), sample(100, 120), sample(100, 99)]);
    expect(decisions.map((d) => d.kind)).toEqual(['keep', 'keep', 'keep', 'keep', 'keep']);
    expect(decisions.every((d) => !d.lagging && d.state.lagging === 0)).toBe(true);
  });

  it('adds executors after 3 samples in a row processing under 0.8 × the input rate, sized by the lag', () => {
    const decisions = run([sample(100, 50), sample(100, 60), sample(100, 40)]);
    expect(decisions.map((d) => d.kind)).toEqual(['keep', 'keep', 'resize']);
    expect(decisions.map((d) => d.state.lagging)).toEqual([1, 2, 0]);
    const resize = decisions[2]!;
    if (resize.kind !== 'resize') throw new Error('expected a resize');
    expect(resize.rule).toBe('lag');
    // 2 executors at 40 of 100 rows/s: ⌈2 × 100 / 40⌉ = 5.
    expect(resize.resources.executor.instances).toBe(5);
    expect(resize.resources.driver).toEqual(resources(2).driver);
    expect(resize.reason).toMatch(/3 samples in a row below 0.8 × the input rate.*executors 2 → 5/);
    expect(resize.state.lastResizeAt).toBe(100 * MIN + 10 * MIN);
  });

  it('does not resize a stream that lagged for 2 samples and then recovered, and counts afresh after', () => {
    const decisions = run([sample(100, 50), sample(100, 50), sample(100, 90), sample(100, 50), sample(100, 50)]);
    expect(decisions.map((d) => d.kind)).toEqual(['keep', 'keep', 'keep', 'keep', 'keep']);
    expect(decisions.map((d) => d.state.lagging)).toEqual([1, 2, 0, 1, 2]);
  });

  it('never calls an idle stream (no input) lagging', () => {
    const decisions = run([sample(0, 0), sample(0.5, 0), sample(0, 0), sample(0, 0)]);
    expect(decisions.every((d) => d.kind === 'keep' && !d.lagging)).toBe(true);
  });

  it("adds at least one executor, and never past the team's cap, and at the cap says so instead of resizing", () => {
    const slight = run([sample(100, 70), sample(100, 70), sample(100, 70)])[2]!;
    expect(slight.kind === 'resize' && slight.resources.executor.instances).toBe(3);

    const near = run([sample(100, 10), sample(100, 10), sample(100, 10)], { running: resources(8) })[2]!;
    expect(near.kind === 'resize' && near.resources.executor.instances).toBe(10);

    const atCap = run([sample(100, 10), sample(100, 10), sample(100, 10)], { running: resources(10) })[2]!;
    expect(atCap.kind).toBe('keep');
    expect(atCap.reason).toMatch(/already at the team's limit of 10 executors/);
  });

  it('raises the dynamic-allocation max (keeping the min) of a job that uses dynamic allocation', () => {
    const running = resources(1, '2g', { minExecutors: 1, maxExecutors: 4 });
    const d = run([sample(100, 50), sample(100, 50), sample(100, 50)], { running })[2]!;
    if (d.kind !== 'resize') throw new Error('expected a resize');
    expect(d.resources.dynamicAllocation).toMatchObject({ minExecutors: 1, maxExecutors: 8 });
    expect(d.resources.executor.instances).toBe(1);
  });
});

describe('the cool-down', () => {
  it('holds a second policy resize until DCR_COOLDOWN_S has passed since the last, then acts on the lag', () => {
    const lastResizeAt = 100 * MIN;
    // Samples at +5, +10, …, +35 min: the streak reaches 3 at +15 min, inside the 30-min cool-down.
    const decisions = run(
      Array.from({ length: 7 }, () => sample(100, 50)),
      {
        state: { lagging: 0, lastResizeAt },
        start: lastResizeAt + 5 * MIN,
      },
    );
    expect(decisions.map((d) => d.kind)).toEqual(['keep', 'keep', 'keep', 'keep', 'keep', 'resize', 'keep']);
    expect(decisions[2]!.reason).toMatch(/in the cool-down until/);
    // The streak kept counting through the cool-down, so the first sample after it acts.
    expect(decisions[4]!.state.lagging).toBe(5);
    expect(decisions[5]!.state).toEqual({ lagging: 0, lastResizeAt: lastResizeAt + 30 * MIN });
  });
});

describe('sizing: auto drift', () => {
  const recommended = resources(2, '3g'); // driver 2g → 3g: 50% drift

  it("applies APS's recommendation once it drifts past the 20% threshold, and not again within the cool-down", () => {
    const decisions = run([sample(100, 120), sample(100, 120)], { sizing: 'auto', recommended });
    const first = decisions[0]!;
    if (first.kind !== 'resize') throw new Error('expected a resize');
    expect(first.rule).toBe('drift');
    expect(first.resources.driver.memoryMb).toBe(3072);
    expect(first.reason).toMatch(/drifted 50% \(driver.memory 2048 → 3072\) past the 20% threshold/);
    expect(decisions[1]!.kind).toBe('keep');
    expect(decisions[1]!.reason).toMatch(/in the cool-down/);
  });

  it('keeps a drift under the threshold, and ignores the recommendation outside auto', () => {
    expect(run([sample(100, 120)], { sizing: 'auto', recommended: resources(2, '2304m') })[0]!.kind).toBe('keep');
    expect(run([sample(100, 120)], { sizing: 'recommend', recommended })[0]!.kind).toBe('keep');
    expect(run([sample(100, 120)], { sizing: 'manual', recommended })[0]!.kind).toBe('keep');
  });

  it("caps APS's recommendation at the team's limits", () => {
    const d = run([sample(100, 120)], { sizing: 'auto', recommended: resources(40, '3g') })[0]!;
    expect(d.kind === 'resize' && d.resources.executor.instances).toBe(10);
  });
});

describe('progress from the driver', () => {
  it("sums the rates and takes the slowest batch over the driver's streaming-query gauges, ignoring the rest", () => {
    const app = 'local-1796231597297.driver';
    const json = {
      version: '4.0.0',
      gauges: {
        [`${app}.BlockManager.memory.memUsed_MB`]: { value: 3 },
        [`${app}.spark.streaming.884bfc4f-bd96-4270-adc3-7b76b66dca24.inputRate-total`]: { value: 20.81 },
        [`${app}.spark.streaming.884bfc4f-bd96-4270-adc3-7b76b66dca24.processingRate-total`]: { value: 30.86 },
        [`${app}.spark.streaming.884bfc4f-bd96-4270-adc3-7b76b66dca24.latency`]: { value: 648 },
        [`${app}.spark.streaming.884bfc4f-bd96-4270-adc3-7b76b66dca24.states-rowsTotal`]: { value: 0 },
        [`${app}.spark.streaming.clicks.v2.inputRate-total`]: { value: 10 },
        [`${app}.spark.streaming.clicks.v2.processingRate-total`]: { value: 5 },
        [`${app}.spark.streaming.clicks.v2.latency`]: { value: 2000 },
      },
    };
    const p = progressFromMetrics(json)!;
    expect(p.queries).toBe(2);
    expect(p.inputRowsPerSecond).toBeCloseTo(30.81);
    expect(p.processedRowsPerSecond).toBeCloseTo(35.86);
    expect(p.batchDurationMs).toBe(2000);
    expect(progressFromMetrics({ gauges: { [`${app}.BlockManager.memory.memUsed_MB`]: { value: 3 } } })).toBe(
      undefined,
    );
    expect(progressFromMetrics('not json')).toBe(undefined);
  });
});
