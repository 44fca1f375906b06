/**
 * Per-team concurrency limits are enforced before submit: the excess waits in a queue (PENDING, not failed),
 * first come first served, and starts when a slot frees. Real Temporal and Postgres; the sim backend runs the jobs.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { JobSpec } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { cancelUpdate } from '../../workflows/definitions.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const sim = createSimBackend();
let stack: TestStack;

beforeAll(async () => {
  stack = await openTestStack({ TEAM_CONCURRENCY_LIMITS: 'queued-team=1', TEAM_QUEUE_POLL_MS: '200' });
  await stack.startWorker({ sim });
});
afterAll(async () => stack?.close());

const spec = (name: string, runMs: number) =>
  JobSpec.parse({
    name,
    engineVersion: '4.0',
    backend: 'sim',
    application: { type: 'python', file: 'job.py' },
    sim: { attempts: [{ runningAfterMs: 50, endAfterMs: runMs }] },
  });

const submit = async (team: string, name: string, runMs: number) =>
  (await submitExecution(stack, { team, trigger: 'api', spec: spec(name, runMs) })).execution.executionId;

it('queues executions beyond the team limit and starts each, in order, when a slot frees', async () => {
  const first = await submit('queued-team', 'first', 2500);
  await eventually('the first to run', async () =>
    (await stack.store.getExecution(first))?.state === 'RUNNING' ? true : undefined,
  );
  const second = await submit('queued-team', 'second', 300);
  const third = await submit('queued-team', 'third', 300);
  const unlimited = await submit('free-team', 'unlimited', 300);

  // Another team is not held back, while this team's excess waits without a backend submission.
  await executionHandle(stack.client, unlimited).result();
  for (const id of [second, third]) {
    const row = (await stack.store.getExecution(id))!;
    expect(row.state).toBe('PENDING');
    expect(sim.submissions(id)).toBe(0);
  }

  const results = await Promise.all([first, second, third].map((id) => executionHandle(stack.client, id).result()));
  expect(results.map((r) => r.state)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
  const [a, b, c] = await Promise.all([first, second, third].map(async (id) => (await stack.store.getExecution(id))!));
  expect(b!.submittedAt!.getTime()).toBeGreaterThanOrEqual(a!.endTime!.getTime());
  expect(c!.submittedAt!.getTime()).toBeGreaterThanOrEqual(b!.endTime!.getTime());
});

it('cancels a queued execution without ever submitting it', async () => {
  const running = await submit('queued-team', 'holder', 3000);
  await eventually('the holder to run', async () =>
    (await stack.store.getExecution(running))?.state === 'RUNNING' ? true : undefined,
  );
  const queued = await submit('queued-team', 'never-runs', 300);
  await eventually(
    'the queued execution to be recorded',
    async () => (await stack.store.getExecution(queued)) ?? undefined,
  );
  expect(
    await executionHandle(stack.client, queued).executeUpdate(cancelUpdate, { args: [{ reason: 'not needed' }] }),
  ).toBe('CANCELLED');
  expect((await stack.store.getExecution(queued))!.state).toBe('CANCELLED');
  expect(sim.submissions(queued)).toBe(0);
  expect((await executionHandle(stack.client, running).result()).state).toBe('SUCCEEDED');
});

it('shows a queued execution as TEAM_QUEUE, and ends it FAILED/TIMEOUT without a submission when its deadline passes there', async () => {
  const running = await submit('queued-team', 'long-holder', 4000);
  await eventually('the holder to run', async () =>
    (await stack.store.getExecution(running))?.state === 'RUNNING' ? true : undefined,
  );
  const { execution } = await submitExecution(stack, {
    team: 'queued-team',
    trigger: 'api',
    spec: { ...spec('impatient', 300), timeoutSeconds: 1 },
  });
  const queued = execution.executionId;
  const reason = await eventually(
    'the queue reason',
    async () => (await stack.store.getExecution(queued))?.pendingReason ?? undefined,
  );
  expect(reason).toMatchObject({
    code: 'TEAM_QUEUE',
    message: expect.stringMatching(/limit of 1 concurrent/) as unknown,
  });
  const result = await executionHandle(stack.client, queued).result();
  expect(result).toMatchObject({ state: 'FAILED', failureClass: 'TIMEOUT', attempts: 1 });
  expect(sim.submissions(queued)).toBe(0);
  expect((await stack.store.getExecution(queued))!.pendingReason).toBeNull();
  expect((await executionHandle(stack.client, running).result()).state).toBe('SUCCEEDED');
});
