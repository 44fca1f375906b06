/**
 * A bad environment gets one clear line naming the variable and how to fix it: no stack trace, exit code 1,
 * and nothing is started.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

function setup(env: Record<string, string>) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', path.resolve('bin/setup.ts')], {
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
