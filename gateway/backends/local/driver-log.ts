/**
 * What the local backend learns from spark-submit's output. Pure functions over log text, so they are tested as
 * data and the backend reads only the head (start-up lines) or the tail (the outcome) of a log.
 */

/** Start-up facts found in the first part of a driver log. */
export interface DriverStartup {
  /** The driver JVM has created its SparkContext: the run is RUNNING rather than PENDING. */
  started: boolean;
  sparkUiUrl?: string;
  /** The Spark application id, from the event log the driver says it writes (no event log: none). */
  appId?: string;
}

const STARTED = /SparkContext: Running Spark version|Successfully started service 'SparkUI'|Bound SparkUI to/;
// Spark 3 logs the URL directly; Spark 4 logs only the port, and the driver's host a few lines later.
const BOUND_UI = /Bound SparkUI to [^,]*, and started at (https?:\/\/\S+)/;
const UI_PORT = /Successfully started service 'SparkUI' on port (\d+)/;
const DRIVER_HOST = /Starting executor ID driver on host (\S+)|NettyBlockTransferService: Server created on (\S+):\d+/;

// Rolling event logs (Spark 4's default) are a directory `eventlog_v2_<appId>/`; single files are
// `<appId>[.<codec>].inprogress` while the application runs.
const ROLLING_EVENT_LOG = /Logging events to \S*\/eventlog_v2_([^/\s]+)\//;
const SINGLE_EVENT_LOG = /Logging events to \S*\/([^/\s]+?)(?:\.(?:lz4|lzf|snappy|zstd))?\.inprogress\b/;

export function parseDriverStartup(head: string): DriverStartup {
  const started = STARTED.test(head);
  const appId = ROLLING_EVENT_LOG.exec(head)?.[1] ?? SINGLE_EVENT_LOG.exec(head)?.[1];
  const withApp = appId ? { appId } : {};
  const bound = BOUND_UI.exec(head)?.[1];
  if (bound) return { started, sparkUiUrl: bound, ...withApp };
  const port = UI_PORT.exec(head)?.[1];
  const hostMatch = DRIVER_HOST.exec(head);
  const host = hostMatch?.[1] ?? hostMatch?.[2];
  return port && host ? { started, sparkUiUrl: `http://${host}:${port}`, ...withApp } : { started, ...withApp };
}

/** The last `n` lines of a text, without a trailing empty line. */
export function lastLines(text: string, n: number): string {
  if (n <= 0) return '';
  const lines = text.replace(/\n$/, '').split('\n');
  return lines.slice(-n).join('\n');
}

const LOG_LINE_INFO = /^\S+ \S+ (INFO|DEBUG|TRACE) /;
const ERRORISH = /(Exception|Error)\b/;

/**
 * The most telling error line of a failed run: the exception line of the last Python traceback, else the last
 * unindented non-INFO line naming an Exception or Error (a JVM "Exception in thread" or its "Caused by").
 */
export function failureMessage(tail: string): string | undefined {
  const lines = tail.split('\n');
  const traceback = lines.lastIndexOf('Traceback (most recent call last):');
  if (traceback >= 0) {
    const line = lines.slice(traceback + 1).find((l) => l.length > 0 && !/^\s/.test(l));
    if (line) return line.trim();
  }
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i] ?? '';
    if (line.length > 0 && !/^\s/.test(line) && !LOG_LINE_INFO.test(line) && ERRORISH.test(line)) return line.trim();
  }
  return undefined;
}
