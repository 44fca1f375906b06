/**
 * Child processes of `npm run dev` and the test harness: started with prefixed, line-buffered logs, and stopped
 * with a polite signal followed by SIGKILL, so that Ctrl-C leaves nothing behind.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import net from 'node:net';
import readline from 'node:readline';

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Sends `signal`, waits up to `graceMs`, then SIGKILLs. Safe to call twice. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface StartOptions extends Pick<SpawnOptions, 'cwd' | 'env' | 'uid' | 'gid'> {
  /** Where each output line goes; defaults to stdout with a `[name]` prefix. `null` discards output. */
  onLine?: ((line: string) => void) | null;
  /** Signal used by stop() when none is given. */
  stopSignal?: NodeJS.Signals;
}

const COLORS = [36, 35, 33, 32, 34, 31];
let colorIndex = 0;

/** A `[name]` line printer; colored when stdout is a terminal. */
export function prefixer(name: string): (line: string) => void {
  const color = COLORS[colorIndex++ % COLORS.length]!;
  const tag = process.stdout.isTTY ? `\x1b[${color}m[${name}]\x1b[0m` : `[${name}]`;
  return (line) => process.stdout.write(`${tag} ${line}\n`);
}

export function startProcess(
  name: string,
  command: string,
  args: string[],
  options: StartOptions = {},
): ManagedProcess {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    uid: options.uid,
    gid: options.gid,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onLine = options.onLine === undefined ? prefixer(name) : options.onLine;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    if (onLine) readline.createInterface({ input: stream }).on('line', onLine);
    else stream.resume();
  }
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  let stopping: Promise<void> | undefined;
  const stop = (signal = options.stopSignal ?? 'SIGTERM', graceMs = 10_000) => {
    stopping ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return { name, child, exited, stop };
}

/** Asks the kernel for a free TCP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** True when something accepts TCP connections on host:port. */
export async function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Polls `check` until it returns true; throws `message` after `timeoutMs`, or early if `exited` settles. */
export async function waitFor(
  check: () => Promise<boolean>,
  { timeoutMs, message, exited }: { timeoutMs: number; message: string; exited?: Promise<unknown> },
): Promise<void> {
  let dead: string | undefined;
  void exited?.then((v) => (dead = typeof v === 'string' || typeof v === 'number' ? String(v) : 'exited'));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (dead !== undefined) throw new Error(`${message} (process exited: ${dead})`);
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${message} (timed out after ${timeoutMs} ms)`);
}
