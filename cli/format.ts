/** Plain-text rendering for people: aligned tables, key/value blocks, times and durations. */

/** Rows under a header, each column as wide as its widest cell; the last column is not padded. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

/** `key  value` lines with aligned values; pairs whose value is empty are left out. */
export function keyValues(pairs: [string, string | null | undefined][]): string {
  const shown = pairs.filter((p): p is [string, string] => Boolean(p[1]));
  const width = Math.max(...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n';
}

/** An ISO timestamp as `2026-01-31 12:34:56Z` (UTC, to the second); empty for null. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

/** A duration as `45s`, `2m05s` or `1h02m`. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Time from start to end (or to now, while still running); empty when it has not started. */
export function elapsed(start: string | null, end: string | null, now = Date.now()): string {
  if (!start) return '';
  return formatDuration((end ? Date.parse(end) : now) - Date.parse(start));
}

/** `value` cut to `max` characters with an ellipsis. */
export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** The API's JSON, indented, for --output json. */
export function json(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

/** A byte count as `512 B`, `3.4 KiB`, `1.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}
