/**
 * bench/kubernetes: Spark Runner's Kubernetes watch path at platform scale, counted by the API servers themselves.
 *
 *   npm run bench -- kubernetes [--apps 2000] [--clusters 2] [--rate 20] [--hold 300] [--kill-leader]
 *
 * Real kube-apiservers with etcd (one per cluster, each writing its own audit log), a real Temporal dev server and
 * Postgres, the real worker (in this process, WORKER_WATCHES_KUBERNETES=false) and two real watcher processes
 * (bin/watcher.ts) that elect one leader per cluster on a Lease. The Spark operator cannot run here (no kubelet):
 * the stand-in fleet (test/helpers/operator-standin.ts) moves each SparkApplication through the operator's states on
 * jittered timers, 90% to success and 10% to a driver failure, one status write per transition.
 *
 * Steps of 200, 500, 1,000 and 2,000 live apps (up to --apps; below 200 one step of --apps): executions are
 * submitted through the service layer at --rate per second until the step's number are live, held for --hold
 * seconds, then drained. From the audit logs, by User-Agent (`spark-runner-*` vs `operator-standin`): Spark Runner's
 * writes per job and its Lease renewals, its reads per second per cluster in steady state, and its watch requests.
 * From the stand-in's write times and the execution_events rows: status propagation latency. From Temporal
 * histories: workflow signals per status change. From /proc: the leading watcher's RSS and CPU. Then the slope of
 * each from the first step to the last. With --kill-leader, one more run SIGKILLs the leading watcher as the
 * drain begins, and prints the standby's takeover time, the status changes it had to catch up, and whether every
 * execution still reached its final state. Nothing is asserted: the figures are printed beside their goals and the
 * baseline (every live run polled every STATUS_POLL_INTERVAL_MS, as before the watched check).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Client } from '@temporalio/client';
import pino from 'pino';
import YAML from 'yaml';
import { loadConfig, type Config } from '../config/index.js';
import { connectTemporal } from '../config/temporal.js';
import { LABELS } from '../gateway/backends/kubernetes/index.js';
import { composeGateway } from '../gateway/compose.js';
import { startEphemeralStack } from '../provision/ephemeral.js';
import { ensureKubeBinaries } from '../provision/kubernetes/index.js';
import { freePort } from '../provision/process.js';
import { JobSpec } from '../schema/job-spec.js';
import { executionWorkflowId } from '../schema/vocabulary.js';
import { submitExecution } from '../service/submit.js';
import { openDatabase } from '../store/db.js';
import { ExecutionStore } from '../store/executions.js';
import { executions } from '../schema/index.js';
import { isTerminal } from '../schema/states.js';
import { inArray } from 'drizzle-orm';
import { READ_VERBS, WRITE_VERBS, readAudit, requests, type AuditEvent } from '../test/helpers/kube-audit.js';
import { startTestKube, type TestKube } from '../test/helpers/kube.js';
import {
  SEQUENCES,
  startStandInFleet,
  type FleetApp,
  type FleetPlan,
  type StandInFleet,
  type Transition,
} from '../test/helpers/operator-standin.js';
import { startWorker } from '../worker/index.js';
import { treeCpuMs } from './cpu.js';
import { percentile, printTable } from './stats.js';

const TEAM = 'bench';
const NAMESPACE = 'sjns-bench';
const LEASE_NS = 'spark-runner';
const STEPS = [200, 500, 1000, 2000];
const RUNNING_STATES = new Set(['DriverStarted', 'DriverReady', 'RunningHealthy']);
const FINAL_STATES = new Set(['ResourceReleased', 'TerminatedWithoutReleaseResources']);

const jitter = (min: number, max: number) => Math.round(min + Math.random() * (max - min));

interface Watcher {
  child: ChildProcess;
  url: string;
}

interface StepResult {
  apps: number;
  label: string;
  completed: number;
  missed: number;
  holdSeconds: number;
  writesPerJob: number;
  writesByVerb: string;
  leaseWritesPerMin: number;
  readsPerSecPerCluster: number;
  readsBreakdown: string;
  watchRequests: number;
  standinWrites: number;
  runningP50: number;
  runningP99: number;
  runningMax: number;
  /** p50 / p99 of the two legs of the RUNNING path. */
  legs: string;
  endP50: number;
  endP99: number;
  signalsPerChange: number;
  watcherRssMb: number;
  watcherCpuMsPerChange: number;
  watcherCpuPct: number;
  baselineReadsPerSec: number;
  takeover?: { ms: number; caughtUp: number };
}

