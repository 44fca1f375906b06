/**
 * AR failure classifier: turns what a backend reports about a failed attempt into a failure class and a
 * retry verdict. Pure (it runs in the workflow sandbox): no I/O, no clock, no randomness.
 *
 * The contract (STYLE.md §6). Rules are tried top to bottom and the first that matches wins, so the order is
 * part of the contract. `reason` and `exitCode` describe the driver container or the run as a whole (operator
 * state name, pod reason, EMR failureReason, our own VANISHED / NO_STATUS / TIMEOUT); `message` and `logTail`
 * are searched as text.
 *
 * | #  | class          | retried | signals                                                                      |
 * |----|----------------|---------|------------------------------------------------------------------------------|
 * | 1  | TIMEOUT        | no      | reason `TIMEOUT` (the execution deadline, which spans every attempt)         |
 * | 2  | OOM            | yes     | `java.lang.OutOfMemoryError` (`Java heap space`, `GC overhead limit          |
 * |    |                |         | exceeded`, …), `SparkOutOfMemoryError`, `Container killed by YARN for        |
 * |    |                |         | exceeding memory limits`, `OOMKilled` (reason or text), executor `exit code  |
 * |    |                |         | 52` (Spark's JVM-OOM exit), a Python `MemoryError`                           |
 * | 3  | USER_ERROR     | no      | `AnalysisException`, `ParseException`, `ClassNotFoundException`,             |
 * |    |                |         | `NoClassDefFoundError`, `NoSuchMethodError`, `Failed to load class`,         |
 * |    |                |         | `FileNotFoundException` (not a shuffle file), python `can't open file`,      |
 * |    |                |         | `SyntaxError` / `ImportError` / `ModuleNotFoundError` / `NameError`,         |
 * |    |                |         | `PythonException` (a UDF raised), EMR reason `VALIDATION_ERROR`              |
 * | 4  | SCHEDULING     | yes     | reason `SchedulingFailure` / `DriverStartTimedOut` / `ExecutorsStartTimedOut`|
 * |    |                |         | `Unschedulable`, `FailedScheduling`, `Insufficient cpu|memory|…`, `0/3 nodes |
 * |    |                |         | are available`, `exceeded quota`, `driver start timeout`, the operator's     |
 * |    |                |         | start-timeout and "Failed to request driver" messages                        |
 * | 5  | NODE_PREEMPTED | yes     | `preempt…`, `spot instance` / `spot interruption`, `node … was deleted`,     |
 * |    |                |         | `NodeShutdown` / `node shutdown`, `Evicted` (incl. `DriverEvicted`), `node   |
 * |    |                |         | was low on resource`, Kueue eviction, `decommission`, `lost node`, PodGC     |
 * | 6  | SHUFFLE_FETCH  | yes     | `FetchFailedException`, `MetadataFetchFailedException`, `FetchFailed(`,      |
 * |    |                |         | `Missing an output location for shuffle`, a missing `shuffle_*.index/data`   |
 * | 7  | EXECUTOR_LOST  | yes     | `ExecutorLostFailure`, `Executor heartbeat timed out`, `Lost executor N`,    |
 * |    |                |         | `Remote RPC client disassociated`, `The executor with id N exited`           |
 * | 8  | INFRA          | yes     | reason `VANISHED` / `NO_STATUS` / `INTERNAL_ERROR` / `CLUSTER_UNAVAILABLE` / |
 * |    |                |         | `BACKEND_ERROR` / `STOPPED_ON_SHUTDOWN`, the operator's "Driver removed" and "Cannot process         |
 * |    |                |         | application status", image pull failures, API-server and object-store       |
 * |    |                |         | throttling/unavailability, driver exit 137/143 with no OOMKilled reason      |
 * | 9  | USER_ERROR     | no      | a Python `Traceback`, `Exception in thread "main"`, exit code 1 with an      |
 * |    |                |         | exception line, EMR reason `USER_ERROR`                                      |
 * | 10 | UNKNOWN        | no      | nothing above matched                                                        |
 *
 * Why this order:
 * - An OOM is what to fix even when the same text mentions the executor it killed (`ExecutorLostFailure …
 *   OOMKilled`) or the Python traceback that surfaced it (`Py4JJavaError … OutOfMemoryError`).
 * - Definitive user errors (row 3) come before the infrastructure rows so that a recovered executor loss
 *   earlier in the log cannot make a broken query look retriable. Generic user signals (row 9) come after
 *   them, because a Python traceback or `Exception in thread "main"` also wraps every infrastructure failure
 *   that aborted a job.
 * - SCHEDULING precedes NODE_PREEMPTED because Kubernetes' FailedScheduling message itself says
 *   "preemption: 0/3 nodes are available". SHUFFLE_FETCH precedes EXECUTOR_LOST because Spark gives up on
 *   the fetch, even when a lost executor caused it.
 *
 * Decisions:
 * - UNKNOWN is not retried: an unrecognised failure is more often deterministic than transient, and retrying
 *   it multiplies cost. The fix for a transient failure that lands here is a new row in this table.
 * - TIMEOUT is not retried: the deadline covers the whole execution, so there is no time left to retry in.
 * - `DriverReadyTimedOut` is deliberately absent: the operator does not count it as an infrastructure failure
 *   (the driver did start), so the log tail decides.
 * - A bare `exit code 137(SIGKILL, possible container OOM)` for an executor is EXECUTOR_LOST, not OOM: Spark
 *   only says "possible", and Kubernetes reports `OOMKilled` in the same message when it was one.
 * - OOM target: an `OOMKilled` reason (it describes the driver container) or an explicit driver marker in the
 *   text (`Exception in thread "main" java.lang.OutOfMemoryError`, a Py4J `: java.lang.OutOfMemoryError`, a
 *   failed broadcast build, "driver" before `OOMKilled` on the same line) means driver; otherwise task/executor
 *   context (`ExecutorLostFailure`, `Lost executor`, `Lost task`, `failed 4 times, most recent failure`, …)
 *   means executor; otherwise driver.
 */
