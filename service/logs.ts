/**
 * An execution's driver logs, wherever they are now: an attempt that has ended is read from the log archive
 * (store/log-archive.ts), the running one live from its backend. Used by the logs routes (and through them the
 * CLI's `logs`).
 *
 * Following (`followExecutionLog`) moves through the attempts in order. For each it streams the live log, counting
 * the bytes it passed on; when the live source ends (the run ended, or its pod or files went away), it waits for
 * that attempt's archive, written when the attempt ended, and goes on from the same byte, so the switch from live
 * to archived has no gap and no duplicate line. Nothing is held whole: a tail keeps only its last lines.
 */
import { StringDecoder } from 'node:string_decoder';
import type { RunRef } from '../gateway/backend.js';
import type { SparkGateway } from '../gateway/index.js';
import { isTerminal } from '../schema/states.js';
import type { ExecutionRow, ExecutionStore } from '../store/executions.js';
import { archiveOffsetOf } from '../store/log-archive.js';
import { NotFound } from './errors.js';

export interface LogDeps {
  store: ExecutionStore;
  gateway: SparkGateway;
}

export interface LogRequest {
  /** The attempt (default: the current one). */
  attempt?: number;
  /** Only the last N lines. */
  tail?: number;
}

/** How often a follow looks again for the next attempt or an attempt's archive. */
const FOLLOW_POLL_MS = 500;

const pause = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** The current attempt's run, when it has reached a backend. */
function liveRun(row: ExecutionRow, attempt: number): RunRef | undefined {
  return attempt === row.attempt && row.backend && row.vendorRunId
    ? { executionId: row.executionId, attempt, vendorRunId: row.vendorRunId }
    : undefined;
}

/** Keeps the last `n` lines of a byte stream without holding the rest. */
class LastLines {
  private lines: string[] = [];
  private partial = '';
  private readonly decoder = new StringDecoder('utf8');
  constructor(private readonly n: number) {}
  push(chunk: Uint8Array | string): void {
    const text = this.partial + (typeof chunk === 'string' ? chunk : this.decoder.write(Buffer.from(chunk)));
    const parts = text.split('\n');
    this.partial = parts.pop()!;
    this.lines.push(...parts.map((l) => `${l}\n`));
    if (this.lines.length > this.n) this.lines.splice(0, this.lines.length - this.n);
  }
  text(): string {
    const rest = this.partial + this.decoder.end();
    const lines = rest ? [...this.lines, rest].slice(-this.n) : this.lines;
    return lines.join('');
  }
}

/**
 * One attempt's log as a stream of chunks: archived when the attempt has ended and its archive is written, else
 * live from the backend. `NotFound` for an attempt the execution never had.
 */
export async function* readExecutionLog(
  deps: LogDeps,
  row: ExecutionRow,
  request: LogRequest = {},
): AsyncGenerator<Uint8Array | string> {
  const attempt = request.attempt ?? row.attempt;
  if (attempt > row.attempt) throw new NotFound(`execution ${row.executionId} has no attempt ${attempt} (yet)`);
  if (attempt < 1) return;
  const key = { executionId: row.executionId, attempt };
  if (await deps.store.logs.info(key)) {
    yield* deps.store.logs.read(key, { tail: request.tail });
    return;
  }
  const run = liveRun(row, attempt);
  if (!run) {
    yield `[spark-runner] attempt ${attempt} of execution ${row.executionId} has no archived log\n`;
    return;
  }
  const backend = deps.gateway.backend(row.backend!);
  if (request.tail !== undefined) yield await backend.logs(run, { tail: request.tail });
  else if (backend.openLog) yield* backend.openLog(run);
  else yield await backend.logs(run);
}

/**
 * Streams the execution's log from its current attempt (or `attempt`) on (the last `tail` lines of it first),
 * through every later attempt, until the execution has ended or `signal` aborts.
 */
export async function* followExecutionLog(
  deps: LogDeps,
  executionId: string,
  options: { tail?: number; attempt?: number; signal: AbortSignal },
): AsyncGenerator<string> {
  const { signal } = options;
  let row = await deps.store.getExecution(executionId);
  if (!row) return;
  let attempt = options.attempt ?? Math.max(1, row.attempt);
  let tail = options.tail;
  while (!signal.aborted) {
    row = await deps.store.getExecution(executionId);
    if (!row) return;
    if (attempt <= row.attempt) {
      const key = { executionId, attempt };
      const run = liveRun(row, attempt);
      if (await deps.store.logs.info(key)) {
        const decoder = new StringDecoder('utf8');
        for await (const chunk of deps.store.logs.read(key, { tail })) yield decoder.write(chunk);
        const end = decoder.end();
        if (end) yield end;
      } else if (run) {
        yield* followAttempt(deps, row, run, tail, signal);
      } else if (attempt === row.attempt) {
        // The current attempt has not reached a backend yet.
        if (isTerminal(row.state)) return;
        await pause(FOLLOW_POLL_MS, signal);
        continue;
      }
      // An older attempt with neither an archive nor a live run has nothing to show.
      tail = undefined;
      attempt++;
      continue;
    }
    // Past the last attempt: the execution has ended, or a retry is coming.
    if (isTerminal(row.state)) return;
    await pause(FOLLOW_POLL_MS, signal);
  }
}

/** The live log of the current attempt, then, once the live source ends, the rest from its archive. */
async function* followAttempt(
  deps: LogDeps,
  row: ExecutionRow,
  run: RunRef,
  tail: number | undefined,
  signal: AbortSignal,
): AsyncGenerator<string> {
  const backend = deps.gateway.backend(row.backend!);
  // Bytes of the source passed on (or skipped for a tail): where the archive takes over.
  let position = 0;
  let skip = 0;
  let tailEnd = 0;
  if (tail !== undefined) {
    const last = new LastLines(tail);
    for await (const chunk of backend.openLog ? backend.openLog(run) : [await backend.logs(run)]) {
      last.push(chunk);
      skip += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.length;
    }
    const text = last.text();
    if (text) yield text;
    tailEnd = skip;
  }
  const decoder = new StringDecoder('utf8');
  try {
    for await (const text of backend.followLogs(run, signal)) {
      let bytes = Buffer.from(text);
      position += bytes.length;
      if (skip >= bytes.length) {
        skip -= bytes.length;
        continue;
      }
      bytes = bytes.subarray(skip);
      skip = 0;
      const out = decoder.write(bytes);
      if (out) yield out;
    }
  } catch {
    // The live source failed or went away mid-run (a pod removed, an API error): the archive, written when the
    // attempt ends, has the rest, from the same byte on.
    if (signal.aborted) return;
  }
  const rest = decoder.end();
  if (rest) yield rest;
  // The archive is written when the attempt ends, before the execution moves on.
  const key = { executionId: run.executionId, attempt: run.attempt };
  for (;;) {
    const info = await deps.store.logs.info(key);
    if (info) {
      const from = archiveOffsetOf(info, Math.max(position, tailEnd));
      if (from >= info.bytes) return;
      const tailDecoder = new StringDecoder('utf8');
      for await (const chunk of deps.store.logs.read(key, { fromByte: from })) yield tailDecoder.write(chunk);
      const end = tailDecoder.end();
      if (end) yield end;
      return;
    }
    const now = await deps.store.getExecution(run.executionId);
    if (!now || isTerminal(now.state) || now.attempt > run.attempt || signal.aborted) return;
    await pause(FOLLOW_POLL_MS, signal);
  }
}
