/**
 * bench/lifecycle: N executions on the sim backend through the real Temporal dev server and real Postgres.
 * Prints end-to-end executions/s, submit -> SUBMITTED latency, backend status change -> Postgres latency, and
 * Temporal history events per execution.
 *
 *   npm run bench -- lifecycle [--executions 400] [--concurrency 50]
 */
import { parseArgs } from 'node:util';
import { JobSpec } from '../schema/job-spec.js';
import { submitExecution } from '../service/submit.js';
import { executionWorkflowId } from '../schema/vocabulary.js';
import { BENCH_JOB, openBenchEnv } from './env.js';
import { percentile, printTable } from './stats.js';

export async function lifecycleBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: { executions: { type: 'string', default: '400' }, concurrency: { type: 'string', default: '50' } },
  });
  const total = Number(values.executions);
  const concurrency = Number(values.concurrency);
  const env = await openBenchEnv('bench-lifecycle');
  const { client, store, config } = env;
  const spec = JobSpec.parse(BENCH_JOB);
  try {
    console.log(`[bench] ${total} executions on the sim backend, ${concurrency} submitting at once`);
    const submittedAt = new Map<string, number>();
    const started = Date.now();
    let next = 0;
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) {
          next += 1;
          const t0 = Date.now();
          const { execution } = await submitExecution(
            { client, store, config, gateway: env.gateway },
            { team: 'bench', trigger: 'api', spec },
          );
          submittedAt.set(execution.executionId, t0);
          ids.push(execution.executionId);
        }
      }),
    );
    await Promise.all(ids.map((id) => client.workflow.getHandle(executionWorkflowId(id)).result()));
    const elapsed = (Date.now() - started) / 1000;

    const toSubmitted: number[] = [];
    const propagation: number[] = [];
    for (const id of ids) {
      const row = await store.getExecution(id);
      if (row?.submittedAt) toSubmitted.push(row.submittedAt.getTime() - submittedAt.get(id)!);
      for (const event of await store.listEvents(id)) {
        const observedAt = event.payload.observedAt;
        if (event.eventType === 'RUNNING' && typeof observedAt === 'string') {
          propagation.push(event.timestamp.getTime() - Date.parse(observedAt));
        }
      }
    }
    const sample = ids.slice(0, 20);
    const historyLengths = await Promise.all(
      sample.map(
        async (id) => (await client.workflow.getHandle(executionWorkflowId(id)).fetchHistory()).events?.length ?? 0,
      ),
    );
    printTable('bench/lifecycle (sim backend, real Temporal dev server + Postgres)', [
      ['executions', String(total)],
      ['wall time', `${elapsed.toFixed(1)} s`],
      ['executions/s end to end', (total / elapsed).toFixed(1)],
      ['submit -> SUBMITTED p50', `${percentile(toSubmitted, 50)} ms`],
      ['submit -> SUBMITTED p99', `${percentile(toSubmitted, 99)} ms`],
      ['status change -> Postgres p50', `${percentile(propagation, 50)} ms`],
      ['status change -> Postgres p99', `${percentile(propagation, 99)} ms`],
      ['history events / execution', `${Math.min(...historyLengths)}-${Math.max(...historyLengths)}`],
    ]);
  } finally {
    await env.close();
  }
}
