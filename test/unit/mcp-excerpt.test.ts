/** The MCP server's bounded excerpts (mcp/excerpt.ts): exception finding in driver logs, and the size caps. */
import { describe, expect, it } from 'vitest';
import { bound, findException, logExcerpt, MAX_LOG_CHARS, MAX_LOG_LINES } from '../../mcp/excerpt.js';

const JVM_LOG = [
  '26/12/02 10:00:00 INFO SparkContext: Running Spark version 4.0.1',
  'Exception in thread "main" org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table `orders` cannot be found.',
  '\tat org.apache.spark.sql.catalyst.analysis.package$AnalysisErrorAt.tableNotFound(package.scala:91)',
  '\tat org.apache.spark.sql.catalyst.analysis.CheckAnalysis.checkAnalysis0(CheckAnalysis.scala:300)',
  'Caused by: java.io.FileNotFoundException: /data/orders',
  '\tat java.base/java.io.FileInputStream.open0(Native Method)',
  '\t... 12 more',
  '26/12/02 10:00:01 INFO ShutdownHookManager: Shutdown hook called',
].join('\n');

describe('findException', () => {
  it('finds the outermost JVM exception of the last stack, with its frames and causes', () => {
    const found = findException(JVM_LOG)!;
    expect(found.kind).toBe('jvm');
    expect(found.exception).toBe(
      'org.apache.spark.sql.AnalysisException: [TABLE_OR_VIEW_NOT_FOUND] The table `orders` cannot be found.',
    );
    expect(found.traceback).toHaveLength(6);
    expect(found.traceback[3]).toBe('Caused by: java.io.FileNotFoundException: /data/orders');
  });

  it('prefers the Python traceback over the Py4J stack a PySpark failure also prints, and keeps 40 lines at most', () => {
    const frames = Array.from({ length: 60 }, (_, i) => `  File "job.py", line ${i + 1}, in f${i}\n    f${i + 1}()`);
    const log = [JVM_LOG, 'Traceback (most recent call last):', ...frames, "KeyError: 'region'", 'INFO done'].join(
      '\n',
    );
    const found = findException(log)!;
    expect(found).toMatchObject({ kind: 'python', exception: "KeyError: 'region'" });
    expect(found.traceback).toHaveLength(40);
    expect(found.traceback[0]).toBe('Traceback (most recent call last):');
    expect(found.traceback[1]).toMatch(/lines left out/);
    expect(found.traceback.at(-1)).toBe("KeyError: 'region'");
  });

  it('finds nothing in a log without an exception', () => {
    expect(findException('INFO all good\nINFO Pi is roughly 3.14\n')).toBeUndefined();
  });
});

describe('caps', () => {
  it('cuts a log excerpt to its line and character caps, newest lines kept', () => {
    const log = Array.from({ length: 5000 }, (_, i) => `line ${i} ${'x'.repeat(60)}`).join('\n') + '\n';
    const all = logExcerpt(log, { tail: 100_000 });
    expect(all.truncated).toBe(true);
    expect(all.lines).toBeLessThanOrEqual(MAX_LOG_LINES);
    expect(all.text.length).toBeLessThanOrEqual(MAX_LOG_CHARS);
    expect(all.text.endsWith('line 4999 ' + 'x'.repeat(60))).toBe(true);
    const grep = logExcerpt(log, { tail: 3, grep: /^line 12\d /i });
    expect(grep.text.split('\n').map((l) => l.split(' ')[1])).toEqual(['127', '128', '129']);
  });

  it('bounds a result and says how much was cut', () => {
    const text = bound('a'.repeat(30_000), 1000);
    expect(text.length).toBe(1000);
    expect(text).toMatch(/\[cut: 29\d\d\d more characters\]$/);
    expect(bound('short', 1000)).toBe('short');
  });
});
