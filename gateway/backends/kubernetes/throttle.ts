/**
 * Client-side politeness for the Kubernetes API: a token bucket (`qps` sustained, `burst` at once, like
 * client-go's rate limiter) in front of every call, and retries with exponential backoff and jitter for the
 * answers worth retrying.
 *
 * | answer                                    | retried | why                                                  |
 * |-------------------------------------------|---------|------------------------------------------------------|
 * | 429 Too Many Requests                     | yes     | API priority and fairness; honours Retry-After       |
 * | 5xx                                       | yes     | API server or etcd hiccup                            |
 * | no HTTP answer (connection refused/reset) | yes     | API server restarting or network blip                |
 * | any other 4xx                             | no      | the caller decides (404 = gone, 409 = exists, …)     |
 *
 * After `retries` retries the last error is thrown as is (callers treat it as transient).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface ThrottleOptions {
  /** Sustained requests per second. */
  qps: number;
  /** Requests allowed at once before `qps` applies. */
  burst: number;
  /** Retries after the first try; default 4. */
  retries?: number;
  /** First backoff; doubles per retry up to `maxDelayMs`. Defaults 200 ms and 5 s. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** For tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface Throttle {
  /** Runs `fn` after taking a token, retrying retriable failures. */
  call<T>(fn: () => Promise<T>): Promise<T>;
}

/** The HTTP status of a client-node error (ApiException `code`, or Watch's `statusCode`), if any. */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; statusCode?: unknown };
  if (typeof e.code === 'number') return e.code;
  if (typeof e.statusCode === 'number') return e.statusCode;
  return undefined;
}

export function isRetriable(err: unknown): boolean {
  const status = httpStatusOf(err);
  if (status === undefined) return true;
  return status === 429 || status >= 500;
}

function retryAfterMs(err: unknown): number | undefined {
  const headers = (err as { headers?: Record<string, string> } | null)?.headers;
  const value = headers?.['retry-after'] ?? headers?.['Retry-After'];
  const seconds = value === undefined ? NaN : Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

export function createThrottle(options: ThrottleOptions): Throttle {
  const now = options.now ?? Date.now;
  const wait = options.sleep ?? ((ms: number) => sleep(ms));
  const retries = options.retries ?? 4;
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 5_000;
  let tokens = options.burst;
  let refilledAt = now();

  /** Reserves a token, returning how long to wait for it (tokens may go negative: a queue of reservations). */
  function reserve(): number {
    const t = now();
    tokens = Math.min(options.burst, tokens + ((t - refilledAt) / 1000) * options.qps);
    refilledAt = t;
    tokens -= 1;
    return tokens >= 0 ? 0 : (-tokens / options.qps) * 1000;
  }

  return {
    async call<T>(fn: () => Promise<T>): Promise<T> {
      for (let attempt = 0; ; attempt++) {
        const delay = reserve();
        if (delay > 0) await wait(delay);
        try {
          return await fn();
        } catch (err) {
          if (attempt >= retries || !isRetriable(err)) throw err;
          const backoff = Math.min(max, base * 2 ** attempt) * (0.5 + Math.random() / 2);
          await wait(retryAfterMs(err) ?? backoff);
        }
      }
    },
  };
}
