/**
 * bench/drill: the fault drill (issue 19). Kill any process at any moment: nothing is lost, nothing is submitted
 * twice, no event is written twice.
 *
 *   npm run bench -- drill [--executions 1000] [--seed 19] [--rate 8] [--faults N] [--temporal dev|real]
 *                          [--json report.json] [--keep]
 *
 * Real, separate processes: Postgres, a Temporal server, two workers (bin/worker.ts) and two API processes
 * (bin/api.ts), all started with provision/process.ts. The Temporal server is the CLI's dev server on a SQLite file
 * (`--temporal dev`, the default; `--db-filename`, so it survives a restart) or the Temporal server on the drill's
 * own Postgres (`--temporal real`, as deployed: provision/temporal-server.ts), which a Postgres kill then takes
 * down with the product's store. The sim backend stands in for Spark (nothing else can run 1,000 jobs on two cores); it runs
 * in the workers with SIM_BACKEND_STATE_DIR, so its runs outlive a worker and it logs every run it starts.
 *
 * A client submits the executions over REST with an Idempotency-Key each, round-robin over both APIs, and retries
 * connection errors and 5xx with the same key, as a CI client would. A seeded schedule (mulberry32; no dependency)
 * picks each fault's kind, target, moment, and how long the process stays down: SIGKILL and restart of a worker, an
 * API, Postgres and the Temporal server, and SIGSTOP then SIGCONT of a worker (a long GC pause or a partition).
 * Every kind happens at least once (--faults, default max(5, executions / 50)). Faults run one at a time, each a
 * seeded 1-6 s after the previous one is over. The client spreads its submits over the whole schedule (the faults
 * left times the mean fault cycle so far, at most --rate per second), so traffic flows before, during and after
 * each fault.
 *
 * At the end it checks, from the drill's own Postgres and the sim's submissions log:
 * - lost: an accepted key without exactly one execution that ended SUCCEEDED (goal 0);
 * - duplicate backend submissions: runs started more than once for one (execution, attempt) (goal 0);
 * - duplicate events: two execution_events rows for one (execution, attempt, event type), which is the key
 *   recordEvent derives its deterministic event_id from (store/ids.ts eventIdFor; no caller passes a
 *   discriminator), or two rows with one event_id (goal 0);
 * and prints client-visible errors by kind and, per fault, the time until the process was back, until the next
 * accepted submit, and until the next execution finished. Nothing is asserted here; the CI test asserts the zeros.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { loadConfig } from '../config/index.js';
import { readSimSubmissions } from '../gateway/backends/sim/index.js';
import { findPostgresBin, startPostgres } from '../provision/postgres.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../provision/process.js';
import { ensureTemporalCli, startTemporalDevServer } from '../provision/temporal.js';
import {
  DEPLOYED_DYNAMIC_CONFIG,
  ensureNamespace,
  ensureTemporalServerFromEnv,
  setupTemporalSchema,
  startTemporalServer,
  temporalPostgresFrom,
  type InternalPorts,
} from '../provision/temporal-server.js';
import { openDatabase, runMigrations } from '../store/db.js';
import { percentile, printTable } from './stats.js';
import { seededRandom } from '../gateway/routing.js';

const TEAM = 'drill';
const TOKEN = 'drill-admin-token';
const KINDS = ['worker-kill', 'api-kill', 'postgres-kill', 'temporal-kill', 'worker-stop'] as const;
type FaultKind = (typeof KINDS)[number];

export interface PlannedFault {
  kind: FaultKind;
  /** Which worker or API (0 or 1). */
  target: number;
  /** How long after the previous fault ended this one starts. */
  gapMs: number;
  /** SIGKILL: how long the process stays down before its restart. SIGSTOP: how long it stays stopped. */
  downMs: number;
}

/** The seeded schedule: every kind once in a shuffled order, then random kinds; targets, gaps and down times. */
export function planFaults(random: () => number, count: number): PlannedFault[] {
  const kinds: FaultKind[] = [...KINDS];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  while (kinds.length < count) kinds.push(KINDS[Math.floor(random() * KINDS.length)]!);
  return kinds.map((kind) => ({
    kind,
    target: Math.floor(random() * 2),
    gapMs: 1000 + Math.floor(random() * 5000),
    downMs: kind === 'worker-stop' ? 5000 + Math.floor(random() * 20_000) : 200 + Math.floor(random() * 2800),
  }));
}

