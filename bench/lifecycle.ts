/**
 * bench/lifecycle: N executions on the sim backend through a real Temporal server and real Postgres: the CLI's dev
 * server (`--temporal dev`, SQLite in memory) or the Temporal server on Postgres (`--temporal real`, as deployed).
 *
 * Before them, on the same server in the same run, two bare-Temporal baselines (bench/baseline.ts): an empty
 * workflow and a three-activity workflow, started and awaited the same way. Prints executions/s of each and
 * Spark Runner's ratio to them (its overhead as a number), submit -> SUBMITTED and status -> Postgres latency,
 * history events per execution, CPU per execution by process, and the time each activity and local activity takes.
 *
 *   npm run bench -- lifecycle [--temporal dev|real] [--executions 400] [--concurrency 50]
 *   node --cpu-prof --cpu-prof-dir=.data/profiles --import tsx bench/run.ts lifecycle --temporal real
 *     then: npx tsx bench/profile.ts .data/profiles   (where this process's CPU went)
 */
import { parseArgs } from 'node:util';
import type { Client } from '@temporalio/client';
import { tsToMs } from '@temporalio/common/lib/time.js';
import { JobSpec } from '../schema/job-spec.js';
import { executionWorkflowId } from '../schema/vocabulary.js';
import { submitExecution } from '../service/submit.js';
import { activityTimer } from './activity-timing.js';
import { runBaseline, startAll, type BaselineResult } from './baseline.js';
import { cpuMeter } from './cpu.js';
import { BENCH_JOB, openBenchEnv, type BenchEnv } from './env.js';
import { percentile, printTable } from './stats.js';

type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;
type HistoryEvent = NonNullable<History['events']>[number];

/** An event's type, from the one `…EventAttributes` field it carries (`workflowTaskCompleted`, `markerRecorded`, …). */
function eventType(event: HistoryEvent): string {
  const key = Object.keys(event).find(
    (k) => k.endsWith('EventAttributes') && (event as Record<string, unknown>)[k] != null,
  );
  return key ? key.replace(/EventAttributes$/, '') : 'unknown';
}

const ms = (event: HistoryEvent | undefined) => (event?.eventTime ? tsToMs(event.eventTime) : NaN);

/** What the histories say: events by type, and workflow tasks (how many; queue and processing time). */
function analyseHistories(histories: History[]) {
  const types = new Map<string, number>();
  const toStart: number[] = [];
  const processing: number[] = [];
  let tasks = 0;
  for (const history of histories) {
    const events = history.events ?? [];
    const byId = new Map(events.map((e) => [Number(e.eventId), e]));
    for (const e of events) {
      const type = eventType(e);
      types.set(type, (types.get(type) ?? 0) + 1);
      if (type === 'workflowTaskStarted') {
        const scheduledId = Number(e.workflowTaskStartedEventAttributes?.scheduledEventId);
        toStart.push(ms(e) - ms(byId.get(scheduledId)));
      }
      if (type === 'workflowTaskCompleted') {
        tasks += 1;
        const startedId = Number(e.workflowTaskCompletedEventAttributes?.startedEventId);
        processing.push(ms(e) - ms(byId.get(startedId)));
      }
    }
  }
  const perExecution = [...types.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([type, n]): [string, string] => [type, (n / histories.length).toFixed(1)]);
  return { perExecution, tasks: tasks / histories.length, toStart, processing };
}

interface Measured {
  seconds: number;
  perSecond: number;
  /** CPU ms per execution, by process. */
  cpu: Record<string, number>;
}

/** Runs `work` (which runs `total` executions) with the CPU of each process measured. */
async function measured(env: BenchEnv, total: number, work: () => Promise<{ seconds: number }>): Promise<Measured> {
  const meter = cpuMeter({ 'Temporal server': env.stack.pids.temporal, Postgres: env.stack.pids.postgres });
  const self = process.cpuUsage();
  const { seconds } = await work();
  const used = process.cpuUsage(self);
  const cpu = { ...meter(), 'bench process (worker, client)': (used.user + used.system) / 1000 };
  return {
    seconds,
    perSecond: total / seconds,
    cpu: Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / total])),
  };
}

