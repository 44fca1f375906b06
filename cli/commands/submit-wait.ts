/** `submit --wait`: following the execution to its end, and what is printed and returned then. */
import type { TerminalState } from '../../schema/states.js';
import type { Execution } from '../../api/wire.js';
import type { CliContext } from '../context.js';
import { ApiError, ConnectionError, EXIT } from '../errors.js';
import { elapsed, json } from '../format.js';
import type { ApiClient } from '../http.js';
import { waitForEnd } from '../wait.js';
import { jobPath, type OutputFormat } from './shared.js';
import { assertNever } from '../../schema/vocabulary.js';

/** Lines of the driver log shown after a job succeeds. */
const LOG_TAIL_LINES = 20;
/** Spark's own log lines (`26/01/31 12:00:00 INFO DAGScheduler: ...`), left out of that tail. */
const SPARK_INFO_LINE = /^\d{2}\/\d{2}\/\d{2} \d{2}:\d{2}:\d{2} (INFO|DEBUG|TRACE) /;

/**
 * Waits for the execution to end and reports it: the final state, then for SUCCEEDED the end of the driver log,
 * for FAILED the error class and message. Returns the exit code: 0 SUCCEEDED, 1 FAILED, 2 CANCELLED.
 */
export async function followToEnd(api: ApiClient, id: string, output: OutputFormat, ctx: CliContext): Promise<number> {
  const { stdout, stderr, signal } = ctx;
  let job: Execution & { status: TerminalState };
  try {
    job = await waitForEnd(api, id, output === 'json' ? stderr : stdout, signal);
  } catch (err) {
    if (!signal.aborted) throw err;
    stderr.write(`stopped waiting; ${id} keeps running (spark-runner status ${id}, spark-runner cancel ${id})\n`);
    return EXIT.interrupted;
  }
  const state = job.status;
  if (output === 'json') {
    stdout.write(json(job));
    return exitCodeFor(state);
  }
  stdout.write(`${state} after ${elapsed(job.submit_time, job.end_time)} (attempt ${job.attempts})\n`);
  switch (state) {
    case 'SUCCEEDED':
      stdout.write(await logTail(api, id));
      break;
    case 'FAILED':
      stderr.write(`error: ${job.error?.class ?? 'UNKNOWN'}: ${job.error?.message ?? 'no message'}\n`);
      stderr.write(`hint: the whole driver log: spark-runner logs ${id}\n`);
      break;
    case 'CANCELLED':
      break;
    default:
      return assertNever(state);
  }
  return exitCodeFor(state);
}

/** 0 SUCCEEDED, 1 FAILED, 2 CANCELLED. */
export function exitCodeFor(state: TerminalState): number {
  switch (state) {
    case 'SUCCEEDED':
      return EXIT.ok;
    case 'FAILED':
      return EXIT.failed;
    case 'CANCELLED':
      return EXIT.cancelled;
    default:
      return assertNever(state);
  }
}

/** The last lines the application printed (Spark's INFO chatter left out), under a header. */
async function logTail(api: ApiClient, id: string): Promise<string> {
  let text: string;
  try {
    text = await api.text(jobPath(id, '/logs'), { tail: 10 * LOG_TAIL_LINES });
  } catch (err) {
    if (err instanceof ApiError || err instanceof ConnectionError)
      return `(the driver log could not be read: ${err.message})\n`;
    throw err;
  }
  const lines = text.split('\n').filter((l) => l.trim());
  const own = lines.filter((l) => !SPARK_INFO_LINE.test(l));
  const shown = (own.length > 0 ? own : lines).slice(-LOG_TAIL_LINES);
  if (shown.length === 0) return '';
  const header = `--- last lines of the driver log${own.length > 0 ? ' (Spark INFO lines left out)' : ''}: spark-runner logs ${id} ---`;
  return `${header}\n${shown.join('\n')}\n`;
}
