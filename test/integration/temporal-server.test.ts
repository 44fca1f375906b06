/**
 * The real Temporal server (go.temporal.io/server on Postgres, as deployed), instead of the CLI's dev server:
 * the project's worker runs executions through it, an execution survives the server being SIGKILLed and
 * restarted, and a frontend with mTLS refuses clients without a certificate from its CA.
 */
import path from 'node:path';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import type { ExecutionResult } from '../../workflows/definitions.js';
import { certPair, generateTestCerts } from '../helpers/certs.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';
import { startTestTemporalServer, type TestTemporalServer } from '../helpers/temporal-server.js';

const sim = createSimBackend();

function simSpec(name: string, attempt: NonNullable<JobSpecInput['sim']>['attempts'][number]) {
  return JobSpec.parse({
    name,
    engineVersion: '4.0',
    application: { type: 'python', file: path.resolve('examples/pi.py') },
    backend: 'sim',
    sim: { attempts: [attempt] },
  });
}

describe('on the real Temporal server with Postgres persistence', () => {
  let server: TestTemporalServer;
  let stack: TestStack;

  beforeAll(async () => {
    server = await startTestTemporalServer();
    stack = await openTestStack({ TEMPORAL_ADDRESS: server.address, STATUS_POLL_INTERVAL_MS: '1000' });
    await stack.startWorker({ sim });
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
    await server?.stop();
  });

  async function submit(name: string, attempt: NonNullable<JobSpecInput['sim']>['attempts'][number]) {
    const { execution } = await submitExecution(stack, {
      team: 'real-temporal',
      trigger: 'api',
      spec: simSpec(name, attempt),
    });
    return { id: execution.executionId, handle: executionHandle(stack.client, execution.executionId) };
  }

  it('runs a sim execution to SUCCEEDED through the project worker, and Postgres records it', async () => {
    const { id, handle } = await submit('on-real-server', { runningAfterMs: 300, endAfterMs: 2000 });
    const result: ExecutionResult = await handle.result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
    expect(await stack.store.getExecution(id)).toMatchObject({ state: 'SUCCEEDED', backend: 'sim' });
    const events = await stack.store.listEvents(id);
    expect(events.map((e) => `${e.attempt}:${e.eventType}`)).toEqual([
      '1:SUBMIT',
      '1:RUNNING',
      '1:TERMINAL',
      '1:METRICS_SUMMARY',
    ]);
    // The workflow history is in the server's own database, not in memory.
    const described = await handle.describe();
    expect(described.status.name).toBe('COMPLETED');
  });

  it('completes an execution whose Temporal server was SIGKILLed mid-run and restarted, with no duplicate events', async () => {
    const { id, handle } = await submit('survives-server-crash', { runningAfterMs: 200, endAfterMs: 6000 });
    await eventually(
      'the run to be RUNNING',
      async () => ((await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined),
      60_000,
    );
    const killedPid = server.current.pid;
    await server.kill('SIGKILL');
    // Killed mid-run: the workflow had not finished it.
    expect((await stack.store.getExecution(id))?.state).toBe('RUNNING');
    await server.restart();
    expect(server.current.pid).not.toBe(killedPid);

    const result: ExecutionResult = await handle.result();
    expect(result).toMatchObject({ state: 'SUCCEEDED', attempts: 1 });
    expect(sim.submissions(id)).toBe(1);
    expect(await stack.store.getExecution(id)).toMatchObject({ state: 'SUCCEEDED' });
    const events = await stack.store.listEvents(id);
    expect(events.map((e) => `${e.attempt}:${e.eventType}`)).toEqual([
      '1:SUBMIT',
      '1:RUNNING',
      '1:TERMINAL',
      '1:METRICS_SUMMARY',
    ]);
    expect(new Set(events.map((e) => e.eventId)).size).toBe(events.length);
  }, 120_000);
});

describe('a frontend with mTLS', () => {
  let server: TestTemporalServer;
  let certs: Awaited<ReturnType<typeof generateTestCerts>>;

  beforeAll(async () => {
    certs = await generateTestCerts(path.join(process.env.SPARK_RUNNER_TEST_TMP!, `certs-${process.pid}`));
    server = await startTestTemporalServer({ tls: { certs, requireClientAuth: true } });
  }, 180_000);
  afterAll(async () => server?.stop());

  /** What the SDK reports when the TLS handshake fails: it retries until connectTimeout, then gives up. */
  const REFUSED = /Failed to connect before the deadline/;

  /** Connects and asks for the namespace: what a client or worker does first. */
  async function tryConnect(tls: ConnectionOptions['tls']): Promise<string> {
    const connection = await Connection.connect({ address: server.address, tls, connectTimeout: 2000 });
    try {
      const { namespaceInfo } = await connection.workflowService.describeNamespace({ namespace: 'default' });
      return namespaceInfo!.name!;
    } finally {
      await connection.close();
    }
  }

  it('refuses a plaintext connection', async () => {
    await expect(tryConnect(undefined)).rejects.toThrow(REFUSED);
  });

  it('refuses a TLS connection without a client certificate', async () => {
    await expect(tryConnect({ serverRootCACertificate: certPair(certs.ca).crt })).rejects.toThrow(REFUSED);
  });

  it('refuses a client certificate signed by another CA', async () => {
    const tls = { serverRootCACertificate: certPair(certs.ca).crt, clientCertPair: certPair(certs.otherClient) };
    await expect(tryConnect(tls)).rejects.toThrow(REFUSED);
  });

  it('is not trusted by a client that trusts only another CA', async () => {
    const tls = { serverRootCACertificate: certPair(certs.otherCa).crt, clientCertPair: certPair(certs.client) };
    await expect(tryConnect(tls)).rejects.toThrow(REFUSED);
  });

  it('accepts a client certificate from its CA', async () => {
    const tls = { serverRootCACertificate: certPair(certs.ca).crt, clientCertPair: certPair(certs.client) };
    expect(await tryConnect(tls)).toBe('default');
  });
});
