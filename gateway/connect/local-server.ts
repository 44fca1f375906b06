/**
 * One Spark Connect server on this machine, from the pip pyspark the project installs (provision/spark.ts; pyspark
 * 4.0.1 ships `jars/spark-connect_2.13-*.jar` but no `sbin/start-connect-server.sh`, so it is started the way that
 * script would: `spark-submit --class org.apache.spark.sql.connect.service.SparkConnectServer`, which the launcher
 * treats as `spark-internal`, needing no application jar).
 *
 * - Auth: a random token per server, passed ONLY in the environment (`SPARK_CONNECT_AUTHENTICATE_TOKEN`), never in
 *   argv, where every user of the machine could read it in `ps`. The server then answers UNAUTHENTICATED to any
 *   RPC without `authorization: Bearer <token>`; only the proxy (gateway/connect/proxy.ts) knows the token.
 * - Process: spark-submit runs detached, as the leader of its own session and process group (spark-submit execs
 *   java, so pid = pgid = the JVM), with its output in `<workDir>/server.log`. `stop()` signals the whole group
 *   like the local backend does (gateway/backends/local/process.ts): SIGTERM, then SIGKILL after a grace.
 * - Ready: when the server has logged `Spark Connect server started at: <host>:<port>` and that port accepts TCP.
 *   The port is read back from that line, not assumed: Spark moves to the next port when the one asked for was
 *   taken in the meantime (spark.port.maxRetries).
 * - Everything binds loopback (SPARK_LOCAL_IP, the gRPC binding address); the Spark UI takes a free port.
 *
 * Failures (all plain errors, i.e. transient: a later caller may simply start another server):
 * - the process exits before it is ready: the message carries the log's last lines;
 * - it is not ready within `startTimeoutMs`: the group is stopped first, then the same.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStartTicks, stopGroup } from '../backends/local/process.js';

export const CONNECT_SERVER_CLASS = 'org.apache.spark.sql.connect.service.SparkConnectServer';

/** The line SparkConnectServer logs once its gRPC service is bound (Spark 4.0). */
const STARTED_LINE = /SparkConnectServer: Spark Connect server started at: (?:\[[^\]]*\]|[^\s:]+):(\d+)/;
/** Where the driver's UI (and its REST API, which says whether a job runs) ended up: spark.ui.port is 0. */
const UI_LINE = /Successfully started service 'SparkUI' on port (\d+)/;

const HOST = '127.0.0.1';

export interface LocalConnectServerOptions {
  /** A Spark distribution with the Connect jar (pip pyspark >= 4.0). */
  sparkHome: string;
  /** `--driver-memory`; local[1] runs everything in the driver. Default 1024. */
  driverMemoryMb?: number;
  /** Holds server.log and Spark's scratch space; a fresh temporary directory, removed by stop(), when omitted. */
  workDir?: string;
  /** Extra `--conf` entries (never secrets: argv is public). */
  conf?: Record<string, string>;
  /** Default 120 s; a cold JVM on two busy cores takes 6-15 s. */
  startTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL. Default 10 s. */
  stopGraceMs?: number;
  /** `--name` of the Spark application (visible in argv; no secret). Default `spark-connect`. */
  appName?: string;
  /** Extra environment for the server (never the token, which is set here). */
  env?: Record<string, string>;
  /** Aborting while the server starts stops it and rejects. */
  signal?: AbortSignal;
}

export interface LocalConnectServer {
  host: string;
  port: number;
  /** The bearer token the server demands; give it to the proxy, never to a user. */
  token: string;
  /** The JVM's pid, which is also its process group id. */
  pid: number;
  pgid: number;
  /** The kernel's start time of `pid`, so that a later stop never signals a reused pid. */
  startTicks?: number;
  /** The driver's Spark UI port (its REST API says whether a Spark job is running), when it was logged. */
  uiPort?: number;
  logFile: string;
  /** From spawn to ready, in ms. */
  startMs: number;
  /** Settles with the exit code (or signal name) when the server process ends, for whatever reason. */
  exited: Promise<number | string>;
  /** Stops the whole process group (SIGTERM, then SIGKILL after the grace); safe to call any number of times. */
  stop(): Promise<void>;
}