function machine(): string {
  const cpus = os.cpus();
  return `${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  return num / den;
}

async function watcherReport(url: string): Promise<Record<string, { leader: boolean }> | undefined> {
  try {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    return ((await res.json()) as { clusters: Record<string, { leader: boolean }> }).clusters;
  } catch {
    return undefined;
  }
}

async function startWatcherProcess(env: NodeJS.ProcessEnv, name: string): Promise<Watcher> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/watcher.ts'], {
    env: { ...env, WATCHER_PORT: String(port), WATCHER_HOST: '127.0.0.1' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  while (!(await watcherReport(url))) {
    if (child.exitCode !== null) throw new Error(`watcher ${name} exited with ${child.exitCode}`);
    if (Date.now() > deadline) throw new Error(`watcher ${name} did not answer on ${url}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return { child, url };
}

/** The stand-in's plan: start-up on jittered timers, run until `endAt` (plus jitter), end 90% success / 10% failure. */
function planFor(endAt: () => number) {
  return (_app: FleetApp): FleetPlan => {
    const startup = SEQUENCES.running.map((step) => ({ step, afterMs: jitter(100, 500) }));
    const ending: (string | Transition)[] =
      Math.random() < 0.9 ? ['Succeeded', 'ResourceReleased'] : SEQUENCES.failureWithRetain.slice(5);
    const spread = jitter(0, 15_000);
    // The end is timed from the hold's end, which is known only once the ramp is over.
    const untilEnd = () => endAt() + spread - Date.now();
    return [...startup, ...ending.map((step, i) => ({ step, afterMs: i === 0 ? untilEnd : jitter(200, 600) }))];
  };
}