import type { FailureInfo } from '../gateway/backend.js';
import type { FailureClass } from '../schema/states.js';
import { assertNever } from '../schema/vocabulary.js';

/** Which JVM ran out of memory, so a retry can grow the right one. */
export type OomTarget = 'driver' | 'executor';

/** The classifier's verdict on one failed attempt. */
export interface Classification {
  failureClass: FailureClass;
  /** Whether AR may start another attempt (attempts and memory caps permitting). */
  retriable: boolean;
  /** Set only for OOM. */
  oomTarget?: OomTarget;
  /** One human line, e.g. "executor ran out of memory (java.lang.OutOfMemoryError: Java heap space)". */
  summary: string;
}

/** Whether a failure class is worth another attempt. The table at the top of this file is the contract. */
export function isRetriable(failureClass: FailureClass): boolean {
  switch (failureClass) {
    case 'OOM':
    case 'EXECUTOR_LOST':
    case 'NODE_PREEMPTED':
    case 'SHUFFLE_FETCH':
    case 'SCHEDULING':
    case 'INFRA':
      return true;
    case 'USER_ERROR':
    case 'TIMEOUT':
    case 'UNKNOWN':
      return false;
    default:
      return assertNever(failureClass);
  }
}

/** Classifies a failed attempt. Never throws; an empty `FailureInfo` is UNKNOWN. */
export function classifyFailure(info: FailureInfo): Classification {
  const signals = toSignals(info);
  for (const rule of RULES) {
    const evidence = rule.match(signals);
    if (evidence === undefined) continue;
    const oomTarget = rule.failureClass === 'OOM' ? oomTargetOf(signals) : undefined;
    return {
      failureClass: rule.failureClass,
      retriable: isRetriable(rule.failureClass),
      ...(oomTarget ? { oomTarget } : {}),
      summary: describe(rule.failureClass, evidence, oomTarget),
    };
  }
  return { failureClass: 'UNKNOWN', retriable: false, summary: describe('UNKNOWN', unknownEvidence(signals)) };
}

/** The row of the table above that classifies `info` (1–9), or 10 when none matched: for tests and diagnostics. */
export function matchedRule(info: FailureInfo): { row: number; failureClass: FailureClass } {
  const signals = toSignals(info);
  const index = RULES.findIndex((rule) => rule.match(signals) !== undefined);
  return index < 0
    ? { row: 10, failureClass: 'UNKNOWN' }
    : { row: index + 1, failureClass: RULES[index]!.failureClass };
}

interface Signals {
  exitCode?: number;
  /** The reason, trimmed; '' when absent. */
  reason: string;
  /** The first line of the message, trimmed; '' when absent. */
  headline: string;
  /** message and logTail, newline-joined, with CRLF normalised. */
  text: string;
}

/** Returns a short excerpt that justifies the match, or undefined when the rule does not apply. */
type Matcher = (s: Signals) => string | undefined;