interface FaultResult extends PlannedFault {
  at: number;
  /** Executions submitted when it began. */
  submitted: number;
  /** The process answered again (SIGSTOP: it was continued). */
  backMs: number;
  inFlight: number;
  nextSubmitMs?: number;
  nextProgressMs?: number;
}

export interface DrillReport {
  seed: number;
  /** Which Temporal server ran: `dev` or `real`. */
  temporal: TemporalKind;
  executions: number;
  accepted: number;
  gaveUp: number;
  lost: number;
  lostDetail: string[];
  duplicateSubmissions: number;
  duplicateEvents: number;
  /** Executions that needed more than one attempt (each of their runs was scripted to succeed). */
  retried: number;
  /** Executions whose events lack their attempt's SUBMIT or TERMINAL (a write that was acknowledged and lost). */
  incompleteHistories: number;
  eventSequences: Record<string, number>;
  clientErrors: Record<string, number>;
  faults: FaultResult[];
  unexpectedExits: string[];
  seconds: number;
}

/** A process of the drill: its name, how to start it, its current instance and its last log lines. */
interface Member {
  name: string;
  start(): Promise<ManagedProcess>;
  proc?: ManagedProcess;
  /** Set while the drill kills it, so its exit is not reported as unexpected. */
  killing?: boolean;
  lines: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type TemporalKind = 'dev' | 'real';
const SERVER_NAME: Record<TemporalKind, string> = {
  dev: 'the Temporal CLI dev server on SQLite',
  real: 'the Temporal server on Postgres',
};

export async function drillBench(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      executions: { type: 'string', default: '1000' },
      seed: { type: 'string', default: '19' },
      rate: { type: 'string', default: '8' },
      faults: { type: 'string' },
      temporal: { type: 'string', default: 'dev' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
    },
  });
  const executions = Number(values.executions);
  const seed = Number(values.seed);
  const rate = Number(values.rate);
  if (!Number.isInteger(executions) || executions < 10) throw new Error('--executions is a whole number ≥ 10');
  if (!Number.isFinite(rate) || rate <= 0) throw new Error('--rate must be a positive number');
  const temporal = values.temporal;
  if (temporal !== 'dev' && temporal !== 'real') throw new Error(`--temporal is dev or real, not "${temporal}"`);
  const faultCount = values.faults ? Number(values.faults) : Math.max(KINDS.length, Math.ceil(executions / 50));
  const report = await runDrill({ executions, seed, rate, faultCount, temporal, keep: values.keep });
  printReport(report);
  if (values.json) fs.writeFileSync(values.json, JSON.stringify(report, null, 2));
}

