/**
 * Hostile input over HTTP, against real Temporal and Postgres: each request gets a clear 4xx (or a 503 that says
 * when to come back) naming what was wrong, and changes nothing. Valid jobs run on the sim backend; the
 * application-file checks use the local backend's placement check, which refuses before anything runs.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORBIDDEN_SPARK_CONF } from '../../schema/job-spec.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { openDatabase, type Database } from '../../store/db.js';
import { ExecutionStore } from '../../store/executions.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

let stack: TestStack;
let api: TestApi;
let database: Database;
const sim = createSimBackend();
// Test files share one Postgres: "changes nothing" is counted for a team only this file uses.
const TEAM = `hostile-${crypto.randomUUID().slice(0, 8)}`;
const TOKEN = crypto.randomUUID();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'hostile-'));

beforeAll(async () => {
  // LOCAL_APPLICATION_ROOTS empty: the product's default roots (this directory and examples/), not the tests'.
  stack = await openTestStack({ LOCAL_APPLICATION_ROOTS: '' });
  await stack.startWorker({ sim });
  api = await startTestApi(stack, { backends: { sim }, teamTokens: { [TEAM]: TOKEN } });
  database = openDatabase(stack.config.DATABASE_URL!);
});
afterAll(async () => {
  await api?.close();
  await database?.close();
  await stack?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

type Json = Record<string, unknown>;
interface Problem {
  detail: string;
  errors?: { path: string; message: string }[];
}

async function call(
  method: string,
  url: string,
  options: { token?: string; body?: unknown; yaml?: string; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { Authorization: `Bearer ${options.token ?? TOKEN}`, ...options.headers };
  let body: string | undefined;
  if (options.yaml !== undefined) {
    headers['Content-Type'] = 'application/yaml';
    body = options.yaml;
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(options.body);
  }
  const res = await fetch(`${api.url}${url}`, { method, headers, body });
  const text = await res.text();
  const json = (res.headers.get('content-type') ?? '').includes('json') ? (JSON.parse(text) as Json) : {};
  return { status: res.status, headers: res.headers, json, problem: json as unknown as Problem };
}

const job = (name: string, extra: Json = {}): Json => ({
  name,
  engineVersion: '4.0',
  backend: 'sim',
  application: { type: 'python', file: 'job.py' },
  sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 200 }] },
  ...extra,
});

/**
 * This file's team's executions and jobs: what a refused request must not create. (Events are left out: they belong
 * to executions, and the accepted ones of earlier tests keep adding theirs as they run.)
 */
async function rows(): Promise<Record<string, number>> {
  const {
    rows: [counts],
  } = await database.db.execute(
    sql`select (select count(*) from executions where team = ${TEAM})::int as executions,
               (select count(*) from jobs where team = ${TEAM})::int as jobs`,
  );
  return counts as Record<string, number>;
}

/** A SparkJob manifest of this file's team, with `extraSpec` lines appended to its `spec`. */
const manifest = (name: string, extraSpec = '') => `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata: { name: ${name}, team: ${TEAM} }
spec:
  engine: { version: "4.0" }
  backend: sim
  application: { type: python, file: job.py }
${extraSpec ? `${extraSpec}\n` : ''}`;

