/**
 * The MCP debug server (mcp/), driven by the SDK's own Client over both transports: stdio (`spark-runner mcp`, a
 * real child process with SPARK_RUNNER_URL/SPARK_RUNNER_TOKEN) and streamable HTTP (POST /mcp on a real API).
 * Behind them: the real Temporal, Postgres and a worker running real local Spark. The failed run is a real PySpark
 * job that raises; why_failed must find its Python exception in the archived driver log.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PI = path.join(ROOT, 'examples/pi.py');
const JOB = `mcp-etl-${Date.now().toString(36)}`;

let stack: TestStack;
let api: TestApi;
const clients: Client[] = [];
let failedId: string;
let succeededId: string;

function pythonJob(name: string, lines: string[]): string {
  const file = path.join(fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, `${name}-`)), `${name}.py`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

async function submit(token: string, name: string, file: string, args: string[] = []): Promise<string> {
  const res = await fetch(`${api.url}/api/v1/jobs`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, engineVersion: '4.0', backend: 'local', application: { type: 'python', file }, args }),
  });
  expect(res.status, await res.clone().text()).toBe(202);
  return ((await res.json()) as { execution_id: string }).execution_id;
}

async function finished(id: string): Promise<string> {
  return eventually(
    `execution ${id} to end`,
    async () => {
      const row = await stack.store.getExecution(id);
      return row && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(row.state) ? row.state : undefined;
    },
    180_000,
  );
}

async function httpClient(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${api.url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  clients.push(client);
  return client;
}

async function stdioClient(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1' });
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
  await client.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [path.join(ROOT, 'bin/spark-runner.js'), 'mcp'],
      cwd: ROOT,
      env: { ...env, SPARK_RUNNER_URL: api.url, SPARK_RUNNER_TOKEN: token },
      stderr: 'pipe',
    }),
  );
  clients.push(client);
  return client;
}

const text = (r: unknown) => (r as CallToolResult).content.map((c) => (c.type === 'text' ? c.text : '')).join('');
const json = (r: unknown) => JSON.parse(text(r)) as Record<string, unknown>;

beforeAll(async () => {
  stack = await openTestStack();
  await stack.startWorker();
  api = await startTestApi(stack);
  const failing = pythonJob('orders', [
    'from pyspark.sql import SparkSession',
    '',
    'def check(df):',
    '    if df.filter("id > 100").count() == 0:',
    '        raise ValueError("mcp check: the orders table has no rows above id 100")',
    '',
    'spark = SparkSession.builder.appName("orders").getOrCreate()',
    'check(spark.range(10))',
  ]);
  // The same job succeeds once (SparkPi), then fails: compare_runs has a last success to compare with.
  succeededId = await submit(api.tokens.dataInfra, JOB, PI, ['2']);
  expect(await finished(succeededId)).toBe('SUCCEEDED');
  failedId = await submit(api.tokens.dataInfra, JOB, failing);
  expect(await finished(failedId)).toBe('FAILED');
}, 400_000);

afterAll(async () => {
  for (const c of clients) await c.close().catch(() => undefined);
  await api?.close();
  await stack?.close();
});

const TOOLS = [
  'cancel_execution',
  'compare_runs',
  'get_execution',
  'get_logs',
  'get_recommendation',
  'list_executions',
  'why_failed',
];

describe.each([
  ['stdio (spark-runner mcp)', stdioClient],
  ['streamable HTTP (POST /mcp)', httpClient],
] as const)('the MCP debug server over %s', (_name, connect) => {
  let member: Client;
  let other: Client;
  beforeAll(async () => {
    member = await connect(api.tokens.dataInfra);
    other = await connect(api.tokens.other);
  }, 60_000);

  it('lists the debug tools, each taking its execution as executionId', async () => {
    const { tools } = await member.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(TOOLS);
    for (const t of tools.filter((t) => t.name !== 'list_executions')) {
      expect(t.inputSchema.required, t.name).toContain('executionId');
    }
  });

  it('explains the failed PySpark run: USER_ERROR, the failing attempt and the Python ValueError with its traceback', async () => {
    const result = await member.callTool({ name: 'why_failed', arguments: { executionId: failedId } });
    expect(result.isError, text(result)).toBeFalsy();
    const why = json(result);
    expect(why).toMatchObject({ status: 'FAILED', failure_class: 'USER_ERROR', failing_attempt: 1 });
    expect(why.exception).toBe('ValueError: mcp check: the orders table has no rows above id 100');
    expect(why.exception_kind).toBe('python');
    const traceback = String(why.traceback).split('\n');
    expect(traceback[0]).toBe('Traceback (most recent call last):');
    expect(traceback.some((l) => /line 8, in <module>/.test(l))).toBe(true);
    expect(traceback.some((l) => /line 5, in check/.test(l))).toBe(true);
    expect(traceback.length).toBeLessThanOrEqual(40);
    expect((why.events as { type: string }[]).map((e) => e.type)).toEqual(['SUBMIT', 'RUNNING', 'TERMINAL']);
  });

  it('lists the team’s executions with filters, and gets one', async () => {
    const list = json(await member.callTool({ name: 'list_executions', arguments: { job: `data-infra/${JOB}` } }));
    const ids = (list.items as { execution_id: string; status: string }[]).map((e) => `${e.execution_id}:${e.status}`);
    expect(ids).toEqual([`${failedId}:FAILED`, `${succeededId}:SUCCEEDED`]);
    const failedOnly = json(
      await member.callTool({ name: 'list_executions', arguments: { job: `data-infra/${JOB}`, state: 'FAILED' } }),
    );
    expect((failedOnly.items as unknown[]).length).toBe(1);
    const one = json(await member.callTool({ name: 'get_execution', arguments: { executionId: succeededId } }));
    expect(one).toMatchObject({ execution_id: succeededId, status: 'SUCCEEDED', backend: 'local' });
  });

  it('reads the driver log with tail and grep, within the cap', async () => {
    const pi = text(
      await member.callTool({ name: 'get_logs', arguments: { executionId: succeededId, grep: 'pi is' } }),
    );
    expect(pi).toMatch(/^\[1 lines\]\nPi is roughly 3\.1\d*$/);
    const tail = text(await member.callTool({ name: 'get_logs', arguments: { executionId: failedId, tail: 3 } }));
    expect(tail.split('\n')).toHaveLength(4);
    const capped = await member.callTool({ name: 'get_logs', arguments: { executionId: failedId, tail: 100_000 } });
    expect(capped.isError).toBe(true);
    const bad = await member.callTool({ name: 'get_logs', arguments: { executionId: failedId, grep: '([' } });
    expect(bad.isError).toBe(true);
    expect(text(bad)).toContain('grep is not a valid regular expression');
  });

  it('compares the failed run with the last success of the same job', async () => {
    const cmp = json(await member.callTool({ name: 'compare_runs', arguments: { executionId: failedId } }));
    expect(cmp).toMatchObject({
      run: { execution_id: failedId, status: 'FAILED' },
      last_success: { execution_id: succeededId, status: 'SUCCEEDED' },
    });
    expect(cmp.differs).toContain('status');
  });

  it('gives APS’s sizing recommendation for the execution’s job', async () => {
    const rec = json(await member.callTool({ name: 'get_recommendation', arguments: { executionId: failedId } }));
    expect(rec).toMatchObject({ job_path: `data-infra/${JOB}`, job_id: `data-infra.${JOB}` });
    expect(rec.samples).toBeGreaterThanOrEqual(2);
    expect(rec.resources).toBeDefined();
  });

  it('refuses another team’s execution as not found, on every tool', async () => {
    for (const name of [
      'why_failed',
      'get_execution',
      'get_logs',
      'compare_runs',
      'get_recommendation',
      'cancel_execution',
    ]) {
      const result = await other.callTool({ name, arguments: { executionId: failedId, confirm: true } });
      expect(result.isError, name).toBe(true);
      expect(text(result), name).toMatch(/^not found: /);
      expect(text(result), name).not.toContain('ValueError');
    }
    const list = json(await other.callTool({ name: 'list_executions', arguments: { job: `data-infra/${JOB}` } }));
    expect(list.items).toEqual([]);
  });

  it('refuses cancel_execution without confirm: true and leaves the run alone; with it, cancels', async () => {
    const sleeper = pythonJob('sleeper', [
      'import time',
      'from pyspark.sql import SparkSession',
      'SparkSession.builder.appName("sleeper").getOrCreate()',
      'time.sleep(600)',
    ]);
    const id = await submit(api.tokens.dataInfra, `${JOB}-sleeper`, sleeper);
    await eventually(
      'the sleeper to run',
      async () => ((await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined),
      120_000,
    );
    for (const args of [{ executionId: id }, { executionId: id, confirm: false }]) {
      const refused = await member.callTool({ name: 'cancel_execution', arguments: args });
      expect(refused.isError).toBe(true);
      expect(text(refused)).toContain('needs confirm: true');
    }
    expect((await stack.store.listEvents(id)).map((e) => e.eventType)).not.toContain('CANCEL_REQUESTED');
    expect((await stack.store.getExecution(id))?.state).toBe('RUNNING');
    const done = await member.callTool({ name: 'cancel_execution', arguments: { executionId: id, confirm: true } });
    expect(done.isError, text(done)).toBeFalsy();
    expect(json(done)).toMatchObject({ execution_id: id, status: 'CANCEL_REQUESTED' });
    expect(await finished(id)).toBe('CANCELLED');
  }, 200_000);
});

describe('POST /mcp', () => {
  it('answers 401 without a token and takes no MCP message', async () => {
    const res = await fetch(`${api.url}/mcp`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expect(res.status).toBe(401);
  });
});