async function runDrill(options: {
  executions: number;
  seed: number;
  rate: number;
  faultCount: number;
  temporal: TemporalKind;
  keep: boolean;
}): Promise<DrillReport> {
  const { executions, seed, rate } = options;
  const random = seededRandom(seed);
  const plan = planFaults(random, options.faultCount);
  const config = loadConfig();
  const log = (line: string) => console.log(`[drill] ${line}`);
  const pgBin = findPostgresBin(config.PG_BIN);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'spark-runner-drill-'));
  fs.chmodSync(tmp, 0o755);
  const logDir = path.join(tmp, 'logs');
  fs.mkdirSync(logDir);
  const simDir = path.join(tmp, 'sim');
  const [pgPort, temporalPort, ...apiPorts] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const databaseUrl = `postgres://spark_runner@127.0.0.1:${pgPort}/spark_runner`;
  const started = Date.now();
  const unexpectedExits: string[] = [];
  let stopping = false;

  const lineSink = (member: Member) => {
    const out = fs.createWriteStream(path.join(logDir, `${member.name}.log`), { flags: 'a' });
    return (line: string) => {
      out.write(line + '\n');
      member.lines.push(line);
      if (member.lines.length > 40) member.lines.shift();
    };
  };
  // Processes of the product get exactly this environment: the drill's own Temporal and Postgres.
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of ['API_TOKENS_FILE', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'WORKER_METRICS_PORT', 'GATEWAY_CONFIG'])
    delete env[k];
  Object.assign(env, {
    TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
    DATABASE_URL: databaseUrl,
    TEMPORAL_TASK_QUEUE: 'drill',
    SPARK_RUNNER_DATA: path.join(tmp, 'data'),
    SIM_BACKEND_STATE_DIR: simDir,
    LOCAL_BACKEND_ENABLED: 'false',
    DEFAULT_BACKEND: 'sim',
    API_TOKENS: `drill:${TEAM}:admin:${TOKEN}`,
    CONNECT_PROXY_ENABLED: 'false',
    STATUS_POLL_INTERVAL_MS: '5000',
    LOG_LEVEL: 'info',
  });

  const members: Member[] = [];
  const member = (name: string, start: (m: Member) => Promise<ManagedProcess>): Member => {
    const m: Member = { name, lines: [], start: () => start(m) };
    members.push(m);
    return m;
  };
  const postgres = member('postgres', async (m) => {
    // A postmaster killed with SIGKILL leaves backends that exit on their own within moments; retry until then.
    let lastErr: unknown;
    for (let tries = 0; tries < 30; tries++) {
      try {
        const started = await startPostgres(pgBin, path.join(tmp, 'postgres'), pgPort, lineSink(m));
        return started.process;
      } catch (err) {
        lastErr = err;
        await sleep(1000);
      }
    }
    throw lastErr;
  });
  const startTemporal = await temporalStarter(options.temporal, config, databaseUrl, tmp, temporalPort, log);
  const temporal = member('temporal', (m) => startTemporal(lineSink(m)));
  const workers = [0, 1].map((i) =>
    member(`worker-${i}`, async (m) => {
      let ready: () => void = () => undefined;
      const isReady = new Promise<void>((r) => (ready = r));
      const sink = lineSink(m);
      const proc = startProcess(m.name, process.execPath, ['--import', 'tsx', path.resolve('bin/worker.ts')], {
        env,
        onLine: (line) => {
          sink(line);
          if (line.includes('"msg":"worker started"')) ready();
        },
      });
      await waitFor(() => isReady.then(() => true), {
        timeoutMs: 180_000,
        message: `${m.name} did not start`,
        exited: proc.exited,
      });
      return proc;
    }),
  );
  const apiUrls = apiPorts.map((port) => `http://127.0.0.1:${port}`);
  const apis = [0, 1].map((i) =>
    member(`api-${i}`, async (m) => {
      const proc = startProcess(m.name, process.execPath, ['--import', 'tsx', path.resolve('bin/api.ts')], {
        env: { ...env, API_PORT: String(apiPorts[i]) },
        onLine: lineSink(m),
      });
      await waitFor(async () => (await fetch(`${apiUrls[i]}/readyz`, { signal: AbortSignal.timeout(2000) })).ok, {
        timeoutMs: 120_000,
        message: `${m.name} did not become ready`,
        exited: proc.exited,
      });
      return proc;
    }),
  );

  /** Starts a member and watches it: an exit the drill did not cause is reported, and restarted like a supervisor. */
  async function launch(m: Member): Promise<void> {
    const proc = await m.start();
    m.proc = proc;
    void proc.exited.then(async (code) => {
      if (m.killing || stopping || m.proc !== proc) return;
      unexpectedExits.push(`${m.name} exited (${code}) at ${elapsed()} s: ${m.lines.slice(-5).join(' | ')}`);
      log(`${m.name} exited unexpectedly (${code}); restarting it`);
      await sleep(1000);
      if (!stopping) await launch(m).catch((err: Error) => unexpectedExits.push(`${m.name} restart: ${err.message}`));
    });
  }
  const elapsed = () => ((Date.now() - started) / 1000).toFixed(1);

  // The product's own pool: a Postgres killed under it does not crash the drill.
  const { pool } = openDatabase(databaseUrl, 2, 2000);
  const stopAll = async () => {
    stopping = true;
    await pool.end().catch(() => undefined);
    for (const group of [[...workers, ...apis], [temporal], [postgres]]) {
      await Promise.all(group.map((m) => (m.proc ? m.proc.stop(undefined, 5000) : Promise.resolve())));
    }
    if (!options.keep) fs.rmSync(tmp, { recursive: true, force: true });
    else log(`kept ${tmp} (logs in ${logDir})`);
  };

  // Interrupted (Ctrl-C, a CI timeout): stop every process started, as at the end.
  const onSignal = (signal: NodeJS.Signals) =>
    void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await launch(postgres);
    await runMigrations(databaseUrl);
    await launch(temporal);
    // The real server starts with no namespace: the product's own set-up registers it (what the Helm hook runs).
    if (options.temporal === 'real') {
      await ensureNamespace(env.TEMPORAL_ADDRESS!, config.TEMPORAL_NAMESPACE, false, { timeoutMs: 180_000 });
    }
    await Promise.all([...workers, ...apis].map(launch));
    log(
      `stack up in ${elapsed()} s (${tmp}, ${SERVER_NAME[options.temporal]}); ${executions} executions (at most ${rate}/s), ${plan.length} faults, seed ${seed}`,
    );

    // Progress: executions that reached SUCCEEDED, sampled every 250 ms (nothing is read while Postgres is down).
    let succeeded = 0;
    let lastProgressAt = 0;
    let sampling = false;
    const progress = setInterval(() => {
      if (sampling) return;
      sampling = true;
      pool
        .query<{ n: number }>(`select count(*)::int as n from executions where team = $1 and state = 'SUCCEEDED'`, [
          TEAM,
        ])
        .then(({ rows }) => {
          if (rows[0]!.n > succeeded) {
            succeeded = rows[0]!.n;
            lastProgressAt = Date.now();
          }
        })
        .catch(() => undefined)
        .finally(() => (sampling = false));
    }, 250);

    const client = submitter(apiUrls, random, executions);
    let submitted = 0;
    let faultsDone = 0;
    // The mean time from one fault's end to the next one's end, measured as they happen (a first guess before).
    let cycleMs = 25_000;

    const faults: FaultResult[] = [];
    const faultRunner = (async () => {
      for (const fault of plan) {
        const cycleStart = Date.now();
        await sleep(fault.gapMs);
        const at = Date.now();
        const result: FaultResult = { ...fault, at, submitted, backMs: 0, inFlight: client.accepted.size - succeeded };
        const acceptedBefore = client.acceptedTimes.length;
        const succeededBefore = succeeded;
        log(`fault ${faults.length + 1}/${plan.length}: ${describe(fault)} at ${elapsed()} s`);
        await inject(fault);
        result.backMs = Date.now() - at;
        faults.push(result);
        // Recovery is read later, once the next submit and the next finished execution after `at` are known.
        void (async () => {
          const deadline = Date.now() + 600_000;
          while (Date.now() < deadline && !stopping) {
            const next = client.acceptedTimes.slice(acceptedBefore).find((t) => t > at);
            if (next !== undefined && result.nextSubmitMs === undefined) result.nextSubmitMs = next - at;
            if (succeeded > succeededBefore && result.nextProgressMs === undefined && lastProgressAt > at) {
              result.nextProgressMs = lastProgressAt - at;
            }
            if (result.nextSubmitMs !== undefined && result.nextProgressMs !== undefined) return;
            await sleep(100);
          }
        })();
        cycleMs = (cycleMs * faultsDone + (Date.now() - cycleStart)) / (faultsDone + 1);
        faultsDone += 1;
      }
    })();

    async function inject(fault: PlannedFault): Promise<void> {
      const target =
        fault.kind === 'postgres-kill'
          ? postgres
          : fault.kind === 'temporal-kill'
            ? temporal
            : fault.kind === 'api-kill'
              ? apis[fault.target]!
              : workers[fault.target]!;
      const proc = target.proc!;
      if (fault.kind === 'worker-stop') {
        proc.child.kill('SIGSTOP');
        await sleep(fault.downMs);
        proc.child.kill('SIGCONT');
        return;
      }
      target.killing = true;
      proc.child.kill('SIGKILL');
      await proc.exited;
      await sleep(fault.downMs);
      try {
        await launch(target);
      } finally {
        target.killing = false;
      }
    }

    // The client: the executions left spread over the faults left, at most --rate per second and 16 in flight.
    const inflight = new Set<Promise<void>>();
    let nextAt = Date.now();
    for (let i = 0; i < executions; i++) {
      const spread = ((plan.length - faultsDone) * cycleMs) / (executions - i);
      nextAt = Math.max(nextAt + Math.max(1000 / rate, spread), Date.now());
      await sleep(nextAt - Date.now());
      while (inflight.size >= 16) await Promise.race(inflight);
      const p: Promise<void> = client.submit(i).finally(() => inflight.delete(p));
      inflight.add(p);
      submitted = i + 1;
    }
    await Promise.all(inflight);
    await faultRunner;
    log(`all ${executions} submitted and ${plan.length} faults done at ${elapsed()} s; waiting for the executions`);

    const drainDeadline = Date.now() + 600_000;
    while (Date.now() < drainDeadline) {
      const { rows } = await pool
        .query<{ n: number }>(
          `select count(*)::int as n from executions where team = $1 and state in ('SUCCEEDED', 'FAILED', 'CANCELLED')`,
          [TEAM],
        )
        .catch(() => ({ rows: [{ n: -1 }] }));
      if (rows[0]!.n >= client.accepted.size) break;
      await sleep(500);
    }
    clearInterval(progress);
    const { rows: last } = await pool.query<{ n: number }>(
      `select count(*)::int as n from executions where team = $1 and state = 'SUCCEEDED'`,
      [TEAM],
    );
    if (last[0]!.n > succeeded) [succeeded, lastProgressAt] = [last[0]!.n, Date.now()];
    await sleep(1000); // the recovery readers' last look
    const checks = await check(pool, simDir, client.accepted);
    return {
      seed,
      temporal: options.temporal,
      executions,
      accepted: client.accepted.size,
      gaveUp: client.gaveUp,
      ...checks,
      clientErrors: Object.fromEntries([...client.errors].sort((a, b) => b[1] - a[1])),
      faults,
      unexpectedExits,
      seconds: Math.round((Date.now() - started) / 1000),
    };
  } catch (err) {
    for (const m of members) console.error(`[drill] last lines of ${m.name}: ${m.lines.slice(-10).join('\n  ')}`);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stopAll();
  }
}

