/**
 * The Kubernetes scale bench does not rot: `npm run bench -- kubernetes --apps 20` runs end to end (real
 * kube-apiservers with audit logs, real Temporal and Postgres, the real worker and two real watcher processes, and
 * the operator stand-in fleet, since the operator itself cannot run here) and prints its table. The figures are
 * not asserted (bench/ measures, tests do not time); what is asserted is what the bench must keep true: every
 * execution reaches its final state, the counts come from the audit log, and the leader-kill run takes over.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('bench/kubernetes smoke run', () => {
  it('follows 20 live apps and a leader kill to their final states and prints the audit-log counts', async () => {
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', 'bench/run.ts', 'kubernetes', '--apps', '20', '--hold', '10', '--kill-leader'],
      { timeout: 600_000, maxBuffer: 16 * 2 ** 20, env: { ...process.env, LOG_LEVEL: 'warn' } },
    );
    expect(stdout).toMatch(/\[bench\] machine: \d+ × /);
    const finals = [...stdout.matchAll(/executions that reached their final state\s+(\d+)\/(\d+)/g)];
    expect(finals.map((m) => [m[1], m[2]])).toEqual([
      ['20', '20'],
      ['20', '20'],
    ]);
    // Spark Runner created each SparkApplication exactly once, as the API server counted it.
    const writes = [...stdout.matchAll(/Spark Runner writes per job \(audit log\)\s+([\d.]+) \(create (\d+)/g)];
    expect(writes.map((m) => m[2])).toEqual(['20', '20']);
    expect(stdout).toMatch(/status write -> executions row RUNNING p50\/p99\/max\s+\d+ \/ \d+ \/ \d+ ms/);
    expect(stdout).toMatch(/standby leading after the leader was killed\s+\d+ ms/);
  }, 660_000);
});
