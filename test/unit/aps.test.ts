/**
 * APS rules (runner/aps.ts) on recorded metric histories: steady, spiky, out-of-memory and over-provisioned jobs.
 * Each history is what the store hands APS: newest first, with the METRICS_SUMMARY figures of the last attempt.
 */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_APS_SETTINGS,
  overCaps,
  recommend,
  roundUpMb,
  type SizingSample,
  type TeamCaps,
} from '../../runner/aps.js';
import { parseManifest } from '../../dcp/manifest.js';
import { JobSpec } from '../../schema/job-spec.js';
import type { SparkMetrics } from '../../schema/metrics-summary.js';

const MIB = 1024 * 1024;
const CAPS: TeamCaps = {
  driverMemoryMb: 16384,
  driverCores: 8,
  executorMemoryMb: 16384,
  executorCores: 8,
  executors: 50,
};

function resources(driver: string, executor: string, instances = 2, dynamic?: { maxExecutors: number }) {
  return JobSpec.parse({
    name: 'orders-daily',
    engineVersion: '3.5',
    application: { type: 'python', file: 'job.py' },
    resources: {
      driver: { cores: 1, memory: driver },
      executor: { cores: 2, memory: executor, instances },
      ...(dynamic ? { dynamicAllocation: dynamic } : {}),
    },
  }).resources;
}

function metrics(peakHeapMb: number, extra: Partial<SparkMetrics> = {}): SparkMetrics {
  return {
    app_id: 'app-1',
    attempt: 1,
    duration_ms: 60_000,
    executor_count: 2,
    total_executor_memory_bytes: 0,
    peak_executor_memory_bytes: peakHeapMb * MIB * 0.6,
    peak_jvm_heap_bytes: peakHeapMb * MIB,
    stage_count: 3,
    failed_stage_count: 0,
    task_count: 40,
    failed_task_count: 0,
    killed_task_count: 0,
    executor_run_time_ms: 100_000,
    executor_cpu_time_ms: 80_000,
    gc_time_ms: 1_000,
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
    ...extra,
  };
}

let n = 0;
function run(
  state: SizingSample['state'],
  res: SizingSample['resources'],
  peakHeapMb: number | null,
  opts: { backend?: string; ooms?: SizingSample['ooms']; extra?: Partial<SparkMetrics> } = {},
): SizingSample {
  n += 1;
  return {
    executionId: `e${n}`,
    state,
    backend: opts.backend ?? 'kubernetes',
    resources: res,
    ooms: opts.ooms ?? [],
    metrics: peakHeapMb === null ? null : metrics(peakHeapMb, opts.extra),
  };
}

const settings = DEFAULT_APS_SETTINGS;

