/**
 * The operator's documented state sequences (reference/apache-spark-operator.md §3) mapped to RunStatus, and the
 * Kubernetes API throttle (token bucket + retries) the backend puts in front of every call.
 */
import { describe, expect, it } from 'vitest';
import type { ObservedSparkApplication } from '../../gateway/backends/kubernetes/status.js';
import {
  deletedRunStatus,
  noStatusTimeout,
  parseVendorRunId,
  runStatusOf,
} from '../../gateway/backends/kubernetes/status.js';
import { createThrottle } from '../../gateway/backends/kubernetes/throttle.js';

const RUN = { executionId: 'e1', attempt: 1, vendorRunId: 'east/sjns-fin/sr-e1-abc-a1' };
const AT = '2026-01-01T00:00:00.000Z';

type Entry = { state: string; message?: string; driver?: object };
function app(sequence: (string | Entry)[]): ObservedSparkApplication {
  const entries = sequence.map((s) => (typeof s === 'string' ? { state: s } : s));
  const history = Object.fromEntries(
    entries.map((e, i) => [
      String(i),
      {
        currentStateSummary: e.state,
        lastTransitionTime: AT,
        ...(e.message ? { message: e.message } : {}),
        ...(e.driver ? { lastObservedDriverStatus: e.driver } : {}),
      },
    ]),
  );
  const last = entries.at(-1)!;
  return {
    metadata: { name: 'sr-e1-abc-a1', namespace: 'sjns-fin', creationTimestamp: AT },
    status: {
      currentState: { currentStateSummary: last.state, lastTransitionTime: AT },
      stateTransitionHistory: history,
    },
  };
}

const START = ['Submitted', 'DriverRequested', 'DriverStarted', 'DriverReady', 'RunningHealthy'];

describe('runStatusOf', () => {
  it('reports SUCCEEDED only once Succeeded is followed by ResourceReleased', () => {
    expect(runStatusOf(app([...START, 'Succeeded']), RUN, AT).phase).toBe('RUNNING');
    const done = runStatusOf(app([...START, 'Succeeded', 'ResourceReleased']), RUN, AT);
    expect(done).toEqual({
      ...RUN,
      observedAt: AT,
      phase: 'SUCCEEDED',
      backendState: 'ResourceReleased(Succeeded)',
      // The operator's spark.app.id, <name>-<attemptId>: the application's event log and History Server page.
      appId: 'sr-e1-abc-a1-0',
    });
  });

  it('reports a retained failure (TerminatedWithoutReleaseResources) as FAILED with the exit code and driver detail', () => {
    const driver = {
      phase: 'Failed',
      containerStatuses: [
        {
          name: 'spark-kubernetes-driver',
          state: { terminated: { exitCode: 137, reason: 'OOMKilled', message: 'oom' } },
        },
      ],
    };
    const failed = { state: 'Failed', message: 'Driver has failed.', driver };
    const status = runStatusOf(app([...START, failed, 'TerminatedWithoutReleaseResources']), RUN, AT);
    expect(status.phase).toBe('FAILED');
    expect(status.backendState).toBe('TerminatedWithoutReleaseResources(Failed)');
    expect(status.failure).toEqual({
      reason: 'Failed',
      exitCode: 137,
      message: 'Driver has failed.; driver container: OOMKilled: oom',
    });
  });

  it('reads the outcome past a retained state that later released its resources', () => {
    const seq = [...START, 'Failed', 'TerminatedWithoutReleaseResources', 'ResourceReleased'];
    expect(runStatusOf(app(seq), RUN, AT)).toMatchObject({ phase: 'FAILED', failure: { reason: 'Failed' } });
  });

  it('reports a driver start timeout as FAILED with reason DriverStartTimedOut', () => {
    const seq = [
      'Submitted',
      'DriverRequested',
      { state: 'DriverStartTimedOut', message: 'timed out' },
      'ResourceReleased',
    ];
    expect(runStatusOf(app(seq), RUN, AT)).toMatchObject({
      phase: 'FAILED',
      failure: { reason: 'DriverStartTimedOut', message: 'timed out' },
    });
  });

  it('reports an evicted driver with the pod reason in the message', () => {
    const seq = [
      ...START,
      { state: 'DriverEvicted', driver: { phase: 'Failed', reason: 'Evicted' } },
      'ResourceReleased',
    ];
    expect(runStatusOf(app(seq), RUN, AT).failure).toEqual({ reason: 'DriverEvicted', message: 'driver pod: Evicted' });
  });

  it('reports a run deleted mid-flight (running state then ResourceReleased) as CANCELLED', () => {
    const seq = [...START, { state: 'ResourceReleased', message: 'Spark application has been shutdown as requested.' }];
    expect(runStatusOf(app(seq), RUN, AT)).toMatchObject({ phase: 'CANCELLED' });
  });

  it('reports the starting states as PENDING and the driver and running states as RUNNING', () => {
    for (const s of ['Submitted', 'ScheduledToRestart', 'DriverRequested']) {
      expect(runStatusOf(app([s]), RUN, AT)).toMatchObject({ phase: 'PENDING', backendState: s });
    }
    for (const s of ['DriverStarted', 'DriverReady', 'RunningHealthy', 'RunningWithPartialCapacity']) {
      expect(runStatusOf(app([s]), RUN, AT)).toMatchObject({ phase: 'RUNNING', backendState: s });
    }
    expect(runStatusOf({ metadata: {} }, RUN, AT)).toMatchObject({ phase: 'PENDING', backendState: 'NoStatus' });
  });
});

