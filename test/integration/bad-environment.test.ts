/**
 * A bad environment gets one clear line naming the variable and how to fix it: no stack trace, exit code 1,
 * and nothing is started. The same holds for a worker or watcher configured with nothing to run or watch.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort, isPortOpen } from '../../provision/process.js';

function setup(env: Record<string, string>, entry = 'setup') {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.resolve(`bin/${entry}.ts`)], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: result.status, stderr: result.stderr.trim(), stdout: result.stdout };
}

describe('setup with a bad environment', () => {
  it.each([
    [
      'TEMPORAL_CLI pointing at a missing file',
      { TEMPORAL_CLI: '/nonexistent/temporal' },
      /^setup: TEMPORAL_CLI=\/nonexistent\/temporal is not an executable file/,
    ],
    [
      'an unreachable DATABASE_URL',
      { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' },
      /^setup: DATABASE_URL \(127\.0\.0\.1:1\/none\) is not reachable/,
    ],
    [
      'a SPARK_HOME without bin/spark-submit',
      { SPARK_HOME: '/tmp' },
      /^setup: SPARK_HOME=\/tmp has no bin\/spark-submit/,
    ],
    ['a malformed API_PORT', { API_PORT: 'eighty' }, /^setup: API_PORT="eighty" is invalid/],
  ])('reports %s in one line, without a stack trace', (_name, env, message) => {
    const { status, stderr } = setup(env);
    expect(status).toBe(1);
    expect(stderr).toMatch(message);
    expect(stderr.split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  });
});

describe('processes started with nothing to do', () => {
  // DATABASE_URL and TEMPORAL_ADDRESS point at the suite's real servers, so only the named problem remains.
  it('a worker without Spark and without clusters says no backend is enabled', () => {
    const { status, stderr } = setup({ LOCAL_BACKEND_ENABLED: 'false', GATEWAY_CONFIG: '' }, 'worker');
    expect(status).toBe(1);
    expect(stderr).toMatch(/^worker: no backend is enabled: set GATEWAY_CONFIG to a clusters file/);
    expect(stderr.split('\n')).toHaveLength(1);
  });

  it('a watcher without clusters asks for GATEWAY_CONFIG', () => {
    const { status, stderr } = setup({ GATEWAY_CONFIG: '' }, 'watcher');
    expect(status).toBe(1);
    expect(stderr).toBe('watcher: the watcher follows Kubernetes clusters: set GATEWAY_CONFIG to the clusters file');
  });

  it('a bad LOCAL_BACKEND_ENABLED is named', () => {
    const { status, stderr } = setup({ LOCAL_BACKEND_ENABLED: 'maybe' }, 'worker');
    expect(status).toBe(1);
    expect(stderr).toBe('worker: LOCAL_BACKEND_ENABLED="maybe" is invalid: expected true or false');
  });
});

describe('npm run dev that cannot start', () => {
  it('stops the Temporal dev server and the History Server it already started when DATABASE_URL is unreachable, and says so in one line', async () => {
    const data = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP ?? os.tmpdir(), 'dev-fail-'));
    const ports = {
      TEMPORAL_PORT: await freePort(),
      TEMPORAL_UI_PORT: await freePort(),
      HISTORY_SERVER_PORT: await freePort(),
    };
    const { status, stderr } = await new Promise<{ status: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', path.resolve('bin/dev.ts')], {
        env: {
          ...process.env,
          ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
          SPARK_RUNNER_DATA: data,
          DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
          TEMPORAL_ADDRESS: '',
          HISTORY_SERVER_URL: '',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let err = '';
      child.stdout.resume();
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('exit', (code) => resolve({ status: code, stderr: err.trim() }));
    });
    expect(status).toBe(1);
    expect(stderr).toMatch(/^dev: DATABASE_URL \(127\.0\.0\.1:1\/none\) is not reachable/);
    expect(stderr.split('\n')).toHaveLength(1);
    // Nothing it started is left: its ports are free and no process names its data directory.
    for (const [name, port] of Object.entries(ports)) expect(await isPortOpen(port), name).toBe(false);
    const left = spawnSync('pgrep', ['-f', data], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe('');
  });
});
