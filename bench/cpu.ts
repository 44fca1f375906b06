/**
 * CPU time of a process and its live descendants, from /proc (Linux), so a benchmark can say which process the
 * cores went to: the Temporal server, Postgres (a backend per connection), or this process (worker and client).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface Stat {
  pid: number;
  ppid: number;
  /** utime + stime, and cutime + cstime (children that exited and were waited for), in ticks. */
  own: number;
  waited: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    const n = (i: number) => Number(fields[i - 3]);
    return { pid, ppid: n(4), own: n(14) + n(15), waited: n(16) + n(17) };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** CPU milliseconds used so far by `root` and every process below it. */
export function treeCpuMs(root: number): number {
  const stats = fs
    .readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map((d) => readStat(Number(d)))
    .filter((s): s is Stat => s !== undefined);
  const children = new Map<number, Stat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  let ticks = 0;
  const walk = (s: Stat) => {
    ticks += s.own + s.waited;
    for (const c of children.get(s.pid) ?? []) walk(c);
  };
  const top = stats.find((s) => s.pid === root);
  if (top) walk(top);
  return (ticks * 1000) / TICKS_PER_SECOND;
}

/** CPU milliseconds of each named process tree between start() and the returned function's call. */
export function cpuMeter(roots: Record<string, number | undefined>): () => Record<string, number> {
  const entries = Object.entries(roots).filter((e): e is [string, number] => e[1] !== undefined);
  const before = new Map(entries.map(([name, pid]) => [name, treeCpuMs(pid)]));
  return () => Object.fromEntries(entries.map(([name, pid]) => [name, treeCpuMs(pid) - before.get(name)!]));
}
