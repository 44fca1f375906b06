/**
 * The real Temporal server (go.temporal.io/server v1.31.2 on Postgres, as deployed), instead of the CLI's dev server,
 * for the paths that matter in production; the rest of the suite stays on the dev server, for speed.
 *
 * - The product on it: SparkPi on local Spark through the API, a schedule firing, a continuous job, a cancel, and an
 *   execution that survives the server being SIGKILLed and restarted on the same Postgres. Visibility queries over
 *   the search attributes find what ran (SQL visibility: `Trigger` must be backquoted).
 * - Spark Runner's own set-up on a server nobody has set up: the API refuses to start and says why; the compose
 *   file's set-up service and the Helm chart's hook Job, run with their exact command and environment (from this
 *   checkout's bin/spark-runner.js rather than the image's /app, and with only the address replaced), create the
 *   namespace and the search attributes; a second run changes nothing; a submit through the API then runs.
 * - A frontend with mTLS: the worker and the API connect through TEMPORAL_TLS_*, and a wrong CA or a client
 *   certificate from another CA stops a process at start with one line.
 * - A frontend with the server's own JWT authorizer: an API key (TEMPORAL_API_KEY, the SDK's apiKey) is what lets a
 *   worker in; without one, or with a forged one, a process stops at start with one line; the set-up without the
 *   rights it needs fails with one line naming them. Temporal Cloud's API keys are not tried (none here).
 *
 * Stand-ins: the JWKS the authorizer reads is served by the test (test/helpers/jwt.ts); the sim backend stands in
 * for Spark where a run must last long or be counted. No Docker here, so no container runs.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { msToTs, tsToMs } from '@temporalio/common/lib/time.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import { checkTemporal } from '../../bin/runtime.js';
import { loadConfig } from '../../config/index.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { ensureHelm } from '../../provision/deploy-tools/index.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { executionWorkflowId, SEARCH_ATTRIBUTES } from '../../schema/vocabulary.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import type { ExecutionResult } from '../../workflows/definitions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { certPair, generateTestCerts, type TestCerts } from '../helpers/certs.js';
import { renderChart, type Container, type KubeObject } from '../helpers/chart.js';
import { startJwtIssuer, type TestJwtIssuer } from '../helpers/jwt.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';
import { startTestTemporalServer, type TestTemporalServer } from '../helpers/temporal-server.js';

const runCommand = promisify(execFile);
const RUN = crypto.randomUUID().slice(0, 6);
const ATTRIBUTE_NAMES = SEARCH_ATTRIBUTES.map((a) => a.name).join(', ');

type SimAttempt = NonNullable<JobSpecInput['sim']>['attempts'][number];

function simSpec(name: string, attempt: SimAttempt) {
  return JobSpec.parse({
    name,
    engineVersion: '4.0',
    application: { type: 'python', file: path.resolve('examples/pi.py') },
    backend: 'sim',
    sim: { attempts: [attempt] },
  });
}

/**
 * Runs `argv` (starting with `node`) in this checkout, as a container runs it in /app: exactly `env` plus PATH and
 * HOME, nothing else inherited. Resolves with the exit code and output; never rejects on a non-zero exit.
 */
async function runEntryPoint(argv: string[], env: Record<string, string>) {
  expect(argv[0]).toBe('node');
  try {
    const { stdout, stderr } = await runCommand(process.execPath, argv.slice(1), {
      env: { PATH: process.env.PATH!, HOME: process.env.HOME!, ...env },
      timeout: 120_000,
    });
    return { code: 0, stdout: stdout.trim(), stderr: stderr.trim() };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: (e.stdout ?? '').trim(), stderr: (e.stderr ?? '').trim() };
  }
}

/** The CLI's set-up command with `env`, the way the compose service and the Helm Job run it. */
const temporalSetup = (env: Record<string, string>) =>
  runEntryPoint(['node', 'bin/spark-runner.js', 'admin', 'temporal-setup'], env);