describe('YAML limits on POST /api/v1/manifests', () => {
  // "Billion laughs": 10 aliases in the text, 9^5 strings once expanded (the yaml library's own guard trips).
  const laughs = [
    '  sparkConf:',
    '    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    ...['b', 'c', 'd', 'e', 'f'].map((k, i) => {
      const prev = 'abcdef'[i];
      return `    ${k}: &${k} [${Array(9).fill(`*${prev}`).join(',')}]`;
    }),
  ].join('\n');
  const manyAliases = ['  labels: &l { team-label: x }', ...Array.from({ length: 101 }, (_, i) => `  x${i}: *l`)].join(
    '\n',
  );
  const deep = `  sparkConf: { deep: ${'['.repeat(70)}${']'.repeat(70)} }`;
  const documents = Array.from({ length: 101 }, (_, i) => manifest(`doc-${i}`)).join('---\n');

  it.each([
    ['an alias bomb ("billion laughs")', manifest('laughs', laughs), /at most 100 YAML aliases/],
    ['101 aliases in the text', manifest('aliases', manyAliases), /at most 100 YAML aliases/],
    ['nesting 70 levels deep', manifest('deep', deep), /at most 64 levels deep; this one nests 7\d deep/],
    ['101 documents', documents, /at most 100 documents/],
  ])('answers %s with a 422 naming the limit, and applies nothing', async (_what, yaml, limit) => {
    const before = await rows();
    for (const dryRun of ['', '?dryRun=true']) {
      const r = await call('POST', `/api/v1/manifests${dryRun}`, { yaml });
      expect(r.status).toBe(422);
      expect(r.headers.get('content-type')).toContain('application/problem+json');
      expect(r.problem.detail).toMatch(limit);
      // The JSON form of the body reaches the same parser and the same answer.
      const asJson = await call('POST', `/api/v1/manifests${dryRun}`, { body: { manifest: yaml } });
      expect([asJson.status, asJson.problem.detail]).toEqual([422, r.problem.detail]);
    }
    expect(await rows()).toEqual(before);
  });

  it('reports an alias to no anchor as a manifest error with its line, not a server error', async () => {
    const r = await call('POST', '/api/v1/manifests', { yaml: manifest('dangling', '  labels: *nowhere') });
    expect(r.status).toBe(400);
    expect(JSON.stringify(r.problem.errors)).toMatch(/manifest\.yaml:\d+:\d+: .*nowhere/i);
  });

  it('still applies a manifest within the limits (a few aliases, shallow, two documents)', async () => {
    const aliased = manifest('within-a', '  labels: &l { tier: gold }\n  sparkConf: *l');
    const r = await call('POST', '/api/v1/manifests?dryRun=true', { yaml: `${aliased}---\n${manifest('within-b')}` });
    expect(r.status).toBe(200);
    expect((r.json.jobs as unknown[]).length).toBe(2);
  });
});

describe('names and labels', () => {
  it.each([
    ['a job name with Unicode', { name: 'spärk' }, 'name'],
    ['a job name with a NUL', { name: 'job\u0000x' }, 'name'],
    ['a team with a newline', { team: 'data-infra\nx' }, 'team'],
    ['a user with a bell character', { user: 'me\u0007' }, 'user'],
    ['a user with a right-to-left override', { user: 'me\u202egnp.exe' }, 'user'],
    ['a label key with a space', { labels: { 'cost center': 'a' } }, 'labels.cost center'],
    ['a label key with Unicode', { labels: { tëam: 'a' } }, 'labels.tëam'],
    ['a label value with a newline', { labels: { tier: 'gold\nrm -rf /' } }, 'labels.tier'],
    ['a label value of 64 characters', { labels: { tier: 'x'.repeat(64) } }, 'labels.tier'],
    [
      'a label with the platform prefix',
      { labels: { 'spark-runner.io/team': 'other-team' } },
      'labels.spark-runner.io/team',
    ],
    ['a label with the Kubernetes prefix', { labels: { 'kubernetes.io/os': 'linux' } }, 'labels.kubernetes.io/os'],
  ])('refuses %s with a 400 on that field, creating nothing', async (_what, extra, field) => {
    const before = await rows();
    const r = await call('POST', '/api/v1/jobs', { body: { ...job('named'), ...extra } });
    expect(r.status).toBe(400);
    expect(r.problem.errors?.map((e) => e.path)).toContain(field);
    expect(await rows()).toEqual(before);
  });

  it('accepts Kubernetes-style labels and keeps them on the execution', async () => {
    const labels = { tier: 'gold', 'example.com/cost-center': 'c_42.x', empty: '' };
    const r = await call('POST', '/api/v1/jobs', { body: job('labelled', { labels }) });
    expect(r.status).toBe(202);
    const row = await stack.store.getExecution(r.json.execution_id as string);
    expect(row?.spec.labels).toEqual(labels);
  });
});