export async function lifecycleBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      executions: { type: 'string', default: '400' },
      concurrency: { type: 'string', default: '50' },
      temporal: { type: 'string', default: 'dev' },
    },
  });
  const total = Number(values.executions);
  const concurrency = Number(values.concurrency);
  const temporal = values.temporal;
  if (temporal !== 'dev' && temporal !== 'real') throw new Error(`--temporal is dev or real, not "${temporal}"`);
  const timer = activityTimer();
  const env = await openBenchEnv('bench-lifecycle', { temporal, interceptors: timer.interceptors });
  const { client, store, config } = env;
  const spec = JobSpec.parse(BENCH_JOB);
  const server = temporal === 'real' ? 'Temporal server 1.31.2 on Postgres' : 'Temporal CLI dev server';
  try {
    console.log(`[bench] ${server}: ${total} workflows per run, ${concurrency} starting at once`);
    const baselines: Record<string, BaselineResult & Measured> = {};
    for (const workflow of ['emptyWorkflow', 'threeActivityWorkflow'] as const) {
      let result: BaselineResult | undefined;
      const m = await measured(
        env,
        total,
        async () => (result = await runBaseline(config, client, workflow, total, concurrency)),
      );
      baselines[workflow] = { ...result!, ...m };
    }

    timer.reset();
    const submittedAt = new Map<string, number>();
    let ids: string[] = [];
    const run = await measured(env, total, async () => {
      const started = Date.now();
      ids = await startAll(total, concurrency, async () => {
        const t0 = Date.now();
        const { execution } = await submitExecution(
          { client, store, config, gateway: env.gateway },
          { team: 'bench', trigger: 'api', spec },
        );
        submittedAt.set(execution.executionId, t0);
        return execution.executionId;
      });
      await Promise.all(ids.map((id) => client.workflow.getHandle(executionWorkflowId(id)).result()));
      return { seconds: (Date.now() - started) / 1000 };
    });

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
    const histories = await Promise.all(
      ids.slice(0, 20).map((id) => client.workflow.getHandle(executionWorkflowId(id)).fetchHistory()),
    );
    const lengths = histories.map((h) => h.events?.length ?? 0);
    const analysis = analyseHistories(histories);
    const empty = baselines.emptyWorkflow!;
    const three = baselines.threeActivityWorkflow!;

    printTable(`bench/lifecycle --temporal ${temporal} (${server}, Postgres; sim backend)`, [
      ['executions', String(total)],
      ['baseline: empty workflow/s', `${empty.perSecond.toFixed(1)} (${empty.events} history events)`],
      ['baseline: three-activity workflow/s', `${three.perSecond.toFixed(1)} (${three.events} history events)`],
      ['Spark Runner executions/s end to end', `${run.perSecond.toFixed(1)} (${run.seconds.toFixed(1)} s)`],
      [
        'ratio to the three-activity baseline',
        `${((100 * run.perSecond) / three.perSecond).toFixed(0)}% (goal >= 50%)`,
      ],
      ['ratio to the empty-workflow baseline', `${((100 * run.perSecond) / empty.perSecond).toFixed(0)}%`],
      ['history events / execution', `${Math.min(...lengths)}-${Math.max(...lengths)} (goal <= 25)`],
      ['workflow tasks / execution', analysis.tasks.toFixed(1)],
      ['workflow task schedule -> start p50', `${percentile(analysis.toStart, 50)} ms`],
      ['workflow task start -> complete p50', `${percentile(analysis.processing, 50)} ms`],
      ['submit -> SUBMITTED p50', `${percentile(toSubmitted, 50)} ms`],
      ['submit -> SUBMITTED p99', `${percentile(toSubmitted, 99)} ms`],
      ['status change -> Postgres p50', `${percentile(propagation, 50)} ms`],
      ['status change -> Postgres p99', `${percentile(propagation, 99)} ms`],
    ]);
    const cpuRows = (m: Measured) =>
      Object.entries(m.cpu)
        .map(([k, v]) => `${k} ${v.toFixed(1)}`)
        .join(', ');
    printTable('CPU ms per execution, by process (2 cores shared by all of them)', [
      ['empty workflow', cpuRows(empty)],
      ['three-activity workflow', cpuRows(three)],
      ['Spark Runner execution', cpuRows(run)],
    ]);
    printTable('activities and local activities of the Spark Runner executions (time in the worker)', timer.rows());
    printTable('history events of one execution, by type (mean of 20)', analysis.perExecution);
  } finally {
    await env.close();
  }
}
