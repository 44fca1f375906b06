import { describe, expect, it } from 'vitest';
import type { Classification } from '../../runner/classify.js';
import { classifyFailure } from '../../runner/classify.js';
import type { RetryInput } from '../../runner/retry.js';
import { MAX_BACKOFF_MS, backoffMs, planRetry } from '../../runner/retry.js';
import { JobSpec } from '../../schema/job-spec.js';

/** Resources as the workflow holds them: the output of the real JobSpec schema. */
function resources(driverMemory: string, executorMemory: string) {
  return JobSpec.parse({
    name: 'orders-daily',
    engineVersion: '3.5',
    application: { type: 'python', file: 's3://acme-jobs/orders_daily.py' },
    resources: {
      driver: { cores: 1, memory: driverMemory },
      executor: { cores: 4, memory: executorMemory, instances: 6 },
      dynamicAllocation: { maxExecutors: 20 },
    },
  }).resources;
}

const executorOom = classifyFailure({
  exitCode: 1,
  logTail:
    '24/11/02 10:00:00 WARN TaskSetManager: Lost task 17.0 in stage 4.0 (TID 212) (10.42.3.18 executor 6): java.lang.OutOfMemoryError: Java heap space',
});
const driverOom = classifyFailure({ exitCode: 137, reason: 'OOMKilled' });
const lostExecutor = classifyFailure({
  logTail:
    'ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: Executor heartbeat timed out after 128470 ms',
});
const userError = classifyFailure({
  exitCode: 1,
  logTail:
    'pyspark.errors.exceptions.captured.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table or view `sales.orders` cannot be found.',
});

function input(overrides: Partial<RetryInput> = {}): RetryInput {
  return {
    spec: resources('1g', '1g'),
    attempt: 1,
    maxAttempts: 3,
    backoffSeconds: 10,
    classification: executorOom,
    memoryFactor: 1.5,
    maxMemoryMb: 65_536,
    ...overrides,
  };
}

