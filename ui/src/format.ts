/** How the console writes times, durations, sizes and resources. */
import type { Execution } from '../../api/wire.js';

const DATE_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatTime(iso: string | null | undefined): string {
  return iso ? DATE_TIME.format(new Date(iso)) : '—';
}

/** 850 ms, 12 s, 3 min 4 s, 2 h 5 min. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const min = Math.floor(s / 60);
  if (min < 60) return `${min} min ${s % 60} s`;
  return `${Math.floor(min / 60)} h ${min % 60} min`;
}

/** From start (or submit) to end, or to now while it runs. */
export function executionDuration(e: Execution, now = Date.now()): string {
  const from = Date.parse(e.start_time ?? e.submit_time);
  const to = e.end_time ? Date.parse(e.end_time) : now;
  return formatDuration(Math.max(0, to - from));
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

const mem = (mb: number) => (mb % 1024 === 0 ? `${mb / 1024} GiB` : `${mb} MiB`);
const cores = (n: number) => `${n} ${n === 1 ? 'core' : 'cores'}`;

/** "driver 1 core, 1 GiB · 2 executors × 2 cores, 4 GiB" (and the dynamic allocation range, when set). */
export function formatResources(r: Execution['resources'] | undefined): string {
  if (!r) return '—';
  const parts = [
    `driver ${cores(r.driver.cores)}, ${mem(r.driver.memoryMb)}`,
    `${r.executor.instances} ${r.executor.instances === 1 ? 'executor' : 'executors'} × ${cores(r.executor.cores)}, ${mem(r.executor.memoryMb)}`,
  ];
  const dyn = r.dynamicAllocation;
  if (dyn?.enabled) parts.push(`dynamic ${dyn.minExecutors}–${dyn.maxExecutors}`);
  return parts.join(' · ');
}

/** "durationMs" or "failed_task_count" as a label: "Duration", "Failed task count". */
export function labelOf(key: string): string {
  const words = key
    .replace(/(Ms|_ms|Mb|_mb)$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/[_.]+/g, ' ')
    .trim()
    .toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A metric's value, by the unit its name gives (…Ms / …_ms: a duration; …bytes, …Mb: a size). */
export function formatMetric(key: string, value: unknown): string {
  if (typeof value === 'number') {
    if (/(Ms|_ms)$/.test(key)) return formatDuration(value);
    if (/bytes$/i.test(key)) return formatBytes(value);
    if (/(Mb|_mb)$/.test(key)) return mem(value);
    return value.toLocaleString();
  }
  if (value === null || value === undefined) return '—';
  return typeof value === 'string' ? value : JSON.stringify(value);
}
