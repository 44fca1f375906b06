/**
 * The sim backend's runs kept in a directory (SIM_BACKEND_STATE_DIR), so that every worker and API process of a
 * fault drill sees the same runs and a run outlives the process that submitted it, as a real backend's would.
 * Test-and-drill only: nothing here is a default.
 *
 *   <dir>/runs/<executionId>_<attempt>.json        the run: its vendor run, script and submit time (written once)
 *   <dir>/runs/<executionId>_<attempt>.cancelled   present once the run was cancelled
 *   <dir>/submissions.log                          one JSON line per run started: {executionId, attempt, pid, at}
 *
 * A submit checks for the run's file and writes it when absent, the way a client of a backend without its own
 * idempotency would: two processes that submit the same attempt at the same moment both start a run, and both
 * write a line to submissions.log. That log is what the drill counts "duplicate backend submissions" from, so it
 * can see the product submitting one attempt twice; the product's own guard is the activity's design, not this
 * file's.
 *
 * Errors: file-system errors are thrown as they are (transient to the calling activity).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { VendorRun } from '../../backend.js';
import type { SimAttemptScript } from './lifecycle.js';

/** One run as the sim backend keeps it. */
export interface SimRun {
  vendorRun: VendorRun;
  script: SimAttemptScript;
  submittedAt: number;
  cancelled: boolean;
}

/** Where the sim backend keeps its runs: this process's memory, or a directory every process shares. */
export interface SimRunBook {
  readonly shared: boolean;
  get(key: string): SimRun | undefined;
  /** Records `run` unless a run for `key` exists; returns the run that is kept and whether it is the new one. */
  create(key: string, run: SimRun): { run: SimRun; created: boolean };
  cancel(key: string): void;
  /** Runs started for this execution (every attempt), counted once per start. */
  submissions(executionId: string): number;
  /** The runs whose keys are not in `seen` yet, which are added to it (a watcher's own set). */
  discover(seen: Set<string>): [string, SimRun][];
}

/** The in-memory book: runs die with the process. */
export function memoryRunBook(): SimRunBook {
  const runs = new Map<string, SimRun>();
  const counts = new Map<string, number>();
  return {
    shared: false,
    get: (key) => runs.get(key),
    create(key, run) {
      const existing = runs.get(key);
      if (existing) return { run: existing, created: false };
      runs.set(key, run);
      counts.set(run.vendorRun.executionId, (counts.get(run.vendorRun.executionId) ?? 0) + 1);
      return { run, created: true };
    },
    cancel(key) {
      const run = runs.get(key);
      if (run) run.cancelled = true;
    },
    submissions: (executionId) => counts.get(executionId) ?? 0,
    discover(seen) {
      const found = [...runs].filter(([key]) => !seen.has(key));
      for (const [key] of found) seen.add(key);
      return found;
    },
  };
}

const fileName = (key: string) => key.replace('/', '_');

/** The directory book: see the header. Creates the directory. */
export function directoryRunBook(stateDir: string): SimRunBook {
  const runsDir = path.join(stateDir, 'runs');
  const log = path.join(stateDir, 'submissions.log');
  fs.mkdirSync(runsDir, { recursive: true });
  // A run's file never changes once written, so each is read once per process; only the cancel marker is re-read.
  const cache = new Map<string, SimRun>();

  function load(key: string): SimRun | undefined {
    let run = cache.get(key);
    if (!run) {
      let text: string;
      try {
        text = fs.readFileSync(path.join(runsDir, `${fileName(key)}.json`), 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
      run = JSON.parse(text) as SimRun;
      cache.set(key, run);
    }
    if (!run.cancelled && fs.existsSync(path.join(runsDir, `${fileName(key)}.cancelled`))) run.cancelled = true;
    return run;
  }

  return {
    shared: true,
    get: load,
    create(key, run) {
      const existing = load(key);
      if (existing) return { run: existing, created: false };
      const file = path.join(runsDir, `${fileName(key)}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify(run));
      fs.renameSync(tmp, file);
      const { executionId, attempt } = run.vendorRun;
      fs.appendFileSync(log, JSON.stringify({ executionId, attempt, pid: process.pid, at: Date.now() }) + '\n');
      cache.set(key, run);
      return { run, created: true };
    },
    cancel(key) {
      if (load(key)) fs.writeFileSync(path.join(runsDir, `${fileName(key)}.cancelled`), '');
    },
    submissions: (executionId) =>
      readSimSubmissions(stateDir)
        .filter((s) => s.executionId === executionId)
        .reduce((n, s) => n + s.count, 0),
    discover(seen) {
      const found: [string, SimRun][] = [];
      for (const name of fs.readdirSync(runsDir)) {
        if (!name.endsWith('.json')) continue;
        const key = name.slice(0, -'.json'.length).replace('_', '/');
        if (seen.has(key)) continue;
        seen.add(key);
        const run = load(key);
        if (run) found.push([key, run]);
      }
      return found;
    },
  };
}

/** Runs started per (execution, attempt), from a state directory's submissions.log; more than 1 is a duplicate. */
export function readSimSubmissions(stateDir: string): { executionId: string; attempt: number; count: number }[] {
  let text = '';
  try {
    text = fs.readFileSync(path.join(stateDir, 'submissions.log'), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const counts = new Map<string, { executionId: string; attempt: number; count: number }>();
  for (const line of text.split('\n')) {
    if (!line) continue;
    const { executionId, attempt } = JSON.parse(line) as { executionId: string; attempt: number };
    const key = `${executionId}/${attempt}`;
    const entry = counts.get(key) ?? { executionId, attempt, count: 0 };
    entry.count += 1;
    counts.set(key, entry);
  }
  return [...counts.values()];
}