/**
 * How the drill starts (and restarts) its Temporal server: the CLI's dev server on a SQLite file, or the Temporal
 * server on the drill's Postgres (its schema set up at the first start, once Postgres runs), restarted on the same
 * ports so that every client reconnects to the same address.
 */
async function temporalStarter(
  kind: TemporalKind,
  config: ReturnType<typeof loadConfig>,
  databaseUrl: string,
  tmp: string,
  port: number,
  log: (line: string) => void,
): Promise<(onLine: (line: string) => void) => Promise<ManagedProcess>> {
  if (kind === 'dev') {
    const cli = await ensureTemporalCli(config, log);
    const dbFile = path.join(tmp, 'temporal.db');
    return (onLine) =>
      startTemporalDevServer({ cli: cli.path, port, dbFile, namespace: config.TEMPORAL_NAMESPACE, onLine });
  }
  const install = await ensureTemporalServerFromEnv(config.SPARK_RUNNER_CACHE, log);
  const postgres = temporalPostgresFrom(databaseUrl, { main: 'temporal', visibility: 'temporal_visibility' });
  let internalPorts: InternalPorts | undefined;
  return async (onLine) => {
    if (!internalPorts)
      await setupTemporalSchema({ sqlTool: install.sqlTool, schemaDir: install.schemaDir, ...postgres });
    const server = await startTemporalServer({
      server: install.server,
      dir: path.join(tmp, 'temporal-server'),
      postgres,
      frontendPort: port,
      ...(internalPorts ? { internalPorts } : {}),
      dynamicConfig: DEPLOYED_DYNAMIC_CONFIG,
      logLevel: 'warn',
      onLine,
    });
    internalPorts = server.internalPorts;
    return server.process;
  };
}