describe('planRetry', () => {
  it('uses classifications that really are what these tests assume', () => {
    expect([executorOom.failureClass, executorOom.oomTarget]).toEqual(['OOM', 'executor']);
    expect([driverOom.failureClass, driverOom.oomTarget]).toEqual(['OOM', 'driver']);
    expect(lostExecutor.failureClass).toBe('EXECUTOR_LOST');
    expect(userError.failureClass).toBe('USER_ERROR');
  });

  it('retries an executor OOM with 50% more executor memory and leaves the driver alone', () => {
    const spec = resources('2g', '4g');
    const plan = planRetry(input({ spec }));
    expect(plan).toEqual({
      retry: true,
      nextAttempt: 2,
      delayMs: 10_000,
      resources: { ...spec, executor: { ...spec.executor, memoryMb: 6144 } },
      change: 'executor memory 4096 MiB → 6144 MiB',
    });
  });

  it('retries a driver OOM with 50% more driver memory and leaves the executors alone', () => {
    const spec = resources('1g', '4g');
    const plan = planRetry(input({ spec, classification: driverOom }));
    expect(plan.retry).toBe(true);
    if (!plan.retry) return;
    expect(plan.resources.driver).toEqual({ cores: 1, memoryMb: 1536 });
    expect(plan.resources.executor).toEqual(spec.executor);
    expect(plan.change).toBe('driver memory 1024 MiB → 1536 MiB');
  });

  it('grows the executor when an OOM classification does not name a target', () => {
    const { oomTarget: _dropped, ...untargeted } = executorOom;
    const plan = planRetry(input({ classification: untargeted }));
    expect(plan.retry && plan.change).toBe('executor memory 1024 MiB → 1536 MiB');
  });

  it('compounds across attempts: 1024 → 1536 → 2304 MiB', () => {
    const first = planRetry(input({ attempt: 1, maxAttempts: 5 }));
    if (!first.retry) throw new Error(first.reason);
    const second = planRetry(input({ spec: first.resources, attempt: first.nextAttempt, maxAttempts: 5 }));
    if (!second.retry) throw new Error(second.reason);
    expect(second.resources.executor.memoryMb).toBe(2304);
    expect(second.change).toBe('executor memory 1536 MiB → 2304 MiB');
  });

  it('rounds the grown memory up to a whole MiB without float noise', () => {
    const odd = planRetry(input({ spec: resources('1g', '1001m') }));
    expect(odd.retry && odd.resources.executor.memoryMb).toBe(1502); // 1501.5 rounded up
    const exact = planRetry(input({ spec: resources('1g', '1000m'), memoryFactor: 1.15 }));
    expect(exact.retry && exact.resources.executor.memoryMb).toBe(1150); // 1150.0000000000002 in floating point
  });

  it('caps the grown memory at maxMemoryMb and says so', () => {
    const plan = planRetry(input({ spec: resources('1g', '48g'), maxMemoryMb: 65_536 }));
    expect(plan.retry && plan.resources.executor.memoryMb).toBe(65_536);
    expect(plan.retry && plan.change).toBe('executor memory 49152 MiB → 65536 MiB (capped at 65536 MiB)');
  });

  it('stops retrying an OOM once the memory that ran out is already at the cap', () => {
    const plan = planRetry(input({ spec: resources('1g', '64g'), maxMemoryMb: 65_536 }));
    expect(plan.retry).toBe(false);
    expect(!plan.retry && plan.reason).toBe(
      'executor memory is already 65536 MiB, at or above the 65536 MiB cap for OOM retries, so an OOM retry would fail the same way',
    );
    const driver = planRetry(input({ spec: resources('8g', '1g'), maxMemoryMb: 8192, classification: driverOom }));
    expect(driver.retry).toBe(false);
    expect(!driver.retry && driver.reason).toMatch(/^driver memory is already 8192 MiB/);
  });

  it('does not retry an OOM when the memory factor would not grow the memory', () => {
    const plan = planRetry(input({ memoryFactor: 1 }));
    expect(plan.retry).toBe(false);
    expect(!plan.retry && plan.reason).toContain('would not grow');
  });

  it('never retries a user error, even with attempts left', () => {
    const plan = planRetry(input({ classification: userError, attempt: 1, maxAttempts: 10 }));
    expect(plan.retry).toBe(false);
    expect(!plan.retry && plan.reason).toMatch(/^USER_ERROR is not retried \(the application failed \(/);
  });

  it('never retries a timeout or an unknown failure', () => {
    expect(planRetry(input({ classification: classifyFailure({ reason: 'TIMEOUT' }) })).retry).toBe(false);
    expect(planRetry(input({ classification: classifyFailure({}) })).retry).toBe(false);
  });

  it('stops after maxAttempts attempts in all, counting the first', () => {
    expect(planRetry(input({ classification: lostExecutor, attempt: 2, maxAttempts: 3 })).retry).toBe(true);
    const last = planRetry(input({ classification: lostExecutor, attempt: 3, maxAttempts: 3 }));
    expect(last.retry).toBe(false);
    expect(!last.retry && last.reason).toMatch(/^no attempts left: attempt 3 of 3 failed \(EXECUTOR_LOST: /);
    expect(planRetry(input({ attempt: 1, maxAttempts: 1 })).retry).toBe(false);
  });

  it('retries a lost executor with the same resources and no change', () => {
    const spec = resources('2g', '4g');
    const plan = planRetry(input({ spec, classification: lostExecutor, attempt: 2 }));
    expect(plan).toEqual({ retry: true, nextAttempt: 3, delayMs: 20_000, resources: spec });
  });

  it('doubles the backoff after each failed attempt', () => {
    const delays = [1, 2, 3, 4].map((attempt) => {
      const plan = planRetry(input({ classification: lostExecutor, attempt, maxAttempts: 10, backoffSeconds: 10 }));
      return plan.retry ? plan.delayMs : undefined;
    });
    expect(delays).toEqual([10_000, 20_000, 40_000, 80_000]);
  });

  it('caps the backoff at ten minutes and allows no backoff at all', () => {
    expect(MAX_BACKOFF_MS).toBe(600_000);
    expect(backoffMs(3600, 1)).toBe(600_000);
    expect(backoffMs(10, 9)).toBe(600_000); // 2560 s uncapped
    expect(backoffMs(0, 5)).toBe(0);
    expect(backoffMs(0.5, 2)).toBe(1000);
  });

  it('never mutates its input', () => {
    const spec = resources('2g', '4g');
    const snapshot = structuredClone(spec);
    const classification: Classification = structuredClone(executorOom);
    const plan = planRetry(input({ spec, classification }));
    expect(spec).toEqual(snapshot);
    expect(classification).toEqual(executorOom);
    expect(plan.retry && plan.resources).not.toBe(spec);
    const same = planRetry(input({ spec, classification: lostExecutor }));
    expect(same.retry && same.resources).not.toBe(spec);
    expect(same.retry && same.resources.executor).not.toBe(spec.executor);
  });
});