/** Starts an entry point (`bin/api.ts` or `bin/worker.ts`) expected to stop at start; returns its stderr. */
async function failedStart(entry: 'api' | 'worker', env: Record<string, string>): Promise<string> {
  const result = await runEntryPoint(['node', '--import', 'tsx', `bin/${entry}.ts`], {
    DATABASE_URL: process.env.DATABASE_URL!,
    SPARK_HOME: process.env.SPARK_HOME!,
    SPARK_PYTHON: process.env.SPARK_PYTHON!,
    API_TOKENS: 'ci:*:admin:not-used',
    API_PORT: '0',
    TEMPORAL_TASK_QUEUE: `never-polled-${RUN}`,
    ...env,
  });
  expect(result.code, result.stderr).toBe(1);
  // One line, no stack trace.
  expect(result.stderr.split('\n'), result.stderr).toHaveLength(1);
  return result.stderr;
}

/** Calls the test API with its admin token. */
async function call(api: TestApi, method: string, route: string, body?: unknown) {
  const yaml = typeof body === 'string';
  const res = await fetch(`${api.url}${route}`, {
    method,
    headers: {
      authorization: `Bearer ${api.tokens.admin}`,
      ...(body === undefined ? {} : { 'content-type': yaml ? 'application/yaml' : 'application/json' }),
    },
    body: body === undefined ? undefined : yaml ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function finalStatus(api: TestApi, id: string, timeoutMs = 120_000) {
  return eventually(
    `execution ${id} to finish`,
    async () => {
      const { json } = await call(api, 'GET', `/api/v1/jobs/${id}`);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(json.status as string) ? json : undefined;
    },
    timeoutMs,
  );
}

/** The workflow ids a visibility query finds (SQL visibility is written a moment after the change). */
async function found(stack: TestStack, query: string, workflowId: string): Promise<string[]> {
  return eventually(`${query} to find ${workflowId}`, async () => {
    const ids: string[] = [];
    for await (const wf of stack.client.workflow.list({ query })) ids.push(wf.workflowId);
    return ids.includes(workflowId) ? ids : undefined;
  });
}

describe('on the real Temporal server with Postgres persistence', () => {
  const sim = createSimBackend();
  const team = 'real-temporal';
  let server: TestTemporalServer;
  let stack: TestStack;
  let api: TestApi;

  beforeAll(async () => {
    server = await startTestTemporalServer();
    stack = await openTestStack({ ...server.env, STATUS_POLL_INTERVAL_MS: '1000' });
    await stack.startWorker({ sim });
    api = await startTestApi(stack, { backends: { sim } });
  }, 180_000);
  afterAll(async () => {
    await api?.close();
    await stack?.close();
    await server?.stop();
  });

  async function submit(name: string, attempt: SimAttempt) {
    const { execution } = await submitExecution(stack, { team, trigger: 'api', spec: simSpec(name, attempt) });
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

  it('runs SparkPi on local Spark end to end through the API, and a visibility query over Team finds it', async () => {
    const submitted = await call(api, 'POST', '/api/v1/jobs', {
      team,
      name: 'spark-pi',
      engineVersion: '4.0',
      backend: 'local',
      application: { type: 'python', file: path.resolve('examples/pi.py') },
      args: ['2'],
    });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.execution_id as string;
    expect(await finalStatus(api, id)).toMatchObject({ status: 'SUCCEEDED', backend: 'local', attempts: 1 });
    expect((await call(api, 'GET', `/api/v1/jobs/${id}/logs`)).text).toMatch(/Pi is roughly 3\.1/);
    const ids = await found(
      stack,
      `Team = '${team}' AND JobPath = '${team}/spark-pi' AND ExecutionState = 'SUCCEEDED' AND Backend = 'local' AND \`Trigger\` = 'api'`,
      executionWorkflowId(id),
    );
    expect(ids).toEqual([executionWorkflowId(id)]);
  }, 180_000);

  it('fires a schedule, and its run is a schedule-triggered execution that `Trigger` finds', async () => {
    const name = `every-2s-${RUN}`;
    const manifest = `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata: { name: ${name}, team: ${team} }
spec:
  engine: { version: "4.0" }
  backend: sim
  application: { type: python, file: job.py }
  sim: { attempts: [{ runningAfterMs: 20, endAfterMs: 150 }] }
  orchestration: { schedule: "@every 2s", overlap: skip, catchupWindow: 1m }
`;
    expect((await call(api, 'POST', '/api/v1/manifests', manifest)).status).toBe(200);
    try {
      const execution = await eventually(
        'a scheduled run to succeed',
        async () => {
          const rows = await stack.store.listExecutions({ jobPath: `${team}/${name}`, limit: 10 });
          return rows.items.find((e) => e.state === 'SUCCEEDED');
        },
        60_000,
      );
      expect(execution).toMatchObject({ trigger: 'schedule' });
      expect(execution.scheduledTime).toBeTruthy();
      await found(
        stack,
        `\`Trigger\` = 'schedule' AND JobPath = '${team}/${name}' AND ExecutionState = 'SUCCEEDED'`,
        executionWorkflowId(execution.executionId),
      );
    } finally {
      expect((await call(api, 'DELETE', '/api/v1/manifests', manifest)).status).toBe(200);
    }
  }, 120_000);

  it('keeps a continuous job running, stops it, and resumes it with a new run', async () => {
    const name = `stream-${RUN}`;
    const id = `continuous-${team}.${name}`;
    const manifest = `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata: { name: ${name}, team: ${team} }
spec:
  engineVersion: "4.0"
  jobType: streaming
  backend: sim
  application: { type: python, file: stream.py }
  sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 600000 }] }
`;
    expect((await call(api, 'POST', '/api/v1/manifests', manifest)).status).toBe(200);
    const running = async (other?: string) =>
      eventually('the loop to run an execution', async () => {
        const { json } = await call(api, 'GET', `/api/v1/jobs/${id}`);
        const current = json.current_execution_id as string | undefined;
        const state = current ? (await stack.store.getExecution(current))?.state : undefined;
        return json.status === 'RUNNING' && state === 'RUNNING' && current !== other ? current : undefined;
      });
    const first = await running();
    expect((await stack.store.getExecution(first))!.trigger).toBe('continuous');
    await found(stack, `\`Trigger\` = 'continuous' AND JobPath = '${team}/${name}'`, executionWorkflowId(first));

    expect((await call(api, 'POST', `/api/v1/jobs/${id}/stop`)).status).toBe(200);
    expect((await call(api, 'GET', `/api/v1/jobs/${id}`)).json).toMatchObject({ status: 'STOPPED' });
    expect((await stack.store.getExecution(first))!.state).toBe('CANCELLED');

    expect((await call(api, 'POST', `/api/v1/jobs/${id}/resume`)).status).toBe(200);
    const second = await running(first);
    expect(second).not.toBe(first);
    const removed = await call(api, 'DELETE', '/api/v1/manifests', manifest);
    expect(removed.json).toMatchObject({ jobs: [{ jobPath: `${team}/${name}`, continuousStopped: true }] });
    expect((await stack.store.getExecution(second))!.state).toBe('CANCELLED');
  }, 120_000);

  it('cancels a running execution through the API: CANCELLED, with the request recorded', async () => {
    const submitted = await call(api, 'POST', '/api/v1/jobs', {
      team,
      name: 'to-cancel',
      engineVersion: '4.0',
      backend: 'sim',
      application: { type: 'python', file: 'job.py' },
      sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 600_000 }] },
    });
    expect(submitted.status, submitted.text).toBe(202);
    const id = submitted.json.execution_id as string;
    await eventually('the run to be RUNNING', async () =>
      (await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined,
    );
    expect((await call(api, 'DELETE', `/api/v1/jobs/${id}`)).status).toBe(202);
    expect(await finalStatus(api, id)).toMatchObject({ status: 'CANCELLED' });
    expect((await call(api, 'DELETE', `/api/v1/jobs/${id}`)).status).toBe(409);
    const events = (await stack.store.listEvents(id)).map((e) => `${e.attempt}:${e.eventType}`);
    expect(events).toEqual(expect.arrayContaining(['1:SUBMIT', '1:RUNNING', '1:CANCEL_REQUESTED', '1:TERMINAL']));
    expect(sim.submissions(id)).toBe(1);
    await found(stack, `ExecutionState = 'CANCELLED' AND Team = '${team}'`, executionWorkflowId(id));
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

describe("Spark Runner's own set-up on a server nobody has set up", () => {
  let server: TestTemporalServer;
  let helm: string;

  beforeAll(async () => {
    server = await startTestTemporalServer({ setup: false });
    helm = await ensureHelm({}, (line) => console.log(`[deploy-tools] ${line}`));
    // A cold cache builds helm from Go modules first: 1-5 min on 2 cores.
  }, 600_000);
  afterAll(async () => server?.stop());

  async function describeSetup(namespace: string) {
    const connection = await Connection.connect({ address: server.address });
    try {
      const { config } = await connection.workflowService.describeNamespace({ namespace });
      const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
      return {
        retentionDays: tsToMs(config!.workflowExecutionRetentionTtl) / 86_400_000,
        attributes: Object.keys(customAttributes ?? {}).sort(),
      };
    } finally {
      await connection.close();
    }
  }

  it('stops the API at start with one line that says to run the set-up', async () => {
    const stderr = await failedStart('api', { TEMPORAL_ADDRESS: server.address });
    expect(stderr).toBe(
      `api: namespace default does not exist on Temporal at ${server.address}: run \`spark-runner admin temporal-setup\` (or start the worker with TEMPORAL_SETUP_ON_START=true)`,
    );
  });

  it("creates the namespace and the search attributes with the compose file's set-up service, and a second run changes nothing", async () => {
    const compose = YAML.parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { command: string[]; environment: Record<string, string>; depends_on: unknown }>;
    };
    const service = compose.services['temporal-setup']!;
    // The image's entrypoint is `node`; the API waits for the set-up to have succeeded.
    const argv = ['node', ...service.command];
    expect(argv).toEqual(['node', 'bin/spark-runner.js', 'admin', 'temporal-setup']);
    expect(compose.services.api!.depends_on).toMatchObject({
      'temporal-setup': { condition: 'service_completed_successfully' },
    });
    // Only the address is replaced: `temporal:7233` is the compose network's name for the server.
    const env = { ...service.environment, TEMPORAL_ADDRESS: server.address };

    const first = await runEntryPoint(argv, env);
    expect(first, first.stderr).toMatchObject({ code: 0 });
    expect(first.stdout.split('\n')).toEqual([
      'namespace default: created, retention 30 d',
      `search attributes: added ${ATTRIBUTE_NAMES}`,
    ]);
    const second = await runEntryPoint(argv, env);
    expect(second, second.stderr).toMatchObject({ code: 0 });
    expect(second.stdout.split('\n')).toEqual([
      'namespace default: already there (retention 30 d), left as it is',
      `search attributes: already registered ${ATTRIBUTE_NAMES}`,
    ]);
    expect(await describeSetup('default')).toEqual({
      retentionDays: 30,
      attributes: SEARCH_ATTRIBUTES.map((a) => a.name).sort(),
    });
  });

  it('sets up its namespace at the start of a worker with TEMPORAL_SETUP_ON_START, and the API then starts', async () => {
    const namespace = `on-start-${RUN}`;
    const env = { ...process.env, TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: namespace };
    await expect(checkTemporal(loadConfig(env), 'api')).rejects.toThrow(`namespace ${namespace} does not exist`);
    const { setup } = await checkTemporal(loadConfig({ ...env, TEMPORAL_SETUP_ON_START: 'true' }), 'worker');
    expect(setup).toMatchObject({ namespace, namespaceCreated: true, retentionDays: 30 });
    expect(setup!.added).toEqual(SEARCH_ATTRIBUTES.map((a) => a.name));
    // The start check the API and watcher run now passes.
    await checkTemporal(loadConfig(env), 'api');
  });

  it("sets up the chart's namespace with the Helm hook Job's command and environment, and a submit through the API then runs there", async () => {
    const namespace = `sr-helm-${RUN}`;
    const objects: KubeObject[] = await renderChart(helm, [], [`config.TEMPORAL_NAMESPACE=${namespace}`]);
    const job = objects.find((o) => o.kind === 'Job' && o.metadata.name.endsWith('-temporal-setup'))!;
    expect(job, 'the chart renders the set-up Job').toBeDefined();
    expect((job.metadata as { annotations?: Record<string, string> }).annotations).toMatchObject({
      'helm.sh/hook': 'pre-install,pre-upgrade',
    });
    const container = (job.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
    const argv = [...(container.command ?? []), ...(container.args ?? [])];
    const env: Record<string, string> = {};
    for (const v of container.env ?? []) if (v.value !== undefined) env[v.name] = v.value;
    expect(env).toMatchObject({ TEMPORAL_NAMESPACE: namespace, TEMPORAL_NAMESPACE_RETENTION_DAYS: '30' });
    // Only the address is replaced: the chart names the Temporal chart's frontend Service.
    const result = await runEntryPoint(argv, { ...env, TEMPORAL_ADDRESS: server.address });
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stdout.split('\n')[0]).toBe(`namespace ${namespace}: created, retention 30 d`);

    const sim = createSimBackend();
    const stack = await openTestStack({ TEMPORAL_ADDRESS: server.address, TEMPORAL_NAMESPACE: namespace });
    let api: TestApi | undefined;
    try {
      await stack.startWorker({ sim });
      api = await startTestApi(stack, { backends: { sim } });
      const submitted = await call(api, 'POST', '/api/v1/jobs', {
        team: 'helm-team',
        name: 'after-setup',
        engineVersion: '4.0',
        backend: 'sim',
        application: { type: 'python', file: 'job.py' },
      });
      expect(submitted.status, submitted.text).toBe(202);
      const id = submitted.json.execution_id as string;
      expect(await finalStatus(api, id)).toMatchObject({ status: 'SUCCEEDED' });
      expect(await found(stack, `Team = 'helm-team'`, executionWorkflowId(id))).toEqual([executionWorkflowId(id)]);
    } finally {
      await api?.close();
      await stack.close();
    }
  });
});

describe('a frontend with mTLS', () => {
  let server: TestTemporalServer;
  let certs: TestCerts;

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

  it('runs an execution with the worker and the API connected through TEMPORAL_TLS_*', async () => {
    const sim = createSimBackend();
    const stack = await openTestStack(server.env);
    let api: TestApi | undefined;
    try {
      await stack.startWorker({ sim });
      api = await startTestApi(stack, { backends: { sim } });
      const submitted = await call(api, 'POST', '/api/v1/jobs', {
        team: 'mtls',
        name: 'over-mtls',
        engineVersion: '4.0',
        backend: 'sim',
        application: { type: 'python', file: 'job.py' },
      });
      expect(submitted.status, submitted.text).toBe(202);
      expect(await finalStatus(api, submitted.json.execution_id as string)).toMatchObject({ status: 'SUCCEEDED' });
    } finally {
      await api?.close();
      await stack.close();
    }
  });

  it('stops the API at start with one line when it trusts another CA than the one that signed the server', async () => {
    const stderr = await failedStart('api', {
      ...server.env,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.otherCa.certFile,
    });
    expect(stderr).toMatch(
      new RegExp(
        `^api: Temporal at ${server.address} presented a certificate this process does not trust \\(.+\\): check TEMPORAL_TLS_SERVER_CA_CERT_PATH=${certs.otherCa.certFile}$`,
      ),
    );
  });

  it('stops the worker at start with one line when the server refuses its client certificate', async () => {
    const stderr = await failedStart('worker', {
      ...server.env,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.otherClient.certFile,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.otherClient.keyFile,
    });
    expect(stderr).toMatch(
      new RegExp(
        `^worker: Temporal at ${server.address} refused the client certificate \\(.+\\): check TEMPORAL_TLS_CLIENT_CERT_PATH=${certs.otherClient.certFile}`,
      ),
    );
  });

  it('stops a process at start with one line when the client key does not belong to the certificate', async () => {
    const stderr = await failedStart('api', { ...server.env, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.otherClient.keyFile });
    expect(stderr).toBe(
      `api: TEMPORAL_TLS_CLIENT_KEY_PATH=${certs.otherClient.keyFile} is not the key of TEMPORAL_TLS_CLIENT_CERT_PATH=${certs.client.certFile}`,
    );
  });
});

describe("a frontend that checks API keys with the server's own JWT authorizer", () => {
  let issuer: TestJwtIssuer;
  let server: TestTemporalServer;
  /** A plaintext frontend: TLS would otherwise be on, since an API key is set. */
  const plaintext = { TEMPORAL_TLS: 'false' };

  beforeAll(async () => {
    issuer = await startJwtIssuer();
    server = await startTestTemporalServer({
      authorization: { jwksUrl: issuer.jwksUrl, adminToken: issuer.token(['temporal-system:admin']) },
    });
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await issuer?.close();
  });

  it('runs an execution with a worker whose API key may write the namespace', async () => {
    const sim = createSimBackend();
    const stack = await openTestStack({
      ...server.env,
      ...plaintext,
      TEMPORAL_API_KEY: issuer.token(['default:write'], 'spark-runner-worker'),
    });
    try {
      await stack.startWorker({ sim });
      const { execution } = await submitExecution(stack, {
        team: 'api-key',
        trigger: 'api',
        spec: simSpec('with-api-key', { runningAfterMs: 50, endAfterMs: 300 }),
      });
      const result: ExecutionResult = await executionHandle(stack.client, execution.executionId).result();
      expect(result).toMatchObject({ state: 'SUCCEEDED' });
    } finally {
      await stack.close();
    }
  });

  it('stops the API at start with one line when it has no API key', async () => {
    const stderr = await failedStart('api', server.env);
    expect(stderr).toBe(
      `api: this identity may not read namespace default on Temporal at ${server.address} (Request unauthorized.): it needs read access to the namespace`,
    );
  });

  it('stops the API at start with one line when its API key is not signed by a key the server trusts', async () => {
    const forger = await startJwtIssuer();
    try {
      const stderr = await failedStart('api', {
        ...server.env,
        ...plaintext,
        TEMPORAL_API_KEY: forger.token(['temporal-system:admin']),
      });
      expect(stderr).toBe(
        `api: Temporal at ${server.address} refused this process's credentials (Request unauthorized.): check TEMPORAL_API_KEY`,
      );
    } finally {
      await forger.close();
    }
  });

  it('fails the set-up with one line when its identity may not create the namespace', async () => {
    const result = await temporalSetup({
      ...server.env,
      ...plaintext,
      TEMPORAL_NAMESPACE: 'team-ns',
      TEMPORAL_API_KEY: issuer.token(['team-ns:write']),
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toBe(
      `error: this identity may not create namespace team-ns on Temporal at ${server.address} (Request unauthorized.): it needs admin rights on namespace team-ns, or create it yourself (on Temporal Cloud: in the Cloud UI or with tcld)`,
    );
  });

  it('fails the set-up with one line when its identity may not add the search attributes, and a second run needs only read access', async () => {
    const namespace = 'partial';
    const as = (role: string) =>
      temporalSetup({
        ...server.env,
        ...plaintext,
        TEMPORAL_NAMESPACE: namespace,
        TEMPORAL_API_KEY: issuer.token([`${namespace}:${role}`]),
      });
    // A namespace admin creates the namespace, whose attributes a writer then may not add.
    const connection = await Connection.connect({
      address: server.address,
      apiKey: issuer.token(['temporal-system:admin']),
      tls: false,
    });
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
    } finally {
      await connection.close();
    }
    const writer = await eventually('the namespace to be known', async () => {
      const r = await as('write');
      return r.stderr.includes('may not add') ? r : undefined;
    });
    expect(writer.code).toBe(3);
    expect(writer.stderr).toBe(
      `error: this identity may not add the search attributes ${ATTRIBUTE_NAMES} to namespace ${namespace} on Temporal at ${server.address} (Request unauthorized.): it needs admin rights on namespace ${namespace} (on Temporal Cloud, add them in the Cloud UI or with tcld)`,
    );
    const admin = await as('admin');
    expect(admin, admin.stderr).toMatchObject({ code: 0 });
    expect(admin.stdout).toContain(`search attributes: added ${ATTRIBUTE_NAMES}`);
    const reader = await as('read');
    expect(reader, reader.stderr).toMatchObject({ code: 0 });
    expect(reader.stdout).toContain(`search attributes: already registered ${ATTRIBUTE_NAMES}`);
  });
});
