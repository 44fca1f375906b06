/** What a command may touch of the outside world; bin/spark-runner.ts passes the real process's. */
import type { Readable } from 'node:stream';

/** A place to write text: process.stdout/stderr, or a capture in tests. */
export interface Output {
  write(text: string): boolean;
  /** True on a terminal: progress lines are then rewritten in place. */
  isTTY?: boolean;
  /** Terminal width, when a terminal. */
  columns?: number;
  once(event: 'drain', listener: () => void): unknown;
}

export interface CliContext {
  env: NodeJS.ProcessEnv;
  /** Relative job files and application paths resolve against this directory. */
  cwd: string;
  /** MCP messages for `spark-runner mcp` (process.stdin); absent in tests that drive other commands. */
  stdin?: Readable;
  stdout: Output;
  stderr: Output;
  /** Aborted on Ctrl-C: requests in flight stop, waits end. */
  signal: AbortSignal;
}

/** Writes `text`, waiting for the stream to drain when it is full (a log stream piped into a slow reader). */
export async function writeAll(out: Output, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', resolve));
}