describe('forbidden Spark settings', () => {
  // One key per rule of FORBIDDEN_SPARK_CONF, so a rule added later without a case here fails this test.
  const KEYS = [
    'spark.kubernetes.driver.serviceAccountName',
    'spark.kubernetes.executor.podTemplateFile',
    'spark.kubernetes.namespace',
    'spark.kubernetes.authenticate.driver.oauthToken',
    'spark.authenticate.secret',
    'spark.master',
    'spark.kubernetes.context',
    'spark.kubernetes.driver.volumes.hostPath.data.mount.path',
    'spark.kubernetes.container.image',
    'spark.kubernetes.container.image.pullSecrets',
    'spark.kubernetes.driver.pod.name',
    'spark.kubernetes.executor.label.spark-runner.io/team',
    'spark.kubernetes.driver.secrets.db-password',
    'spark.kubernetes.submission.waitAppCompletion',
    'spark.executor.memory',
  ];

  it('has a case for every rule', () => {
    for (const rule of FORBIDDEN_SPARK_CONF)
      expect(
        KEYS.some((k) => rule.pattern.test(k)),
        String(rule.pattern),
      ).toBe(true);
  });

  it.each(KEYS)('rejects sparkConf "%s" by name, creating nothing', async (key) => {
    const before = await rows();
    const r = await call('POST', '/api/v1/jobs', { body: job('conf', { sparkConf: { [key]: 'x' } }) });
    expect(r.status).toBe(400);
    const problem = r.problem.errors?.find((e) => e.path === `sparkConf.${key}`);
    expect(problem?.message).toContain(`"${key}" is not allowed`);
    expect(await rows()).toEqual(before);
  });

  it('lets an ordinary setting through', async () => {
    const r = await call('POST', '/api/v1/jobs?dryRun=true', {
      body: job('conf-ok', { sparkConf: { 'spark.sql.shuffle.partitions': '8' } }),
    });
    expect(r.status).toBe(200);
  });
});

describe('application files on the local backend', () => {
  const local = (name: string, file: string, extra: Json = {}): Json => ({
    name,
    engineVersion: '4.0',
    backend: 'local',
    application: { type: 'python', file },
    ...extra,
  });

  it('refuses the system password file, a file:// URI and a download with a 422 on application.file', async () => {
    const link = path.join(process.cwd(), '.data', `hostile-link-${crypto.randomUUID().slice(0, 8)}.py`);
    fs.mkdirSync(path.dirname(link), { recursive: true });
    fs.symlinkSync('/etc/passwd', link);
    try {
      const before = await rows();
      for (const file of [
        '/etc/passwd',
        'file:///etc/passwd',
        '../../../../../../etc/passwd',
        link,
        'https://x.example/p.py',
      ]) {
        const r = await call('POST', '/api/v1/jobs', { body: local('passwd', file) });
        expect(r.status, file).toBe(422);
        expect(r.problem.errors?.[0]?.path, file).toBe('application.file');
        expect(r.problem.detail, file).toMatch(/LOCAL_APPLICATION_ROOTS|runs only files on this host/);
      }
      // A pyFile outside is refused on its own field.
      const py = await call('POST', '/api/v1/jobs', {
        body: local('pyfiles', 'examples/pi.py', {
          application: { type: 'python', file: 'examples/pi.py', pyFiles: ['/etc/shadow'] },
        }),
      });
      expect([py.status, py.problem.errors?.[0]?.path]).toEqual([422, 'application.pyFiles.0']);
      expect(await rows()).toEqual(before);
    } finally {
      fs.rmSync(link, { force: true });
    }
  });

  it('accepts the examples and files under the directory it was started in', async () => {
    for (const file of ['examples/pi.py', path.resolve('examples/pi.py'), 'jobs/not-written-yet.py']) {
      const r = await call('POST', '/api/v1/jobs?dryRun=true', { body: local('examples', file) });
      expect(r.status, file).toBe(200);
    }
  });

  it('refuses a file in a temporary directory, which is not a configured root', async () => {
    const file = path.join(scratch, 'job.py');
    fs.writeFileSync(file, 'print(1)\n');
    const r = await call('POST', '/api/v1/jobs?dryRun=true', { body: local('tmp', file) });
    expect(r.status).toBe(422);
    expect(r.problem.detail).toContain(file);
  });
});