describe('deleted and silent SparkApplications', () => {
  it('keeps the outcome of a finished object that was deleted (TTL), and calls any other deletion CANCELLED', () => {
    expect(deletedRunStatus(app([...START, 'Succeeded', 'ResourceReleased']), RUN, AT).phase).toBe('SUCCEEDED');
    expect(deletedRunStatus(app(START), RUN, AT)).toMatchObject({ phase: 'CANCELLED', backendState: 'Deleted' });
    expect(deletedRunStatus(undefined, RUN, AT).phase).toBe('CANCELLED');
  });

  it('fails with NO_STATUS when the operator wrote nothing within statusTimeoutMs, naming the namespace', () => {
    const silent: ObservedSparkApplication = { metadata: { name: 'x', namespace: 'sjns-fin', creationTimestamp: AT } };
    expect(noStatusTimeout(silent, RUN, new Date(Date.parse(AT) + 59_000), 60_000)).toBeUndefined();
    const late = noStatusTimeout(silent, RUN, new Date(Date.parse(AT) + 61_000), 60_000);
    expect(late).toMatchObject({ phase: 'FAILED', failure: { reason: 'NO_STATUS' } });
    expect(late?.failure?.message).toMatch(/namespace "sjns-fin" is probably not watched by the operator/);
    expect(noStatusTimeout(app(['Submitted']), RUN, new Date(Date.parse(AT) + 3_600_000), 60_000)).toBeUndefined();
  });

  it('parses the vendor run id back into cluster, namespace and name', () => {
    expect(parseVendorRunId(RUN.vendorRunId)).toEqual({ cluster: 'east', namespace: 'sjns-fin', name: 'sr-e1-abc-a1' });
    expect(() => parseVendorRunId('nonsense')).toThrow(/not a Kubernetes vendor run id/);
  });
});

describe('Kubernetes API throttle', () => {
  function fakeClock() {
    let t = 0;
    const waits: number[] = [];
    return {
      now: () => t,
      sleep: (ms: number) => {
        waits.push(ms);
        t += ms;
        return Promise.resolve();
      },
      waits,
    };
  }

  it('lets a burst through at once, then paces calls at qps', async () => {
    const clock = fakeClock();
    const throttle = createThrottle({ qps: 10, burst: 3, now: clock.now, sleep: clock.sleep });
    for (let i = 0; i < 5; i++) await throttle.call(() => Promise.resolve(i));
    expect(clock.waits).toHaveLength(2);
    expect(clock.waits[0]).toBeCloseTo(100);
    expect(clock.now()).toBeCloseTo(200);
  });

  it('retries 429 (honouring Retry-After) and 5xx, but not other 4xx', async () => {
    const clock = fakeClock();
    const throttle = createThrottle({ qps: 1000, burst: 1000, now: clock.now, sleep: clock.sleep, baseDelayMs: 10 });
    const answers = [
      Object.assign(new Error('slow down'), { code: 429, headers: { 'retry-after': '2' } }),
      Object.assign(new Error('etcd'), { code: 503 }),
    ];
    let calls = 0;
    const result = await throttle.call(() => {
      calls++;
      const next = answers.shift();
      return next ? Promise.reject(next) : Promise.resolve('ok');
    });
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(clock.waits[0]).toBe(2000);
    let conflicts = 0;
    await expect(
      throttle.call(() => {
        conflicts++;
        return Promise.reject(Object.assign(new Error('exists'), { code: 409 }));
      }),
    ).rejects.toThrow('exists');
    expect(conflicts).toBe(1);
  });

  it('gives up after the configured retries with the last error', async () => {
    const clock = fakeClock();
    const throttle = createThrottle({ qps: 1000, burst: 1000, retries: 2, now: clock.now, sleep: clock.sleep });
    let calls = 0;
    await expect(
      throttle.call(() => {
        calls++;
        return Promise.reject(Object.assign(new Error(`boom ${calls}`), { code: 500 }));
      }),
    ).rejects.toThrow('boom 3');
  });
});