function describe(fault: PlannedFault): string {
  switch (fault.kind) {
    case 'worker-kill':
      return `SIGKILL worker-${fault.target}, restart after ${fault.downMs} ms`;
    case 'api-kill':
      return `SIGKILL api-${fault.target}, restart after ${fault.downMs} ms`;
    case 'postgres-kill':
      return `SIGKILL Postgres, restart after ${fault.downMs} ms`;
    case 'temporal-kill':
      return `SIGKILL the Temporal server, restart after ${fault.downMs} ms`;
    case 'worker-stop':
      return `SIGSTOP worker-${fault.target} for ${fault.downMs} ms, then SIGCONT`;
  }
}

/** The REST client: one Idempotency-Key per execution, retried with the same key on connection errors and 5xx. */
function submitter(apiUrls: string[], random: () => number, executions: number) {
  // The jobs are drawn up front, so a seed gives the same bodies whatever the timing (a retry resends the same body).
  const bodies = Array.from({ length: executions }, (_, i) => {
    const runningAfterMs = 200 + Math.floor(random() * 1800);
    return {
      team: TEAM,
      name: `drill-${i % 10}`,
      engineVersion: '4.0',
      backend: 'sim',
      application: { type: 'python', file: 'drill.py' },
      sim: { attempts: [{ runningAfterMs, endAfterMs: runningAfterMs + 1000 + Math.floor(random() * 7000) }] },
    };
  });
  const runKey = Date.now().toString(36);
  const accepted = new Map<string, string>();
  const acceptedTimes: number[] = [];
  const errors = new Map<string, number>();
  let turn = 0;
  const state = {
    accepted,
    acceptedTimes,
    errors,
    gaveUp: 0,
    async submit(i: number): Promise<void> {
      const key = `drill-${runKey}-${i}`;
      const giveUpAt = Date.now() + 300_000;
      for (let tries = 0; Date.now() < giveUpAt; tries++) {
        const url = apiUrls[turn++ % apiUrls.length]!;
        let kind: string;
        try {
          const res = await fetch(`${url}/api/v1/jobs`, {
            method: 'POST',
            headers: {
              authorization: `Bearer ${TOKEN}`,
              'content-type': 'application/json',
              'idempotency-key': key,
            },
            body: JSON.stringify(bodies[i]),
            signal: AbortSignal.timeout(15_000),
          });
          const text = await res.text();
          if (res.status === 202 || res.status === 200) {
            accepted.set(key, (JSON.parse(text) as { execution_id: string }).execution_id);
            acceptedTimes.push(Date.now());
            return;
          }
          kind = `HTTP ${res.status}${res.status >= 500 ? '' : `: ${text.slice(0, 120)}`}`;
          if (res.status < 500 && res.status !== 429) {
            errors.set(kind, (errors.get(kind) ?? 0) + 1);
            state.gaveUp += 1;
            return;
          }
        } catch (err) {
          const e = err as Error & { cause?: { code?: string } };
          kind = e.cause?.code ?? e.name;
        }
        errors.set(kind, (errors.get(kind) ?? 0) + 1);
        await sleep(Math.min(2000, 100 * 2 ** Math.min(tries, 5)));
      }
      state.gaveUp += 1;
    },
  };
  return state;
}