/** Starts a Spark Connect server on a free loopback port and resolves once it accepts RPCs. */
export async function startLocalConnectServer(options: LocalConnectServerOptions): Promise<LocalConnectServer> {
  const started = Date.now();
  const ownsWorkDir = options.workDir === undefined;
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'spark-connect-'));
  fs.mkdirSync(workDir, { recursive: true });
  const logFile = path.join(workDir, 'server.log');
  const token = randomBytes(32).toString('base64url');
  const args = connectServerArgs({
    port: await freePort(),
    driverMemoryMb: options.driverMemoryMb ?? 1024,
    scratchDir: workDir,
    conf: options.conf ?? {},
    appName: options.appName ?? 'spark-connect',
  });
  fs.mkdirSync(path.join(workDir, 'tmp'), { recursive: true });

  // A reused work dir keeps its old log; only what this server writes counts for readiness.
  const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
  const out = fs.openSync(logFile, 'a');
  const child = spawn(path.join(options.sparkHome, 'bin', 'spark-submit'), args, {
    cwd: workDir,
    detached: true,
    stdio: ['ignore', out, out],
    env: { ...connectServerEnv(options.sparkHome, token), ...options.env, SPARK_CONNECT_AUTHENTICATE_TOKEN: token },
  });
  fs.closeSync(out);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown'));
    child.once('error', (err) => resolve(`spawn error: ${err.message}`));
  });
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error(`spark-submit did not start: ${String(await exited)}`);
  const startTicks = await readStartTicks(pid);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await stopGroup(pid, startTicks, options.stopGraceMs ?? 10_000);
      if (ownsWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
    })();
    return stopping;
  };

  try {
    const port = await waitUntilReady(logFile, logStart, exited, options.startTimeoutMs ?? 120_000, options.signal);
    const uiPort = Number(UI_LINE.exec(readText(logFile, logStart))?.[1]) || undefined;
    return {
      host: HOST,
      port,
      token,
      pid,
      pgid: pid,
      ...(startTicks !== undefined ? { startTicks } : {}),
      ...(uiPort ? { uiPort } : {}),
      logFile,
      startMs: Date.now() - started,
      exited,
      stop,
    };
  } catch (err) {
    const tail = logTail(logFile);
    await stop();
    throw new Error(`Spark Connect server did not start: ${(err as Error).message}${tail ? ` | log: ${tail}` : ''}`);
  }
}

/** The spark-submit argv of a Connect server (without the executable). Holds no secret. */
export function connectServerArgs(settings: {
  port: number;
  driverMemoryMb: number;
  /** Spark's local dir and the JVM's java.io.tmpdir go under it (`local/`, `tmp/`). */
  scratchDir: string;
  conf: Record<string, string>;
  /** `--name`; default `spark-connect`. */
  appName?: string;
}): string[] {
  const conf: Record<string, string> = {
    'spark.connect.grpc.binding.address': HOST,
    'spark.connect.grpc.binding.port': String(settings.port),
    // Concurrent servers must not fight over 4040.
    'spark.ui.port': '0',
    // Scratch space inside the work dir, so that a SIGKILLed server leaves nothing in /tmp.
    'spark.local.dir': path.join(settings.scratchDir, 'local'),
    ...settings.conf,
  };
  const args = ['--class', CONNECT_SERVER_CLASS, '--master', 'local[1]', '--name', settings.appName ?? 'spark-connect'];
  args.push('--driver-memory', `${settings.driverMemoryMb}m`);
  // Where the driver puts its spark-* and artifacts-* temporary directories.
  args.push('--driver-java-options', `-Djava.io.tmpdir=${path.join(settings.scratchDir, 'tmp')}`);
  for (const [key, value] of Object.entries(conf)) args.push('--conf', `${key}=${value}`);
  return args;
}

/**
 * The server's environment. SPARK_HOME is pinned (spark-submit trusts an inherited one over its own location);
 * SPARK_LOCAL_IP keeps the driver, block manager and UI on loopback.
 */
function connectServerEnv(sparkHome: string, token: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    SPARK_HOME: sparkHome,
    SPARK_LOCAL_IP: HOST,
    SPARK_CONNECT_AUTHENTICATE_TOKEN: token,
  };
}

/** Resolves with the gRPC port once the started line is logged and the port accepts connections. */
async function waitUntilReady(
  logFile: string,
  logStart: number,
  exited: Promise<number | string>,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<number> {
  let exit: number | string | undefined;
  void exited.then((code) => (exit = code));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new Error('the start was cancelled');
    if (exit !== undefined) throw new Error(`spark-submit exited (${exit}) before the server was ready`);
    const match = STARTED_LINE.exec(readText(logFile, logStart));
    if (match && (await isPortOpen(Number(match[1]), HOST))) return Number(match[1]);
    await sleep(100);
  }
  throw new Error(`not ready within ${timeoutMs} ms`);
}

function readText(file: string, from = 0): string {
  try {
    return fs.readFileSync(file).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

/** The last few non-empty log lines, joined with " | ", for error messages. */
function logTail(file: string, lines = 5): string {
  return readText(file)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(-lines)
    .join(' | ');
}

/** A free TCP port on loopback (the OS picks it; the server may still lose it, hence the log's port is read back). */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Whether something accepts TCP connections on host:port. */
function isPortOpen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}
