/**
 * bench/api: submit latency through the real HTTP API at a steady request rate, on the sim backend with the
 * real Temporal dev server and Postgres behind it. Requests are sent on a fixed schedule (open loop), so a
 * slow response does not lower the offered rate.
 *
 *   npm run bench -- api [--rate 50] [--seconds 60] [--no-worker]
 *
 * --no-worker starts no worker: the workflows are started but nothing runs them, which separates the API's own
 * cost from the load of executing the submissions on the same machine.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { TokenRegistry, hashToken } from '../api/auth.js';
import { startApiServer } from '../api/server.js';
import { BENCH_JOB, openBenchEnv } from './env.js';
import { percentile, printTable } from './stats.js';

export async function apiBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      rate: { type: 'string', default: '50' },
      seconds: { type: 'string', default: '60' },
      'no-worker': { type: 'boolean', default: false },
    },
  });
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const withWorker = !values['no-worker'];
  const env = await openBenchEnv('bench-api', { worker: withWorker });
  const token = 'bench-token';
  const server = await startApiServer(
    {
      client: env.client,
      store: env.store,
      gateway: env.gateway,
      config: env.config,
      sparkHome: env.stack.spark.sparkHome,
      logger: pino({ level: 'warn' }),
      tokens: new TokenRegistry([{ name: 'bench', team: 'bench', role: 'member', sha256: hashToken(token) }]),
    },
    '127.0.0.1',
    0,
  );
  const body = JSON.stringify({ ...BENCH_JOB, name: 'api-bench' });
  const latencies: number[] = [];
  const statuses = new Map<number, number>();
  try {
    console.log(`[bench] ${rate} submits/s for ${seconds} s against ${server.url}`);
    const total = rate * seconds;
    const started = performance.now();
    const inflight: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      inflight.push(
        (async () => {
          const t0 = performance.now();
          const res = await fetch(`${server.url}/api/v1/jobs`, {
            method: 'POST',
            headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
            body,
          });
          await res.arrayBuffer();
          latencies.push(performance.now() - t0);
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        })(),
      );
    }
    await Promise.all(inflight);
    const elapsed = (performance.now() - started) / 1000;
    printTable('bench/api (POST /api/v1/jobs, sim backend, real Temporal dev server + Postgres)', [
      ['offered rate', `${rate}/s for ${seconds} s`],
      ['worker', withWorker ? 'running every submission (sim backend)' : 'none (workflows started, not run)'],
      ['achieved rate', `${(total / elapsed).toFixed(1)}/s`],
      ['responses', [...statuses].map(([s, n]) => `${s}: ${n}`).join(', ')],
      ['submit latency p50', `${percentile(latencies, 50)} ms`],
      ['submit latency p99', `${percentile(latencies, 99)} ms`],
      ['submit latency max', `${percentile(latencies, 100)} ms`],
    ]);
  } finally {
    await server.close();
    await env.close();
  }
}