describe('the owner a body names', () => {
  it('lets a member name only itself; another user is a 403 that creates nothing', async () => {
    const before = await rows();
    const other = await call('POST', '/api/v1/jobs', { body: job('owner', { user: 'ceo@example.com' }) });
    expect(other.status).toBe(403);
    expect(other.problem.detail).toMatch(/cannot submit as user "ceo@example.com"/);
    expect(await rows()).toEqual(before);

    const self = await call('POST', '/api/v1/jobs', { body: job('owner', { user: `${TEAM}-bot` }) });
    expect(self.status).toBe(202);
    const implicit = await call('POST', '/api/v1/jobs', { body: job('owner-implicit') });
    expect(implicit.status).toBe(202);
    const owners = await Promise.all(
      [self, implicit].map(async (r) => (await stack.store.getExecution(r.json.execution_id as string))?.owner),
    );
    expect(owners).toEqual([`${TEAM}-bot`, `${TEAM}-bot`]);
  });

  it('lets an admin name any user', async () => {
    const r = await call('POST', '/api/v1/jobs', {
      token: api.tokens.admin,
      body: job('owner-admin', { team: TEAM, user: 'someone@example.com' }),
    });
    expect(r.status).toBe(202);
    expect((await stack.store.getExecution(r.json.execution_id as string))?.owner).toBe('someone@example.com');
  });
});

describe('an exhausted Postgres pool', () => {
  it('answers 503 with Retry-After while every connection is busy, then serves again', async () => {
    // An API whose pool has one connection and waits 300 ms for it; the test holds that connection.
    const small = openDatabase(stack.config.DATABASE_URL!, 1, 300);
    const narrow = await startTestApi(
      { ...stack, store: new ExecutionStore(small.db) },
      {
        teamTokens: { [TEAM]: TOKEN },
      },
    );
    try {
      const list = () =>
        fetch(`${narrow.url}/api/v1/executions?limit=1`, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const held = await small.pool.connect();
      let busy: Response;
      try {
        busy = await list();
      } finally {
        held.release();
      }
      expect(busy.status).toBe(503);
      expect(busy.headers.get('retry-after')).toBe('1');
      expect(busy.headers.get('content-type')).toContain('application/problem+json');
      expect(((await busy.json()) as Problem).detail).toMatch(/database connection is busy/);
      expect((await list()).status).toBe(200);
    } finally {
      await narrow.close();
      await small.close();
    }
  });
});

describe('a slow reader of logs?follow=true', () => {
  it('pulls no more of the log than the client takes, and ends the stream when the client goes away', async () => {
    // The sim backend with a driver log that never ends: 64 KiB per read, counted as the API pulls it.
    let pulled = 0;
    let closed = false;
    const chunk = `${'x'.repeat(1023)}\n`.repeat(64);
    const endless = {
      ...sim,
      async *followLogs(_run: unknown, signal: AbortSignal) {
        try {
          while (!signal.aborted) {
            pulled += chunk.length;
            yield chunk;
            await new Promise((resolve) => setImmediate(resolve));
          }
        } finally {
          closed = true;
        }
      },
    };
    const logApi = await startTestApi(stack, { backends: { sim: endless }, teamTokens: { [TEAM]: TOKEN } });
    try {
      const submitted = await call('POST', '/api/v1/jobs', {
        body: job('endless-log', { sim: { attempts: [{ runningAfterMs: 20, endAfterMs: 600_000 }] } }),
      });
      const id = submitted.json.execution_id as string;
      await eventually('RUNNING', async () =>
        (await stack.store.getExecution(id))?.state === 'RUNNING' ? true : undefined,
      );
      const url = new URL(`${logApi.url}/api/v1/jobs/${id}/logs?follow=true`);
      let received = 0;
      const req = http.get(url, { headers: { Authorization: `Bearer ${TOKEN}` } });
      const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
      expect(res.statusCode).toBe(200);
      // Read about 1 MiB, then stop reading, as a client on a slow link would.
      await new Promise<void>((resolve) =>
        res.on('data', (data: Buffer) => {
          received += data.length;
          if (received > 1024 * 1024) {
            res.pause();
            resolve();
          }
        }),
      );
      await new Promise((r) => setTimeout(r, 2_000));
      const stalled = pulled;
      await new Promise((r) => setTimeout(r, 2_000));
      // Nothing more is pulled while the client does not read: what is held is bounded by the socket buffers.
      expect(pulled).toBe(stalled);
      expect(pulled - received).toBeLessThan(16 * 1024 * 1024);
      req.destroy();
      await eventually(
        'the log stream to end once the client left',
        () => Promise.resolve(closed ? true : undefined),
        10_000,
      );
      await call('DELETE', `/api/v1/jobs/${id}`);
    } finally {
      await logApi.close();
    }
  });
});