interface Rule {
  failureClass: FailureClass;
  match: Matcher;
}

const MAX_EVIDENCE = 200;
/**
 * Only the start of a long message and the end of a long log tail are searched: that is where failures are, and
 * it bounds the work in a workflow task. Patterns avoid unbounded `[^\n]*` spans between two tokens, which are
 * quadratic on a long line that repeats the first token.
 */
const MAX_SCAN_CHARS = 64 * 1024;
/** "Job aborted due to stage failure: … most recent failure: Lost task 0.3 in stage 2.0 (TID 11) (host executor 1): " */
const STAGE_ABORT_PREFIX = /^.*?most recent failure: Lost task [^:\n]*\):\s*/;

function toSignals(info: FailureInfo): Signals {
  const message = (info.message ?? '').slice(0, MAX_SCAN_CHARS).replace(/\r\n?/g, '\n');
  const logTail = (info.logTail ?? '').slice(-MAX_SCAN_CHARS).replace(/\r\n?/g, '\n');
  return {
    exitCode: info.exitCode,
    reason: (info.reason ?? '').trim(),
    headline: firstLine(message),
    text: [message, logTail].filter((part) => part.trim() !== '').join('\n'),
  };
}

function firstLine(text: string): string {
  return (
    text
      .split('\n')
      .map((line) => line.trim())
      .find((line) => line !== '') ?? ''
  );
}

function clip(text: string): string {
  const flat = text
    .slice(0, 8 * MAX_EVIDENCE)
    .replace(/\s+/g, ' ')
    .trim()
    .replace(STAGE_ABORT_PREFIX, '');
  return flat.length <= MAX_EVIDENCE ? flat : `${flat.slice(0, MAX_EVIDENCE - 1)}…`;
}

/**
 * Matches a pattern in the text; the evidence runs from the match (or its first group) to the end of the line.
 * The start is widened back over a qualified name, so /AnalysisException/ yields
 * "pyspark.errors.exceptions.captured.AnalysisException: …". Patterns name bare tokens rather than
 * `(?:[\w$]+\.)*Token`, whose backtracking is quadratic on a long unbroken line.
 */
function grep(pattern: RegExp): Matcher {
  return (s) => {
    const m = pattern.exec(s.text);
    if (!m) return undefined;
    const group = m[1];
    let start = group !== undefined ? m.index + m[0].indexOf(group) : m.index;
    while (start > 0 && /[\w$.]/.test(s.text.charAt(start - 1))) start -= 1;
    const end = s.text.indexOf('\n', m.index + m[0].length);
    return clip(s.text.slice(start, end === -1 ? undefined : end));
  };
}

/** Matches the reported reason exactly (case-insensitive); the evidence is the reason and the message's headline. */
function reasonIs(...reasons: string[]): Matcher {
  const wanted = new Set(reasons.map((r) => r.toLowerCase()));
  return (s) =>
    wanted.has(s.reason.toLowerCase()) ? clip(s.headline ? `${s.reason}: ${s.headline}` : s.reason) : undefined;
}

function exitCodeIs(codes: readonly number[], describeCode: (code: number) => string): Matcher {
  return (s) => (s.exitCode !== undefined && codes.includes(s.exitCode) ? describeCode(s.exitCode) : undefined);
}

function firstOf(...matchers: Matcher[]): Matcher {
  return (s) => {
    for (const matcher of matchers) {
      const evidence = matcher(s);
      if (evidence !== undefined) return evidence;
    }
    return undefined;
  };
}

/** A Java or Python exception line: `org.apache.spark.SparkException: …`, `ValueError: …`, Py4J's `: java.…`. */
const EXCEPTION_LINE = /^(?::\s*)?((?:[A-Za-z_$][\w$]*\.)*[A-Za-z_$][\w$]*(?:Exception|Error))(?::.*)?$/m;

/**
 * The exception the last Python traceback ends with (the first unindented line after its frames), which is the
 * innermost error for PySpark's nested "exception thrown from the Python worker" output. For a Py4JJavaError the
 * JVM exception on the next line (": org.apache…") says more, so that is used instead.
 */
const pythonTraceback: Matcher = (s) => {
  const at = s.text.lastIndexOf('Traceback (most recent call last):');
  if (at === -1) return undefined;
  const lines = s.text.slice(at).split('\n').slice(1);
  const index = lines.findIndex((line) => line.trim() !== '' && !/^\s/.test(line));
  const exception = lines[index];
  if (exception === undefined) return 'Python traceback';
  const javaCause = /Py4JJavaError/.test(exception) ? /^:\s*(.+)$/.exec(lines[index + 1] ?? '')?.[1] : undefined;
  return clip(javaCause ?? exception);
};

