/**
 * Bounded excerpts of driver logs and tool results, so that no MCP answer can grow with a log or a history.
 * Pure functions over text.
 */

/** No tool result is longer than this many characters (the rest is cut, and the cut is said). */
export const MAX_RESULT_CHARS = 24_000;
/** A log excerpt (get_logs, why_failed's context) never has more lines than this, nor more characters. */
export const MAX_LOG_LINES = 400;
export const MAX_LOG_CHARS = 16_000;
/** why_failed's traceback: at most this many lines. */
export const MAX_TRACEBACK_LINES = 40;

/** Cuts `text` to `max` characters, saying how much was left out. */
export function bound(text: string, max = MAX_RESULT_CHARS): string {
  if (text.length <= max) return text;
  const note = `\n… [cut: ${text.length - max} more characters]`;
  return text.slice(0, Math.max(0, max - note.length)) + note;
}

/**
 * The last `tail` lines of `log` (optionally only those matching `grep`, a case-insensitive regular expression),
 * capped at MAX_LOG_LINES lines and MAX_LOG_CHARS characters, newest kept.
 */
export function logExcerpt(
  log: string,
  options: { tail?: number; grep?: RegExp } = {},
): {
  text: string;
  lines: number;
  truncated: boolean;
} {
  let lines = log.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (options.grep) {
    const re = options.grep;
    lines = lines.filter((line) => re.test(line));
  }
  const wanted = Math.min(options.tail ?? MAX_LOG_LINES, MAX_LOG_LINES);
  let truncated = lines.length > wanted;
  let kept = lines.slice(-wanted);
  let size = kept.reduce((n, line) => n + line.length + 1, 0);
  while (size > MAX_LOG_CHARS && kept.length > 1) {
    size -= kept[0]!.length + 1;
    kept = kept.slice(1);
    truncated = true;
  }
  let text = kept.join('\n');
  if (text.length > MAX_LOG_CHARS) {
    text = text.slice(-MAX_LOG_CHARS);
    truncated = true;
  }
  return { text, lines: kept.length, truncated };
}

export interface FoundException {
  kind: 'python' | 'jvm';
  /** The exception line itself: `ValueError: bad input`, `org.apache.spark.sql.AnalysisException: …`. */
  exception: string;
  /** The traceback or stack ending at (Python) or starting at (JVM) that line, at most MAX_TRACEBACK_LINES lines. */
  traceback: string[];
}

const PY_EXCEPTION = /^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)|[A-Za-z_][\w.]*\.\w+)(?::\s.*)?$/;
const JVM_EXCEPTION =
  /(?:^|Exception in thread "[^"]*" )((?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b(?::\s.*)?)$/;

/**
 * The last exception in a driver log: a Python traceback (`Traceback (most recent call last):` down to its
 * exception line) is preferred over a JVM stack (`pkg.SomeException: message` followed by `\tat …` frames), since
 * a PySpark failure also prints the JVM's Py4J wrapper.
 */
export function findException(log: string): FoundException | undefined {
  const lines = log.split('\n').map((l) => l.replace(/\r$/, ''));
  for (let i = lines.length - 1; i >= 0; i--) {
    if (!lines[i]!.startsWith('Traceback (most recent call last):')) continue;
    let end = i + 1;
    // Frames are indented; the first unindented, non-empty line after them is the exception.
    while (end < lines.length && (lines[end]!.startsWith(' ') || lines[end]!.trim() === '')) end++;
    const exception = lines[end]?.trim();
    if (!exception || !PY_EXCEPTION.test(exception)) continue;
    const block = lines.slice(i, end + 1);
    const traceback =
      block.length <= MAX_TRACEBACK_LINES
        ? block
        : [
            block[0]!,
            `  … ${block.length - MAX_TRACEBACK_LINES + 1} lines left out`,
            ...block.slice(-(MAX_TRACEBACK_LINES - 2)),
          ];
    return { kind: 'python', exception, traceback };
  }
  // JVM: the last stack in the log (frames `\tat …`), walked back to its outermost exception line.
  const frame = /^\s+(at\s|\.\.\. \d+ more)/;
  let last = -1;
  for (let i = lines.length - 1; i >= 0 && last < 0; i--) if (frame.test(lines[i]!)) last = i;
  if (last < 0) return undefined;
  let start = -1;
  for (let j = last; j >= 0; j--) {
    const line = lines[j]!;
    if (frame.test(line)) continue;
    const candidate = line.replace(/^Caused by: /, '').trim();
    if (!JVM_EXCEPTION.test(candidate)) break;
    start = j;
  }
  if (start < 0) return undefined;
  const exception = JVM_EXCEPTION.exec(lines[start]!.trim())![1]!;
  return { kind: 'jvm', exception, traceback: lines.slice(start, Math.min(last + 1, start + MAX_TRACEBACK_LINES)) };
}