export async function kubernetesBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      apps: { type: 'string', default: '2000' },
      clusters: { type: 'string', default: '2' },
      rate: { type: 'string', default: '20' },
      hold: { type: 'string', default: '300' },
      'kill-leader': { type: 'boolean', default: false },
      /** Only these steps (comma-separated live apps), e.g. `--steps 2000`. */
      steps: { type: 'string' },
    },
  });
  const maxApps = Number(values.apps);
  const clusterCount = Number(values.clusters);
  const rate = Number(values.rate);
  const holdSeconds = Number(values.hold);
  for (const [flag, v] of [
    ['--apps', maxApps],
    ['--clusters', clusterCount],
    ['--rate', rate],
    ['--hold', holdSeconds],
  ] as const) {
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${flag} must be a positive number`);
  }
  const steps = values.steps
    ? values.steps.split(',').map(Number)
    : maxApps < STEPS[0]!
      ? [maxApps]
      : STEPS.filter((s) => s <= maxApps);
  if (steps.some((n) => !Number.isInteger(n) || n <= 0)) throw new Error('--steps takes positive whole numbers');
  console.log(`[bench] machine: ${machine()}`);
  console.log(
    `[bench] kubernetes: steps ${steps.join(', ')} live apps on ${clusterCount} cluster(s), ${rate}/s submits, hold ${holdSeconds} s${values['kill-leader'] ? ', then a leader-kill run' : ''}`,
  );

  const base = loadConfig();
  const log = (l: string) => console.log(`[bench] ${l}`);
  const binaries = await ensureKubeBinaries({ cacheDir: base.SPARK_RUNNER_CACHE, ...process.env }, log);
  const stack = await startEphemeralStack(base, log, { temporal: 'dev' });
  const kubes: TestKube[] = [];
  const watchers: Watcher[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    for (let i = 0; i < clusterCount; i++) {
      kubes.push(await startTestKube(`bench-${i}`, [NAMESPACE, LEASE_NS], { audit: true, binaries }));
      cleanups.push(() => kubes[i]!.stop());
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-kubernetes-'));
    const gatewayFile = path.join(dir, 'gateway.yaml');
    fs.writeFileSync(
      gatewayFile,
      YAML.stringify({
        teamDomains: { [TEAM]: 'bench' },
        clusters: kubes.map((k, i) => ({
          name: `c${i}`,
          region: 'us-east',
          weight: 1,
          capacity: 10_000,
          kubeconfig: k.kubeconfigPath,
        })),
      }),
    );
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: stack.temporalAddress,
      DATABASE_URL: stack.databaseUrl,
      TEMPORAL_TASK_QUEUE: 'bench-kubernetes',
      GATEWAY_CONFIG: gatewayFile,
      WATCH_LEASE_NAMESPACE: LEASE_NS,
      WORKER_WATCHES_KUBERNETES: 'false',
      LOCAL_BACKEND_ENABLED: 'false',
      // The submit rate, not client-go's default 5 qps, is what this bench sets.
      K8S_QPS: String(Math.max(50, rate * 2)),
      K8S_BURST: String(Math.max(100, rate * 4)),
      LOG_LEVEL: 'warn',
    };
    const config: Config = loadConfig(env);
    const worker = await startWorker({ config, logger: pino({ level: 'warn' }) });
    cleanups.push(() => worker.shutdown());
    const connection = await connectTemporal(config);
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
    const database = openDatabase(stack.databaseUrl, 20);
    cleanups.push(() => database.close());
    const store = new ExecutionStore(database.db);
    const db = database.db;
    const { gateway } = await composeGateway({ role: 'api', config, store, logger: pino({ level: 'warn' }) });
    for (const name of ['a', 'b']) watchers.push(await startWatcherProcess(env, name));
    cleanups.push(() => {
      for (const w of watchers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
      return Promise.resolve();
    });

    const spec = JobSpec.parse({
      name: 'bench-k8s',
      engineVersion: '4.0',
      backend: 'kubernetes',
      application: { type: 'python', file: 'local:///opt/spark/examples/src/main/python/pi.py' },
      retryPolicy: { maxAttempts: 1 },
    });

    const results: StepResult[] = [];
    const runs = [...steps.map((apps) => ({ apps, kill: false }))];
    if (values['kill-leader']) runs.push({ apps: steps[0]!, kill: true });
    for (const run of runs) {
      const result = await runStep({
        ...run,
        watcherEnv: env,
        rate,
        holdSeconds,
        kubes,
        watchers,
        client,
        store,
        config,
        gateway: gateway!,
        spec,
        db,
      });
      results.push(result);
      printStep(result, clusterCount, config); // as each step ends, so a long run shows its figures as it goes
    }
    printSlopes(results);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await stack.stop();
  }
}

interface StepInput {
  watcherEnv: NodeJS.ProcessEnv;
  db: ReturnType<typeof openDatabase>['db'];
  apps: number;
  kill: boolean;
  rate: number;
  holdSeconds: number;
  kubes: TestKube[];
  watchers: Watcher[];
  client: Client;
  store: ExecutionStore;
  config: Config;
  gateway: NonNullable<Awaited<ReturnType<typeof composeGateway>>['gateway']>;
  spec: ReturnType<typeof JobSpec.parse>;
}

async function leaderOf(watchers: Watcher[]): Promise<Watcher | undefined> {
  for (const w of watchers) {
    if (w.child.exitCode !== null || w.child.signalCode !== null) continue;
    const report = await watcherReport(w.url);
    if (report && Object.values(report).some((c) => c.leader)) return w;
  }
  return undefined;
}

async function runStep(input: StepInput): Promise<StepResult> {
  const { apps, rate, holdSeconds, kubes, watchers, client, store, config, db } = input;
  const label = input.kill ? `${apps} (leader killed)` : String(apps);
  const stepStart = Date.now();
  const rampSeconds = apps / rate;
  let holdEnd = stepStart + (rampSeconds + holdSeconds) * 1000 + 5_000;
  const fleets: StandInFleet[] = kubes.map((k) =>
    startStandInFleet(
      k,
      planFor(() => holdEnd),
    ),
  );
  const leader = await leaderOf(watchers);
  if (!leader) throw new Error('no watcher leads a cluster');
  // CPU of every watcher process (the leader, and the standby that waits), a killed one up to its kill.
  const live = [...watchers];
  const cpuStart = new Map(live.map((w) => [w, treeCpuMs(w.child.pid!)]));
  let killedCpuMs = 0;
  let rssKbMax = 0;
  const sampler = setInterval(() => {
    for (const w of watchers) rssKbMax = Math.max(rssKbMax, rssKb(w.child.pid!));
  }, 2000);

  // Ramp: a steady submit rate until the step's number are submitted (submits overlap; at most 64 in flight).
  const ids: string[] = [];
  const failedSubmits: string[] = [];
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < apps; i++) {
    const due = stepStart + (i / rate) * 1000;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    if (inFlight.size >= 64) await Promise.race(inFlight);
    const submit: Promise<void> = submitExecution(
      { client, store, config, gateway: input.gateway },
      { team: TEAM, trigger: 'api', spec: input.spec },
    ).then(
      ({ execution }) => void ids.push(execution.executionId),
      (err: unknown) => void failedSubmits.push(String(err)), // counted and printed, not fatal to the step
    );
    const tracked = submit.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  const rampEnd = Date.now();
  holdEnd = Math.max(holdEnd, rampEnd + holdSeconds * 1000);
  const steadyFrom = rampEnd + 5_000;
  console.log(`[bench] step ${label}: ${apps} submitted in ${((rampEnd - stepStart) / 1000).toFixed(0)} s; holding`);

  let takeover: StepResult['takeover'];
  if (input.kill) {
    await new Promise((r) => setTimeout(r, Math.max(0, holdEnd - Date.now())));
    const victim = (await leaderOf(watchers))!;
    killedCpuMs = treeCpuMs(victim.child.pid!) - (cpuStart.get(victim) ?? 0);
    cpuStart.delete(victim);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    const standby = watchers.find((w) => w !== victim)!;
    for (;;) {
      const report = await watcherReport(standby.url);
      if (report && Object.values(report).every((c) => c.leader)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const ledAt = Date.now();
    const caughtUp = fleets.reduce((n, f) => n + f.writes.filter((w) => w.at >= killedAt && w.at < ledAt).length, 0);
    takeover = { ms: ledAt - killedAt, caughtUp };
    console.log(`[bench] killed the leading watcher; the standby led after ${takeover.ms} ms`);
    // The killed watcher's place: a fresh standby for the next runs.
    watchers.splice(watchers.indexOf(victim), 1, await startWatcherProcess(input.watcherEnv, 'replacement'));
  } else {
    await new Promise((r) => setTimeout(r, Math.max(0, holdEnd - Date.now())));
  }
  const steadyTo = holdEnd;

  // Drain: every execution to its end (or 10 minutes past the last planned end), read from the executions rows
  // in one query per round: thousands of concurrent result() long-polls overwhelm the dev server's frontend.
  const drainDeadline = holdEnd + 30_000 + 10 * 60_000;
  const finals = new Map<string, string>();
  while (finals.size < ids.length && Date.now() < drainDeadline) {
    const pending = ids.filter((id) => !finals.has(id));
    for (let i = 0; i < pending.length; i += 500) {
      const rows = await db
        .select({ id: executions.executionId, state: executions.state })
        .from(executions)
        .where(inArray(executions.executionId, pending.slice(i, i + 500)));
      for (const row of rows) if (isTerminal(row.state)) finals.set(row.id, row.state);
    }
    if (finals.size < ids.length) await new Promise((r) => setTimeout(r, 2000));
  }
  const outcomes = ids.map((id) => finals.get(id) ?? 'MISSED');
  clearInterval(sampler);
  const stepEnd = Date.now();
  for (const f of fleets) await f.stop();
  const cpuMs = [...cpuStart].reduce((n, [w, start]) => n + treeCpuMs(w.child.pid!) - start, killedCpuMs);
  const missed = outcomes.filter((o) => o === 'MISSED').length;
  if (failedSubmits.length) console.log(`[bench] ${failedSubmits.length} submits failed, first: ${failedSubmits[0]}`);

  // Audit counts, per cluster, over the step.
  const audits = kubes.map((k) => readAudit(k.auditLogPath!));
  const sum = (f: (events: AuditEvent[]) => number) => audits.reduce((n, events) => n + f(events), 0);
  const window = { from: stepStart, to: stepEnd };
  const srAppWrites = audits.flatMap((events) =>
    requests(events, { agent: 'spark-runner-', verbs: WRITE_VERBS, resource: 'sparkapplications', ...window }),
  );
  const byVerb = new Map<string, number>();
  for (const e of srAppWrites) byVerb.set(e.verb, (byVerb.get(e.verb) ?? 0) + 1);
  const leaseWrites = sum(
    (events) => requests(events, { agent: 'spark-runner-', verbs: WRITE_VERBS, resource: 'leases', ...window }).length,
  );
  const steadyReads = audits.map((events) =>
    requests(events, { agent: 'spark-runner-', verbs: READ_VERBS, from: steadyFrom, to: steadyTo }),
  );
  const steadySeconds = Math.max(1, (steadyTo - steadyFrom) / 1000);
  const breakdown = new Map<string, number>();
  for (const e of steadyReads.flat()) {
    const what = `${e.verb} ${e.objectRef?.resource ?? e.requestURI.split('?')[0]}${e.objectRef?.name && e.objectRef.resource === 'sparkapplications' ? '/<name>' : ''}`;
    breakdown.set(what, (breakdown.get(what) ?? 0) + 1);
  }
  const watchRequests = sum(
    (events) => requests(events, { agent: 'spark-runner-', verbs: ['watch'], ...window }).length,
  );
  const standinWrites = sum(
    (events) => requests(events, { agent: 'operator-standin', verbs: WRITE_VERBS, ...window }).length,
  );

  // Propagation: the stand-in's status write -> the executions row (RUNNING, and the end).
  const writesByExecution = new Map<string, { state: string; at: number }[]>();
  for (const f of fleets)
    for (const w of f.writes) {
      const id = w.app.labels[LABELS.executionId];
      if (!id) continue;
      writesByExecution.set(id, [...(writesByExecution.get(id) ?? []), { state: w.state, at: w.at }]);
    }
  const toRunning: number[] = [];
  const toEnd: number[] = [];
  // The RUNNING path in two legs: the write until the watcher saw it (status.observedAt), then until the row.
  const toWatcher: number[] = [];
  const watcherToRow: number[] = [];
  for (const id of ids) {
    const writes = writesByExecution.get(id) ?? [];
    const firstRunning = writes.find((w) => RUNNING_STATES.has(w.state));
    const final = writes.find((w) => FINAL_STATES.has(w.state));
    for (const event of await store.listEvents(id)) {
      if (event.eventType === 'RUNNING' && firstRunning) {
        toRunning.push(event.timestamp.getTime() - firstRunning.at);
        const observedAt = Date.parse(String(event.payload.observedAt));
        if (Number.isFinite(observedAt)) {
          toWatcher.push(observedAt - firstRunning.at);
          watcherToRow.push(event.timestamp.getTime() - observedAt);
        }
      }
      if (event.eventType === 'TERMINAL' && final) toEnd.push(event.timestamp.getTime() - final.at);
    }
  }

  // Signals per status change, from the histories of up to 100 of the step's executions.
  const sample = ids.slice(0, 100);
  let signals = 0;
  let changes = 0;
  for (const id of sample) {
    const history = await client.workflow.getHandle(executionWorkflowId(id)).fetchHistory();
    signals += (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes).length;
    changes += writesByExecution.get(id)?.length ?? 0;
  }

  return {
    apps,
    label,
    completed: outcomes.length - missed,
    missed,
    holdSeconds: Math.round((steadyTo - rampEnd) / 1000),
    writesPerJob: srAppWrites.length / apps,
    writesByVerb: [...byVerb.entries()].map(([v, n]) => `${v} ${n}`).join(', ') || 'none',
    leaseWritesPerMin: leaseWrites / ((stepEnd - stepStart) / 60_000),
    readsPerSecPerCluster: Math.max(...steadyReads.map((r) => r.length)) / steadySeconds,
    readsBreakdown:
      [...breakdown.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${(n / steadySeconds / kubes.length).toFixed(2)}/s`)
        .join(', ') || 'none',
    watchRequests,
    standinWrites,
    runningP50: percentile(toRunning, 50),
    runningP99: percentile(toRunning, 99),
    runningMax: Math.max(...toRunning),
    legs: `write -> watcher ${percentile(toWatcher, 50)} / ${percentile(toWatcher, 99)} ms, watcher -> row (signal, workflow task, local activity, Postgres) ${percentile(watcherToRow, 50)} / ${percentile(watcherToRow, 99)} ms`,
    endP50: percentile(toEnd, 50),
    endP99: percentile(toEnd, 99),
    signalsPerChange: changes ? signals / changes : NaN,
    watcherRssMb: rssKbMax / 1024,
    watcherCpuMsPerChange: standinWrites ? cpuMs / standinWrites : NaN,
    watcherCpuPct: (100 * cpuMs) / (stepEnd - stepStart),
    baselineReadsPerSec: apps / (config.STATUS_POLL_INTERVAL_MS / 1000) / kubes.length,
    ...(takeover ? { takeover } : {}),
  };
}