/** A Python UDF raised: org.apache.spark.api.python.PythonException, or PySpark's captured PythonException. */
const pythonWorkerException: Matcher = (s) => {
  const evidence = grep(/\bPythonException\b/)(s);
  return evidence === undefined ? undefined : (pythonTraceback(s) ?? evidence);
};

const exitOneWithException: Matcher = (s) => (s.exitCode === 1 ? grep(EXCEPTION_LINE)(s) : undefined);

const OOM: Matcher = firstOf(
  // The lookbehind skips JVM flags such as -XX:OnOutOfMemoryError / -XX:+ExitOnOutOfMemoryError in launch commands.
  grep(/(?<![A-Za-z])(?:Spark)?OutOfMemoryError/),
  grep(/GC overhead limit exceeded|Java heap space/),
  grep(/Container killed by YARN for exceeding (?:physical |virtual )?memory limits/),
  reasonIs('OOMKilled'),
  grep(/\bOOMKilled\b/),
  grep(/exit(?:ed with)? (?:code|status):? 52\b/i),
  grep(/^MemoryError\b/m),
);

const DEFINITE_USER_ERROR: Matcher = firstOf(
  grep(/\b(?:AnalysisException|ParseException)\b/),
  grep(/\b(?:ClassNotFoundException|NoClassDefFoundError|NoSuchMethodError)\b/),
  grep(/Failed to (?:load|find) (?:main )?class/),
  grep(/\bFileNotFoundException\b(?![^\n]{0,300}?(?:shuffle_\d|blockmgr-))/),
  grep(/can't open file/),
  grep(/^(?:SyntaxError|IndentationError|ImportError|ModuleNotFoundError|NameError)\b/m),
  pythonWorkerException,
  reasonIs('VALIDATION_ERROR'),
);

const SCHEDULING: Matcher = firstOf(
  reasonIs('SchedulingFailure', 'DriverStartTimedOut', 'ExecutorsStartTimedOut'),
  grep(/\bUnschedulable\b|\bFailedScheduling\b/),
  grep(/\b\d+\/\d+ nodes are available/),
  grep(/Insufficient (?:cpu|memory|ephemeral-storage|pods|nvidia\.com\/gpu)/i),
  grep(/exceeded quota/),
  grep(
    /DriverStartTimedOut|ExecutorsStartTimedOut|driver start(?:up)? time(?:d )?out|executors? start(?:up)? time(?:d )?out/i,
  ),
  grep(/Failed to request driver from scheduler backend/),
  grep(/failed to get enough executors in the given time threshold/),
  // The operator also uses this message for DriverReadyTimedOut, which is not a scheduling failure.
  (s) =>
    /^DriverReadyTimedOut$/i.test(s.reason)
      ? undefined
      : grep(/The driver has not responded to the initial health check request/)(s),
);

const NODE_PREEMPTED: Matcher = firstOf(
  grep(/preempt\w*/i),
  grep(/spot (?:instance|interruption|termination)\w*|SpotInterruption/i),
  grep(/\bnode\b[^\n]{0,120}?\bwas deleted/i),
  grep(/NodeShutdown|node shutdown/i),
  grep(/Evicted\b|evicted by Kueue|The node was low on resource/),
  grep(/DeletionByPodGC|node no longer exists|DeletionByTaintManager|EvictionByEvictionAPI/),
  grep(/decommission\w*/i),
  grep(/released on a \*?lost\*? node|\bNodeLost\b/),
);

const SHUFFLE_FETCH: Matcher = firstOf(
  grep(/(?:Metadata)?FetchFailed(?:Exception)?/),
  grep(/Missing an output location for shuffle/),
  grep(/FileNotFoundException[^\n]{0,300}?(?:shuffle_\d|blockmgr-)/),
);

const EXECUTOR_LOST: Matcher = firstOf(
  grep(/ExecutorLostFailure/),
  grep(/Executor heartbeat timed out/),
  grep(/Lost executor \S+/),
  grep(/Remote RPC client disassociated/),
  grep(/The executor with id \S+ (?:exited|was deleted)/),
  grep(/\b(?:Slave|Worker) lost\b/),
);

const INFRA: Matcher = firstOf(
  reasonIs('VANISHED', 'NO_STATUS', 'INTERNAL_ERROR', 'CLUSTER_UNAVAILABLE', 'BACKEND_ERROR', 'STOPPED_ON_SHUTDOWN'),
  grep(/Driver removed\./),
  grep(/Cannot process application status/),
  grep(/ImagePullBackOff|ErrImagePull/),
  grep(/Internal error occurred|etcdserver: request timed out|the server is currently unable to handle the request/),
  grep(/\bSlowDown\b|ServiceUnavailable|Service Unavailable|ThrottlingException|Rate exceeded|TooManyRequests/),
  exitCodeIs([137, 143], (code) => `driver killed by ${code === 137 ? 'SIGKILL' : 'SIGTERM'} (exit code ${code})`),
);

const GENERIC_USER_ERROR: Matcher = firstOf(
  pythonTraceback,
  grep(/Exception in thread "main" (.+)/),
  exitOneWithException,
  reasonIs('USER_ERROR'),
);

/** The contract table at the top of this file, in order. */
const RULES: readonly Rule[] = [
  { failureClass: 'TIMEOUT', match: reasonIs('TIMEOUT') },
  { failureClass: 'OOM', match: OOM },
  { failureClass: 'USER_ERROR', match: DEFINITE_USER_ERROR },
  { failureClass: 'SCHEDULING', match: SCHEDULING },
  { failureClass: 'NODE_PREEMPTED', match: NODE_PREEMPTED },
  { failureClass: 'SHUFFLE_FETCH', match: SHUFFLE_FETCH },
  { failureClass: 'EXECUTOR_LOST', match: EXECUTOR_LOST },
  { failureClass: 'INFRA', match: INFRA },
  { failureClass: 'USER_ERROR', match: GENERIC_USER_ERROR },
];

const DRIVER_OOM_CONTEXT: readonly RegExp[] = [
  /Exception in thread "(?!Executor task launch)[^"]*" (?:java\.lang\.)?OutOfMemoryError/,
  /^\s*:\s*java\.lang\.OutOfMemoryError/m,
  /Not enough memory to build and broadcast/,
  // "driver" before the kill on the same line: "container spark-kubernetes-driver … OOMKilled". Not after it, where
  // "Driver stacktrace:" of a flattened executor failure would mislead.
  /\bdriver\b[^\n]{0,200}?(?:OOMKilled|exceeding (?:physical |virtual )?memory limits)/i,
];