/** The three zeros and the event sequences, read from the drill's Postgres and the sim's submissions log. */
async function check(pool: pg.Pool, simDir: string, accepted: Map<string, string>) {
  const { rows } = await pool.query<{ key: string; id: string; state: string; attempt: number }>(
    `select idempotency_key as key, execution_id as id, state, attempt from executions where team = $1`,
    [TEAM],
  );
  const byKey = new Map<string, (typeof rows)[number][]>();
  for (const row of rows) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row]);
  const lostDetail: string[] = [];
  for (const [key, id] of accepted) {
    const found = byKey.get(key) ?? [];
    if (found.length !== 1 || found[0]!.state !== 'SUCCEEDED' || found[0]!.id !== id) {
      lostDetail.push(`${key} (${id}): ${found.map((r) => `${r.id} ${r.state}`).join(', ') || 'no execution'}`);
    }
  }
  const ids = new Set(accepted.values());
  const duplicateSubmissions = readSimSubmissions(simDir)
    .filter((s) => ids.has(s.executionId) && s.count > 1)
    .reduce((n, s) => n + s.count - 1, 0);
  const duplicateByKey = await pool.query<{ n: number }>(
    `select coalesce(sum(n - 1), 0)::int as n from (
       select count(*) as n from execution_events e join executions x using (execution_id)
       where x.team = $1 group by e.execution_id, e.attempt, e.event_type having count(*) > 1) d`,
    [TEAM],
  );
  const duplicateById = await pool.query<{ n: number }>(
    `select coalesce(sum(n - 1), 0)::int as n from (
       select count(*) as n from execution_events group by event_id having count(*) > 1) d`,
  );
  const sequences = await pool.query<{ sequence: string; n: number }>(
    `select sequence, count(*)::int as n from (
       select string_agg(e.attempt || ':' || e.event_type, ' ' order by e.seq) as sequence
       from execution_events e join executions x using (execution_id) where x.team = $1
       group by e.execution_id) s group by sequence order by n desc`,
    [TEAM],
  );
  return {
    lost: lostDetail.length,
    lostDetail: lostDetail.slice(0, 20),
    duplicateSubmissions,
    duplicateEvents: duplicateByKey.rows[0]!.n + duplicateById.rows[0]!.n,
    retried: rows.filter((r) => r.attempt > 1).length,
    eventSequences: Object.fromEntries(sequences.rows.map((r) => [r.sequence, r.n])),
    incompleteHistories:
      ids.size - sequences.rows.filter((r) => /^1:SUBMIT .*1:TERMINAL/.test(r.sequence)).reduce((n, r) => n + r.n, 0),
  };
}

