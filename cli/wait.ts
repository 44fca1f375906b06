/**
 * `submit --wait`: polls GET /api/v1/jobs/{id} until the execution ends, showing one status line. On a terminal
 * the line is rewritten in place; elsewhere (CI logs, pipes) a line is printed each time something changes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isTerminal, type TerminalState } from '../schema/states.js';
import type { Execution } from '../api/wire.js';
import type { Output } from './context.js';
import { ConnectionError } from './errors.js';
import { formatDuration, truncate } from './format.js';
import type { ApiClient } from './http.js';

export const POLL_INTERVAL_MS = 1000;
/** Consecutive failed polls tolerated (an API restart) before giving up. */
const MAX_MISSED_POLLS = 30;

/** One status line: `RUNNING  attempt 1  0m12s  local  ui http://...`. */
export function statusLine(job: Execution, elapsedMs: number): string {
  return [
    job.status.padEnd(9),
    (job.attempts > 0 ? `attempt ${job.attempts}` : '').padEnd(9), // blank before the first attempt
    formatDuration(elapsedMs).padStart(6),
    job.backend ?? '',
    job.spark_ui_url ? `ui ${job.spark_ui_url}` : '',
  ]
    .filter(Boolean)
    .join('  ');
}

class ProgressLine {
  private lastKey = '';
  private open = false;

  constructor(private readonly out: Output) {}

  show(job: Execution, elapsedMs: number): void {
    const line = statusLine(job, elapsedMs);
    if (this.out.isTTY) {
      // A line wider than the terminal would wrap, and \r could then only rewrite its last row.
      const width = this.out.columns ?? 0;
      this.out.write(`\r\x1b[2K${width > 1 ? truncate(line, width - 1) : line}`);
      this.open = true;
      return;
    }
    const key = `${job.status}|${job.attempts}|${job.spark_ui_url ?? ''}`;
    if (key !== this.lastKey) this.out.write(`${line}\n`);
    this.lastKey = key;
  }

  /** Ends a rewritten line so what follows starts on its own line. */
  close(): void {
    if (this.open) this.out.write('\n');
    this.open = false;
  }
}

/** Polls until the execution is SUCCEEDED, FAILED or CANCELLED and returns its last status. */
export async function waitForEnd(
  api: ApiClient,
  id: string,
  progress: Output,
  signal: AbortSignal,
): Promise<Execution & { status: TerminalState }> {
  const started = Date.now();
  const line = new ProgressLine(progress);
  let missed = 0;
  try {
    for (;;) {
      let job: Execution | undefined;
      try {
        job = await api.json<Execution>('GET', `/api/v1/jobs/${encodeURIComponent(id)}`);
        missed = 0;
      } catch (err) {
        if (!(err instanceof ConnectionError) || ++missed > MAX_MISSED_POLLS) throw err;
      }
      if (job) {
        line.show(job, Date.now() - started);
        const { status } = job;
        if (isTerminal(status)) return { ...job, status };
      }
      await sleep(POLL_INTERVAL_MS, undefined, { signal });
    }
  } finally {
    line.close();
  }
}