describe('APS recommendations from history', () => {
  it('with no history keeps every requested size and reports confidence 0', () => {
    const requested = resources('2g', '4g');
    const rec = recommend({ requested, history: [], caps: CAPS, settings });
    expect(rec.resources).toEqual(requested);
    expect(rec.confidence).toBe(0);
    expect(rec.executorMemoryMb.reason).toMatch(/no history/);
  });

  it('steady job: executor memory = peak × 1.25 rounded up to 256 MiB, but never below what last succeeded', () => {
    const grant = resources('1g', '2g');
    const history = Array.from({ length: 8 }, (_, i) => run('SUCCEEDED', grant, 1800 + i * 10));
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    // Largest peak 1870 MiB × 1.25 = 2337.5 → 2560 MiB.
    expect(rec.executorMemoryMb.value).toBe(2560);
    expect(rec.executorMemoryMb.reason).toMatch(/peak heap 1870 MiB over 8 successful run\(s\) × 1.25/);
    // Driver: no driver metrics on Kubernetes, so the grant that last succeeded.
    expect(rec.driverMemoryMb.value).toBe(1024);
    expect(rec.confidence).toBe(0.8);
    expect(rec.measured).toBe(8);
  });

  it('spiky job: sizes for the largest peak in the window, not the typical one', () => {
    const grant = resources('1g', '4g');
    const peaks = [900, 950, 3000, 920, 880, 940];
    const history = peaks.map((p) => run('SUCCEEDED', grant, p));
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    // The spike's 3000 MiB × 1.25 = 3840 MiB is kept above every typical run, and the 4 GiB that succeeded above that.
    expect(roundUpMb(3000 * 1.25, 256)).toBe(3840);
    expect(rec.executorMemoryMb.value).toBe(4096);
    expect(rec.executorMemoryMb.reason).toBe('what the newest successful run was given');
    const lower = recommend({
      requested: grant,
      history: peaks.map((p) => run('SUCCEEDED', resources('1g', '3g'), p)),
      caps: CAPS,
      settings,
    });
    expect(lower.executorMemoryMb.value).toBe(3840);
    // The spike keeps the job from being seen as over-provisioned.
    expect(rec.executorMemoryMb.reason).not.toMatch(/over-provisioned/);
  });

  it('OOM job: remembers the size AR found to work, and raises memory after an OOM with no success', () => {
    const small = resources('512m', '1g', 2);
    const raised = resources('768m', '1g', 2);
    const remediated = run('SUCCEEDED', raised, 400, {
      backend: 'local',
      ooms: [{ target: 'driver', memoryMb: 512 }],
    });
    const rec = recommend({ requested: small, history: [remediated], caps: CAPS, settings });
    expect(rec.driverMemoryMb.value).toBe(768);
    expect(rec.driverMemoryMb.reason).toMatch(/what the newest successful run was given|remembered remediation/);
    // Even when a later request asks for less and a later success was not measured, the OOM floor holds.
    const later = run('SUCCEEDED', raised, null, { backend: 'local' });
    const again = recommend({ requested: small, history: [later, remediated], caps: CAPS, settings });
    expect(again.driverMemoryMb.value).toBe(768);

    // Only failures by OOM at 2 GiB: at least 2 GiB × 1.5, rounded up.
    const failed = [
      run('FAILED', resources('1g', '2g'), null, { ooms: [{ target: 'executor', memoryMb: 2048 }] }),
      run('FAILED', resources('1g', '2g'), null, { ooms: [{ target: 'executor', memoryMb: 2048 }] }),
    ];
    const after = recommend({ requested: resources('1g', '2g'), history: failed, caps: CAPS, settings });
    expect(after.executorMemoryMb.value).toBe(3072);
    expect(after.executorMemoryMb.reason).toMatch(/ran out of memory at 2048 MiB.*× 1.5/);
    expect(after.confidence).toBe(0);
  });

  it('an OOM floor holds even when a later run peaked low', () => {
    const history = [
      run('SUCCEEDED', resources('1g', '3g'), 1000),
      run('FAILED', resources('1g', '2g'), null, { ooms: [{ target: 'executor', memoryMb: 2048 }] }),
    ];
    const rec = recommend({ requested: resources('1g', '2g'), history, caps: CAPS, settings });
    expect(rec.executorMemoryMb.value).toBe(3072);
  });

  it('over-provisioned job: lowered by at most 10% after 5 successes under 50% of the grant', () => {
    const grant = resources('1g', '8g');
    const history = Array.from({ length: 5 }, () => run('SUCCEEDED', grant, 1000));
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    expect(rec.executorMemoryMb.value).toBe(Math.ceil(8192 * 0.9)); // 7373, not the 1280 the peak would allow
    expect(rec.executorMemoryMb.reason).toMatch(/over-provisioned/);
    // Four such runs are not enough.
    const four = recommend({ requested: grant, history: history.slice(0, 4), caps: CAPS, settings });
    expect(four.executorMemoryMb.value).toBe(8192);
  });

  it('memory pressure (disk spill) asks for more even when the heap peak looks fine', () => {
    const grant = resources('1g', '2g');
    const history = [run('SUCCEEDED', grant, 1000, { extra: { disk_spill_bytes: 500 * MIB } })];
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    expect(rec.executorMemoryMb.value).toBe(2560);
    expect(rec.executorMemoryMb.reason).toMatch(/spilled 500 MiB to disk/);
  });

  it("never recommends above the team's caps, and says so", () => {
    const grant = resources('1g', '12g');
    const history = [run('SUCCEEDED', grant, 15000)];
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    expect(rec.executorMemoryMb.value).toBe(16384);
    expect(rec.executorMemoryMb.reason).toMatch(/capped at the team's limit of 16384/);
  });

  it('sets dynamic-allocation bounds from the executors successful runs used', () => {
    const grant = resources('1g', '2g', 2, { maxExecutors: 40 });
    const history = [run('SUCCEEDED', grant, 1000, { extra: { executor_count: 8 } })];
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    expect(rec.dynamicAllocation?.value).toEqual({ minExecutors: 0, maxExecutors: 10 });
    expect(rec.resources.dynamicAllocation).toMatchObject({ enabled: true, minExecutors: 0, maxExecutors: 10 });
  });

  it('local runs: the peak sizes the driver, whose JVM runs the tasks', () => {
    const grant = resources('1g', '1g');
    const history = [run('SUCCEEDED', grant, 1000, { backend: 'local' })];
    const rec = recommend({ requested: grant, history, caps: CAPS, settings });
    expect(rec.driverMemoryMb.value).toBe(1280);
    expect(rec.executorMemoryMb.value).toBe(1024);
  });

  it('confidence is min(1, measured successes / 10)', () => {
    const grant = resources('1g', '2g');
    const twelve = Array.from({ length: 12 }, () => run('SUCCEEDED', grant, 1500));
    expect(recommend({ requested: grant, history: twelve, caps: CAPS, settings }).confidence).toBe(1);
    const unmeasured = [run('SUCCEEDED', grant, null), run('SUCCEEDED', grant, 1500)];
    expect(recommend({ requested: grant, history: unmeasured, caps: CAPS, settings }).confidence).toBe(0.1);
  });

  it('reads only the newest historyLimit executions', () => {
    const grant = resources('1g', '2g');
    const old = run('SUCCEEDED', grant, 6000);
    const recent = Array.from({ length: 20 }, () => run('SUCCEEDED', grant, 1500));
    const rec = recommend({ requested: grant, history: [...recent, old], caps: CAPS, settings });
    expect(rec.samples).toBe(20);
    expect(rec.executorMemoryMb.value).toBe(2048);
  });

  it('names the first field over the caps', () => {
    expect(overCaps(resources('1g', '32g'), CAPS)).toEqual({
      field: 'resources.executor.memory',
      message: "32768 exceeds the team's limit of 16384 MiB of executor memory",
    });
    expect(overCaps(resources('1g', '2g', 60), CAPS)?.field).toBe('resources.executor.instances');
    expect(overCaps(resources('1g', '2g'), CAPS)).toBeUndefined();
  });
});

describe('sizing mode in a manifest', () => {
  const doc = (sizing: string) => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: sized
  team: data-infra
spec:
  engineVersion: '3.5'
  application: { type: python, file: job.py }
  sizing: ${sizing}
`;

  it('carries spec.sizing into the JobSpec, and rejects an unknown mode at its line', () => {
    expect(parseManifest(doc('auto'))[0]!.spec.sizing).toBe('auto');
    expect(() => parseManifest(doc('sometimes'), 'jobs.yaml')).toThrow(
      /jobs\.yaml:9:\d+: spec\.sizing: .*"manual"\|"recommend"\|"auto"/,
    );
  });
});
