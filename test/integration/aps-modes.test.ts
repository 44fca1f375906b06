/**
 * APS's three modes on real Temporal and Postgres, with the `sim` backend standing in for a cluster where an
 * executor OOM cannot be produced on demand (the real JVM OOM on local Spark is aps-remediation.test.ts): an
 * execution whose executor ran out of memory and succeeded after AR raised it; then the same job in `recommend`
 * (recorded, not applied), `auto` (applied) and `manual` (neither), as its SUBMIT events show.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';

const sim = createSimBackend();
let stack: TestStack;

beforeAll(async () => {
  stack = await openTestStack();
  await stack.startWorker({ sim });
});
afterAll(async () => stack?.close());

const OOM = {
  outcome: 'FAILED' as const,
  endAfterMs: 100,
  failure: {
    exitCode: 1,
    logTail:
      'WARN TaskSetManager: Lost task 3.0 in stage 1.0 (TID 9) (10.0.0.4 executor 2): java.lang.OutOfMemoryError: Java heap space',
  },
};

function spec(sizing: JobSpecInput['sizing'], attempts: NonNullable<JobSpecInput['sim']>['attempts']) {
  return JobSpec.parse({
    name: 'modes-job',
    engineVersion: '4.0',
    backend: 'sim',
    application: { type: 'python', file: 'job.py' },
    resources: { executor: { memory: '2g', instances: 2 } },
    retryPolicy: { maxAttempts: 3, backoffSeconds: 0 },
    sim: { attempts },
    ...(sizing ? { sizing } : {}),
  });
}

async function run(s: ReturnType<typeof spec>) {
  const { execution } = await submitExecution(stack, { team: 'aps-modes', trigger: 'api', spec: s });
  const result = await executionHandle(stack.client, execution.executionId).result();
  const submits = (await stack.store.listEvents(execution.executionId))
    .filter((e) => e.eventType === 'SUBMIT')
    .map(
      (e) =>
        e.payload as {
          resources: { executor: { memoryMb: number } };
          sizing?: { mode: string; applied: boolean; resources: { executor: { memoryMb: number } }; changes: string[] };
        },
    );
  return { result, submits };
}

it('recommend records the remembered size without applying it; auto applies it; manual does neither', async () => {
  const first = await run(spec('auto', [OOM, { outcome: 'SUCCEEDED', endAfterMs: 100 }]));
  expect(first.result).toMatchObject({ state: 'SUCCEEDED', attempts: 2 });
  expect(first.submits.map((s) => s.resources.executor.memoryMb)).toEqual([2048, 3072]);

  const recommended = await run(spec('recommend', [{ outcome: 'SUCCEEDED', endAfterMs: 100 }]));
  expect(recommended.submits[0]!.resources.executor.memoryMb).toBe(2048);
  expect(recommended.submits[0]!.sizing).toMatchObject({ mode: 'recommend', applied: false });
  expect(recommended.submits[0]!.sizing!.resources.executor.memoryMb).toBe(3072);
  expect(recommended.submits[0]!.sizing!.changes).toEqual([
    expect.stringMatching(/^executor memory 2048 MiB → 3072 MiB \(/),
  ]);

  // The sim run was given 2 GiB again and succeeded: what last succeeded is now 2 GiB, but the OOM at 2 GiB
  // is remembered, so auto still starts at the 3 GiB that worked after it.
  const auto = await run(spec('auto', [{ outcome: 'SUCCEEDED', endAfterMs: 100 }]));
  expect(auto.result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
  expect(auto.submits[0]!.resources.executor.memoryMb).toBe(3072);
  expect(auto.submits[0]!.sizing).toMatchObject({ mode: 'auto', applied: true });

  const manual = await run(spec(undefined, [{ outcome: 'SUCCEEDED', endAfterMs: 100 }]));
  expect(manual.submits[0]!.resources.executor.memoryMb).toBe(2048);
  expect(manual.submits[0]!.sizing).toBeUndefined();
});
