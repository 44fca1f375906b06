/**
 * The README's "Your first job" curl examples, run as written with bash and curl against a real API, worker,
 * Temporal, Postgres and local Spark. Only the host:port (the test API listens on a free port) and `<id>` (the
 * id the submit printed) are substituted.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;

beforeAll(async () => {
  stack = await openTestStack();
  await stack.startWorker();
  api = await startTestApi(stack, { adminTokens: ['dev-admin-token'] });
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
});

/** The commands of the README's first-job block: each starts a line; quoted or continued lines belong to it. */
function readmeCommands(): string[] {
  const readme = fs.readFileSync('README.md', 'utf8');
  const section = readme.slice(readme.indexOf('## Your first job'));
  const block = /```sh\n([\s\S]*?)```/.exec(section)![1]!;
  const commands: string[] = [];
  for (const line of block.split('\n')) {
    if (/^(curl|export) /.test(line)) commands.push(line);
    else if (line.trim() && !line.startsWith('#')) commands[commands.length - 1] += `\n${line}`;
  }
  return commands;
}

it("runs the README's curl examples as written: submit SparkPi, check it, read its events and logs, cancel", async () => {
  const commands = readmeCommands();
  const hostPort = api.url.replace('http://', '');
  let id = '';
  // Asynchronous on purpose: the API answering curl runs in this very process.
  const run = async (command: string) => {
    const script = `${commands[0]}\n${command.replaceAll('localhost:8080', hostPort).replaceAll('<id>', id)}`;
    return (await promisify(execFile)('bash', ['-c', script], { encoding: 'utf8' })).stdout;
  };
  expect(commands[0]).toBe('export TOKEN=dev-admin-token');
  const [health, submit, status, events, logs, cancel] = commands.slice(1);

  expect(JSON.parse(await run(health!))).toMatchObject({ status: 'up' });
  const accepted = JSON.parse(await run(submit!)) as { execution_id: string; status: string; job_path: string };
  expect(accepted).toMatchObject({ status: 'PENDING', job_path: 'data-infra/spark-pi' });
  id = accepted.execution_id;

  const final = await eventually(
    'SparkPi to finish',
    async () => {
      const s = JSON.parse(await run(status!)) as { status: string };
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(s.status) ? s : undefined;
    },
    180_000,
  );
  expect(final).toMatchObject({ status: 'SUCCEEDED', attempts: 1, backend: 'local' });
  const eventTypes = (JSON.parse(await run(events!)) as { items: { event_type: string }[] }).items.map(
    (e) => e.event_type,
  );
  expect(eventTypes).toEqual(['SUBMIT', 'RUNNING', 'TERMINAL', 'METRICS_SUMMARY']);
  expect(await run(logs!)).toMatch(/Pi is roughly 3\.1/);
  const refused = JSON.parse(await run(cancel!)) as { status: number; detail: string };
  expect(refused.status).toBe(409);
  expect(refused.detail).toMatch(/already finished: SUCCEEDED/);
  // Submitting again with the same Idempotency-Key returns the same execution instead of running it twice.
  expect((JSON.parse(await run(submit!)) as { execution_id: string }).execution_id).toBe(id);
});
