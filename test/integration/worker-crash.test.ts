/**
 * Durability: the worker process is SIGKILLed while a real local Spark job runs, and a new worker process takes
 * over. The execution must complete, with one backend submission and no duplicate events.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobSpec } from '../../schema/job-spec.js';
import { submitExecution } from '../../service/submit.js';
import { executionHandle } from '../../service/handles.js';
import type { ExecutionResult } from '../../workflows/definitions.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;

beforeAll(async () => {
  stack = await openTestStack({ STATUS_POLL_INTERVAL_MS: '2000' });
});
afterAll(async () => {
  await stack?.close();
});

it('completes an execution whose worker was killed mid-run, without a second submission or duplicate events', async () => {
  const first = stack.startWorkerProcess();
  const spec = JobSpec.parse({
    name: 'survives-crash',
    engineVersion: '4.0',
    backend: 'local',
    application: { type: 'python', file: path.resolve('examples/pi.py') },
    args: ['4'],
  });
  const { execution } = await submitExecution(stack, { team: 'durability', trigger: 'api', spec });
  const id = execution.executionId;
  await eventually(
    'the run to be RUNNING',
    async () => ((await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined),
    120_000,
  );

  first.kill('SIGKILL');
  await new Promise((resolve) => first.once('exit', resolve));
  stack.startWorkerProcess();

  const result: ExecutionResult = await executionHandle(stack.client, id).result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });

  const runs = path.join(stack.config.SPARK_RUNNER_DATA, 'runs', id);
  expect(fs.readdirSync(runs)).toEqual(['1']);
  const log = fs.readFileSync(path.join(runs, '1', 'driver.log'), 'utf8');
  expect(log.match(/Running Spark version/g)).toHaveLength(1);
  expect(log).toMatch(/Pi is roughly/);

  const events = await stack.store.listEvents(id);
  const kinds = events.map((e) => `${e.attempt}:${e.eventType}`);
  expect(kinds).toEqual(['1:SUBMIT', '1:RUNNING', '1:TERMINAL', '1:METRICS_SUMMARY']);
  expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
});