const EXECUTOR_OOM_CONTEXT: readonly RegExp[] = [
  /ExecutorLostFailure/,
  /Lost executor \S+/,
  /Lost task \S+/,
  /failed \d+ times?, most recent failure/,
  /The executor with id \S+/,
  /spark-kubernetes-executor/,
  /Executor task launch worker/,
  /ERROR Executor: Exception in task/,
  /\bon executor\b/i,
];

function oomTargetOf(s: Signals): OomTarget {
  if (/^OOMKilled$/i.test(s.reason)) return 'driver';
  if (DRIVER_OOM_CONTEXT.some((p) => p.test(s.text))) return 'driver';
  if (EXECUTOR_OOM_CONTEXT.some((p) => p.test(s.text))) return 'executor';
  return 'driver';
}

function unknownEvidence(s: Signals): string {
  const lastLogLine =
    s.text
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '')
      .at(-1) ?? '';
  const parts = [s.reason, s.headline || lastLogLine, s.exitCode !== undefined ? `exit code ${s.exitCode}` : ''].filter(
    (part) => part !== '',
  );
  return parts.length > 0 ? clip(parts.join('; ')) : 'no failure details were reported';
}

function describe(failureClass: FailureClass, evidence: string, oomTarget?: OomTarget): string {
  switch (failureClass) {
    case 'OOM':
      return `${oomTarget ?? 'executor'} ran out of memory (${evidence})`;
    case 'EXECUTOR_LOST':
      return `an executor was lost (${evidence})`;
    case 'NODE_PREEMPTED':
      return `a node under the job was preempted, drained or shut down (${evidence})`;
    case 'SHUFFLE_FETCH':
      return `shuffle output could not be fetched (${evidence})`;
    case 'SCHEDULING':
      return `the driver or executors could not be scheduled (${evidence})`;
    case 'INFRA':
      return `the platform or backend failed (${evidence})`;
    case 'USER_ERROR':
      return `the application failed (${evidence})`;
    case 'TIMEOUT':
      return `the execution exceeded its deadline (${evidence})`;
    case 'UNKNOWN':
      return `unrecognised failure (${evidence})`;
    default:
      return assertNever(failureClass);
  }
}
