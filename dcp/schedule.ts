/**
 * The `orchestration` block of a manifest, normalized: what a Temporal Schedule needs and nothing else. Pure.
 *
 * Airflow presets are mapped explicitly onto five-field cron (Temporal would also accept most of them, but
 * spelling them out keeps the stored config and the diff readable). `@every <duration>` becomes an interval,
 * which is how a test schedule fires every few seconds.
 */
import { z } from 'zod';

/**
 * Overlap policies a manifest may choose (Temporal's ScheduleOverlapPolicy). CANCEL_OTHER and TERMINATE_OTHER are
 * left out on purpose: they stop the previous run's workflow from outside, which skips the execution's own
 * cancel path (backend cancel, TERMINAL event), so its record would stay unfinished.
 */
export const OVERLAP_POLICIES = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'ALLOW_ALL'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** Airflow's schedule presets, as the cron they stand for. `@once` and `@continuous` have no cron meaning. */
export const AIRFLOW_PRESETS: Readonly<Record<string, string>> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/** "90s", "10m", "1h", "2d", "500ms" → milliseconds; undefined when malformed. */
export function parseDurationMs(value: string): number | undefined {
  const m = /^\s*(\d+)\s*(ms|s|m|h|d)\s*$/.exec(value);
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * unit;
}

const CRON_FIELD = /^[0-9A-Za-z*,/?\-LW#]+$/;
const CRON_RANGES: readonly (readonly [string, number, number])[] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 7],
];

/** Range-checks the plain numbers of one cron field (`*`, `a`, `a-b`, each with an optional `/step`, comma lists). */
function cronFieldOk(field: string, [, min, max]: readonly [string, number, number]): boolean {
  return field.split(',').every((part) => {
    const [range, step] = part.split('/');
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return false;
    if (range === '*' || range === '?' || /[A-Za-z#]/.test(range ?? '')) return true; // names and L/W/# to Temporal
    const bounds = (range ?? '').split('-');
    return bounds.length <= 2 && bounds.every((b) => /^\d+$/.test(b) && Number(b) >= min && Number(b) <= max);
  });
}

/** The normalized schedule stored with the job and compared by `diff`. */
export interface ScheduleConfig {
  /** Exactly one of cron / everyMs. */
  cron?: string;
  everyMs?: number;
  timezone: string;
  overlap: OverlapPolicy;
  catchupWindowMs: number;
  jitterMs: number;
}

const duration = (what: string) =>
  z.string().transform((value, ctx) => {
    const ms = parseDurationMs(value);
    if (ms === undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `invalid ${what} "${value}": use a number with a unit, like "30s" or "10m"`,
      });
      return z.NEVER;
    }
    return ms;
  });

function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** `schedule` plus its options; the raw expression is turned into `cron` or `everyMs`. */
export const ScheduleFields = {
  schedule: z.string().min(1).optional(),
  timezone: z
    .string()
    .refine(validTimeZone, { message: 'must be an IANA time zone, like "UTC" or "America/Los_Angeles"' })
    .default('UTC'),
  overlap: z
    .string()
    .transform((s) => s.toUpperCase())
    .pipe(z.enum(OVERLAP_POLICIES))
    .default('SKIP'),
  catchupWindow: duration('catch-up window').default(60_000),
  jitter: duration('jitter').default(0),
};

/** Checks a schedule expression; returns the cron/interval it stands for, or an error message. */
export function parseScheduleExpression(expr: string): { cron: string } | { everyMs: number } | { error: string } {
  const text = expr.trim();
  const every = /^@every\s+(.+)$/.exec(text);
  if (every) {
    const ms = parseDurationMs(every[1]!);
    return ms && ms >= 1000 ? { everyMs: ms } : { error: `invalid interval "${every[1]}": use e.g. "@every 10m"` };
  }
  if (text.startsWith('@')) {
    const cron = AIRFLOW_PRESETS[text.toLowerCase()];
    return cron
      ? { cron }
      : { error: `unknown preset "${text}": use ${Object.keys(AIRFLOW_PRESETS).join(', ')} or "@every <duration>"` };
  }
  const fields = text.split(/\s+/);
  if (fields.length !== 5 || !fields.every((f) => CRON_FIELD.test(f))) {
    return { error: `invalid cron "${text}": expected five fields (minute hour day-of-month month day-of-week)` };
  }
  const bad = fields.findIndex((f, i) => !cronFieldOk(f, CRON_RANGES[i]!));
  if (bad >= 0) {
    const [name, min, max] = CRON_RANGES[bad]!;
    return { error: `invalid cron "${text}": ${name} "${fields[bad]}" must be within ${min}-${max}` };
  }
  return { cron: fields.join(' ') };
}

/** Temporal's ScheduleSpec for a config: cron or interval, in the config's time zone, with its jitter. */
export function scheduleSpecFor(config: ScheduleConfig): {
  cronExpressions?: string[];
  intervals?: { every: number }[];
  timezone: string;
  jitter: number;
} {
  const base = { timezone: config.timezone, jitter: config.jitterMs };
  return config.cron
    ? { ...base, cronExpressions: [config.cron] }
    : { ...base, intervals: [{ every: config.everyMs! }] };
}
