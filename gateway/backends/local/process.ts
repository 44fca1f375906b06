/**
 * Process plumbing for local runs. spark-submit runs under a tiny detached `sh` wrapper, so that:
 * - the run outlives the worker (its own session and process group; the worker does not wait for it);
 * - the outcome outlives everyone: the wrapper, not the worker, writes the exit code next to the log;
 * - at most one spark-submit ever starts per attempt: the wrapper claims the attempt by creating `wrapper.pid`
 *   exclusively (noclobber, i.e. O_EXCL), and exits at once if another wrapper claimed it first.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { FILES, readIfExists } from './files.js';

// $1 is the attempt directory; the rest is the command. The exit code is written via rename so a reader never
// sees a partial number.
const WRAPPER_SCRIPT = `
dir=$1; shift
set -C
{ echo $$ > "$dir/${FILES.wrapperPid}"; } 2>/dev/null || exit 0
set +C
"$@" >> "$dir/${FILES.log}" 2>&1
code=$?
echo "$code" > "$dir/${FILES.exitCode}.tmp" && mv -f "$dir/${FILES.exitCode}.tmp" "$dir/${FILES.exitCode}"
`;

/**
 * Starts the wrapper for an attempt and returns the pid of the wrapper that owns the attempt: ours, or the one
 * a previous (possibly crashed) submit started, in which case ours exits without running anything.
 */
export async function startWrapper(
  dir: string,
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<number> {
  const child = spawn('sh', ['-c', WRAPPER_SCRIPT, 'spark-runner-wrapper', dir, command, ...args], {
    detached: true,
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
  let spawnError: Error | undefined;
  let exited = false;
  child.on('error', (err) => (spawnError = err));
  child.on('exit', () => (exited = true));
  child.unref();
  // The owner's pid file appears within milliseconds; poll briefly rather than trusting child.pid, which is
  // not the owner when an earlier wrapper already claimed the attempt.
  for (let i = 0; i < 500; i++) {
    if (spawnError) throw spawnError;
    const text = await readIfExists(join(dir, FILES.wrapperPid));
    const pid = text === undefined ? NaN : Number.parseInt(text.trim(), 10);
    if (Number.isInteger(pid) && pid > 0) return pid;
    if (exited) throw new Error(`spark-submit wrapper for ${dir} exited without claiming the attempt`);
    await sleep(10);
  }
  throw new Error(`spark-submit wrapper for ${dir} did not start within 5 s`);
}

/** The kernel's start time of a process (Linux /proc), or undefined where that is not available. */
export async function readStartTicks(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command name (field 2) may contain spaces, so count from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[19]);
    return Number.isFinite(ticks) ? ticks : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether any process of the run's group is still alive. A group id cannot be reused while the group has
 * members, but once it is empty the number can come back as a new process: if a process with that pid exists
 * and started at a different time than our wrapper, the group is not ours.
 */
export async function isGroupAlive(pgid: number, startTicks: number | undefined): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw err;
  }
  if (startTicks === undefined) return true;
  const current = await readStartTicks(pgid);
  return current === undefined || current === startTicks;
}

const KILL_WAIT_MS = 10_000;

/**
 * Stops a process group: SIGTERM (Spark stops its context cleanly), then SIGKILL after `graceMs`. Returns once
 * no process of the group is left, and whether SIGKILL was needed; throws if the group outlives SIGKILL.
 */
export async function stopGroup(pgid: number, startTicks: number | undefined, graceMs: number): Promise<boolean> {
  signalGroup(pgid, 'SIGTERM');
  if (await waitForGroupExit(pgid, startTicks, graceMs)) return false;
  signalGroup(pgid, 'SIGKILL');
  if (await waitForGroupExit(pgid, startTicks, KILL_WAIT_MS)) return true;
  throw new Error(`process group ${pgid} survived SIGKILL for ${KILL_WAIT_MS} ms`);
}

/** Sends a signal to the whole group; a group that is already gone is fine. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Waits until the group is gone; true if it went within `timeoutMs`. */
async function waitForGroupExit(pgid: number, startTicks: number | undefined, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await isGroupAlive(pgid, startTicks)) {
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
  return true;
}
