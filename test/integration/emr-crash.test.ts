/**
 * Exactly one EMR job run per attempt, even when the worker dies at the worst moment: after EMR has started the
 * job run but before the worker has learnt its id. A loopback HTTP proxy in front of the EMR API emulator lets
 * StartJobRun through, then SIGKILLs the worker process before the answer reaches it. A second worker retries
 * the submit and must adopt that run (EMR's clientToken cannot be relied on: moto, like a careless client,
 * ignores it). moto stands in for AWS only; the workers are real bin/worker.ts processes.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { JobSpec } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { startMoto, type TestMoto } from '../helpers/moto.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';

let moto: TestMoto;
let stack: TestStack;
let proxy: http.Server;
/** The worker the proxy kills on the first StartJobRun it lets through. */
let victim: ChildProcess | undefined;
let startJobRuns = 0;

beforeAll(async () => {
  moto = await startMoto();
  const target = new URL(moto.endpoint);
  proxy = http.createServer((req, res) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const isStart = req.method === 'POST' && /\/virtualclusters\/[^/]+\/jobruns$/.test(req.url ?? '');
        if (isStart) startJobRuns += 1;
        if (isStart && victim) {
          // EMR has started the run; the worker dies before it hears the id.
          const dying = victim;
          victim = undefined;
          answer.resume();
          answer.on('end', () => {
            dying.kill('SIGKILL');
            res.destroy();
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const file = path.join(process.env.SPARK_RUNNER_TEST_TMP!, `emr-crash-${Date.now()}.yaml`);
  fs.writeFileSync(
    file,
    YAML.stringify({
      emr: {
        ...moto.emrConfig,
        endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
        statusPollIntervalMs: 300,
      },
    }),
  );
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    STATUS_POLL_INTERVAL_MS: '1000',
  });
}, 120_000);

afterAll(async () => {
  await stack?.close();
  await new Promise((resolve) => proxy?.close(resolve));
  await moto?.stop();
});

it('starts exactly one EMR job run when the worker is SIGKILLed between StartJobRun and recording the run id', async () => {
  // Each state lasts a second, as on AWS it lasts a while: every one is seen.
  await moto.setTransition({ progression: 'time', seconds: 1 });
  const first = stack.startWorkerProcess();
  victim = first;
  const died = new Promise((resolve) => first.once('exit', resolve));
  const spec = JobSpec.parse({
    name: 'emr-survives',
    engineVersion: '3.5',
    backend: 'emr',
    application: { type: 'python', file: 's3://jobs/pi.py' },
  });
  const { execution } = await submitExecution(stack, { team: 'durability', trigger: 'api', spec });
  await died;
  expect(startJobRuns).toBe(1);
  expect((await stack.store.getExecution(execution.executionId))!.vendorRunId).toBeNull();

  stack.startWorkerProcess();
  const result = await executionHandle(stack.client, execution.executionId).result();
  expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
  expect(await moto.countJobRuns(`sr-${execution.executionId}-1`)).toBe(1);
  expect(startJobRuns).toBe(1); // the retried submit adopted the run instead of starting another
  // No event twice. RUNNING is there only if the run was still running when the retried submit adopted it.
  const events = (await stack.store.listEvents(execution.executionId)).map((e) => e.eventType);
  expect(events.filter((e) => e !== 'RUNNING')).toEqual(['SUBMIT', 'TERMINAL', 'METRICS_SUMMARY']);
  expect(events.filter((e) => e === 'RUNNING').length).toBeLessThanOrEqual(1);
});