function printStep(r: StepResult, clusters: number, config: Config): void {
  printTable(`bench/kubernetes: ${r.label} live apps on ${clusters} cluster(s), held ${r.holdSeconds} s`, [
    ['executions that reached their final state', `${r.completed}/${r.apps}${r.missed ? ` (${r.missed} MISSED)` : ''}`],
    ['Spark Runner writes per job (audit log)', `${r.writesPerJob.toFixed(2)} (${r.writesByVerb}; goal <= 2)`],
    ['Lease writes (renewals) per minute', r.leaseWritesPerMin.toFixed(1)],
    [
      'Spark Runner reads/s per cluster, steady state',
      `${r.readsPerSecPerCluster.toFixed(2)} (goal <= 5; baseline, a poll per run every ${config.STATUS_POLL_INTERVAL_MS / 1000} s: ${r.baselineReadsPerSec.toFixed(1)})`,
    ],
    ['  of which', r.readsBreakdown],
    ['watch requests (1 per cluster per 5 min is no reconnect)', String(r.watchRequests)],
    ["stand-in status writes (the operator's)", String(r.standinWrites)],
    [
      'status write -> executions row RUNNING p50/p99/max',
      `${r.runningP50} / ${r.runningP99} / ${r.runningMax} ms (goal p99 <= 1000)`,
    ],
    ['  p50 / p99 by leg', r.legs],
    ['final status write -> TERMINAL row p50/p99', `${r.endP50} / ${r.endP99} ms (includes closing the attempt)`],
    ['workflow signals per status change', r.signalsPerChange.toFixed(2)],
    ['watcher: max RSS (largest process)', `${r.watcherRssMb.toFixed(0)} MB`],
    [
      'watchers: CPU (leader + standby)',
      `${r.watcherCpuPct.toFixed(1)}% of a core, ${r.watcherCpuMsPerChange.toFixed(2)} ms per status change`,
    ],
    ...(r.takeover
      ? ([
          ['standby leading after the leader was killed', `${r.takeover.ms} ms`],
          ['status changes written while no watcher led', String(r.takeover.caughtUp)],
        ] as [string, string][])
      : []),
  ]);
}

function printSlopes(results: StepResult[]): void {
  const scaled = results.filter((r) => !r.takeover);
  if (scaled.length >= 2) {
    const xs = scaled.map((r) => r.apps / 1000);
    const per = (f: (r: StepResult) => number, unit: string, digits = 2) =>
      `${slope(xs, scaled.map(f)).toFixed(digits)} ${unit} per 1,000 apps`;
    printTable(`slopes from ${scaled[0]!.apps} to ${scaled.at(-1)!.apps} live apps (least squares)`, [
      ['reads/s per cluster', per((r) => r.readsPerSecPerCluster, 'reads/s')],
      ['writes per job', per((r) => r.writesPerJob, '')],
      ['RUNNING propagation p99', per((r) => r.runningP99, 'ms', 0)],
      ['watcher RSS', per((r) => r.watcherRssMb, 'MB', 1)],
      ['watcher CPU', per((r) => r.watcherCpuPct, '% of a core', 1)],
    ]);
  }
}
