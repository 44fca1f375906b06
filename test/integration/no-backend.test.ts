/**
 * No execution ever hangs: with every backend unavailable (one Kubernetes cluster configured at an address where
 * nothing answers, and no EMR), an execution waits visibly (pending_reason NO_BACKEND), and ends by itself, by
 * a cancel, or by its deadline. Real Temporal, Postgres, worker and API; the unreachable cluster is a real closed
 * port, so every health probe genuinely fails.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../provision/process.js';
import { JobSpec, type JobSpecInput } from '../../schema/job-spec.js';
import { executionHandle } from '../../service/handles.js';
import { submitExecution } from '../../service/submit.js';
import { cancelUpdate } from '../../workflows/definitions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;
const NO_BACKEND_TIMEOUT_MS = 8_000;

beforeAll(async () => {
  const tmp = process.env.SPARK_RUNNER_TEST_TMP!;
  const port = await freePort(); // nothing listens here
  const kubeconfig = path.join(tmp, `nowhere-${port}.kubeconfig`);
  fs.writeFileSync(
    kubeconfig,
    YAML.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        { name: 'nowhere', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } },
      ],
      users: [{ name: 'u', user: { token: 't' } }],
      contexts: [{ name: 'nowhere', context: { cluster: 'nowhere', user: 'u' } }],
      'current-context': 'nowhere',
    }),
  );
  const file = path.join(tmp, `no-backend-${port}.yaml`);
  fs.writeFileSync(file, YAML.stringify({ clusters: [{ name: 'gone', region: 'us-east', capacity: 10, kubeconfig }] }));
  stack = await openTestStack({
    GATEWAY_CONFIG: file,
    GATEWAY_HEALTH_INTERVAL_MS: '200',
    GATEWAY_HEALTH_TIMEOUT_MS: '500',
    GATEWAY_PLACEMENT_RETRY_MS: '200',
    GATEWAY_NO_BACKEND_TIMEOUT_MS: String(NO_BACKEND_TIMEOUT_MS),
  });
  await stack.startWorker();
  api = await startTestApi(stack);
});

afterAll(async () => {
  await api?.close();
  await stack?.close();
});

const submit = (name: string, extra: Partial<JobSpecInput> = {}) =>
  submitExecution(stack, {
    team: 'data-infra',
    trigger: 'api',
    spec: JobSpec.parse({
      name,
      engineVersion: '4.0',
      application: { type: 'python', file: 'local:///opt/spark/examples/src/main/python/pi.py' },
      ...extra,
    }),
  });

/** What GET /api/v1/jobs/{id} says while the execution waits. */
async function pendingReason(id: string) {
  const res = await fetch(`${api.url}/api/v1/jobs/${id}`, { headers: { authorization: `Bearer ${api.tokens.admin}` } });
  return ((await res.json()) as { status: string; pending_reason: { code: string; message: string } | null })
    .pending_reason;
}

describe('an execution that no backend can take', () => {
  it('shows why it is still PENDING: NO_BACKEND, naming the cluster that is down', async () => {
    const { execution } = await submit('shows-why');
    const reason = await eventually('a pending reason', () =>
      pendingReason(execution.executionId).then((r) => r ?? undefined),
    );
    expect(reason.code).toBe('NO_BACKEND');
    expect(reason.message).toMatch(/gone \[us-east\]: unhealthy: API server https:\/\/127\.0\.0\.1:\d+ is unreachable/);
    expect(reason.message).toMatch(/EMR is not configured as a fallback/);
    await executionHandle(stack.client, execution.executionId).executeUpdate(cancelUpdate, { args: [{}] });
  });

  it('ends CANCELLED on a cancel while it waits, long before the no-backend wait would have ended it', async () => {
    const { execution } = await submit('cancel-while-waiting');
    await eventually('NO_BACKEND', () => pendingReason(execution.executionId).then((r) => r ?? undefined));
    const final = await executionHandle(stack.client, execution.executionId).executeUpdate(cancelUpdate, {
      args: [{ reason: 'not needed any more' }],
    });
    expect(final).toBe('CANCELLED');
    const row = await stack.store.getExecution(execution.executionId);
    expect(row).toMatchObject({ state: 'CANCELLED', attempt: 0, vendorRunId: null, pendingReason: null });
  });

  it('ends FAILED/TIMEOUT when its timeoutSeconds pass while it waits', async () => {
    const { execution } = await submit('deadline-while-waiting', { timeoutSeconds: 2 });
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result).toMatchObject({ state: 'FAILED', failureClass: 'TIMEOUT' });
  });

  it('ends FAILED/INFRA by itself after the configured wait, naming what was unavailable, without a retry', async () => {
    const { execution } = await submit('waits-then-fails', { retryPolicy: { maxAttempts: 3, backoffSeconds: 0 } });
    const result = await executionHandle(stack.client, execution.executionId).result();
    expect(result).toMatchObject({ state: 'FAILED', attempts: 1, failureClass: 'INFRA' });
    expect(result.failureMessage).toMatch(
      new RegExp(
        `^no backend could take attempt 1 within ${NO_BACKEND_TIMEOUT_MS / 1000} s: .*gone \\[us-east\\]: unhealthy`,
      ),
    );
    const types = (await stack.store.listEvents(execution.executionId)).map((e) => e.eventType);
    expect(types).toEqual(['TERMINAL', 'METRICS_SUMMARY']);
  });
});