function printReport(r: DrillReport): void {
  const fmt = (ms: number | undefined) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(1)} s`);
  printTable(
    `[bench] fault drill: ${r.executions} executions, ${r.faults.length} faults, seed ${r.seed}, on ${SERVER_NAME[r.temporal]}`,
    [
      ['executions accepted', `${r.accepted}/${r.executions} (${r.gaveUp} given up)`],
      ['executions lost (goal 0)', `${r.lost}${r.lostDetail.length ? `: ${r.lostDetail.join('; ')}` : ''}`],
      ['duplicate backend submissions (goal 0)', String(r.duplicateSubmissions)],
      ['duplicate events (goal 0)', String(r.duplicateEvents)],
      ['executions with more than one attempt', String(r.retried)],
      ['histories without their SUBMIT or TERMINAL event', String(r.incompleteHistories)],
      ['unexpected process exits', r.unexpectedExits.length ? r.unexpectedExits.join('; ') : '0'],
      ['wall time', `${r.seconds} s`],
    ],
  );
  printTable(
    '[bench] client-visible errors by kind (each retried with the same key)',
    Object.entries(r.clientErrors).length
      ? Object.entries(r.clientErrors).map(([k, n]): [string, string] => [k, String(n)])
      : [['none', '0']],
  );
  printTable(
    '[bench] event sequences (executions)',
    Object.entries(r.eventSequences).map(([k, n]): [string, string] => [k, String(n)]),
  );
  printTable(
    '[bench] faults: process back / next accepted submit / next execution finished, after the fault began',
    r.faults.map((f, i): [string, string] => [
      `${i + 1}. ${describe(f)} (${f.submitted} submitted, ${f.inFlight} in flight)`,
      `${fmt(f.backMs)} / ${fmt(f.nextSubmitMs)} / ${fmt(f.nextProgressMs)}`,
    ]),
  );
  const byKind = new Map<string, number[]>();
  for (const f of r.faults) {
    if (f.nextProgressMs !== undefined) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f.nextProgressMs]);
  }
  printTable(
    '[bench] time to the next finished execution after a fault, by kind: p50 / max',
    KINDS.map((k): [string, string] => {
      const v = byKind.get(k) ?? [];
      return [k, v.length ? `${fmt(percentile(v, 50))} / ${fmt(Math.max(...v))} (${v.length})` : '-'];
    }),
  );
}
