/**
 * A small fetch-based client for /api/v1. Every failure becomes one of the CLI's errors: a problem+json answer
 * becomes an ApiError, a network failure a ConnectionError, a request that does not answer in time a CliError.
 */
import type { Connection } from './config.js';
import { ApiError, CliError, ConnectionError, type Problem } from './errors.js';

/** Requests other than log streams give up after this long. */
const REQUEST_TIMEOUT_MS = 30_000;

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Leave the response open for streaming: no timeout. */
  stream?: boolean;
}

export class ApiClient {
  constructor(
    readonly connection: Connection,
    /** Aborts every request in flight (Ctrl-C). */
    private readonly signal: AbortSignal,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  /** Sends a request and parses the JSON answer. */
  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options);
    return (await res.json()) as T;
  }

  /** GETs a text/plain answer. */
  async text(path: string, query?: Query): Promise<string> {
    return (await this.send('GET', path, { query })).text();
  }

  /** GETs a streamed text answer, handing each decoded chunk to `onText` until the server ends it. */
  async stream(path: string, query: Query, onText: (text: string) => Promise<void> | void): Promise<void> {
    const res = await this.send('GET', path, { query, stream: true });
    if (!res.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body) {
        const text = decoder.decode(chunk as Uint8Array, { stream: true });
        if (text) await onText(text);
      }
    } catch (err) {
      if (this.signal.aborted) throw err;
      throw new CliError(`the log stream from ${this.connection.url} was cut off: ${causeOf(err)}`);
    }
    const rest = decoder.decode();
    if (rest) await onText(rest);
  }

  private async send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = new URL(this.connection.url + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = {
      Accept: 'application/json, text/plain;q=0.9',
      'User-Agent': 'spark-runner-cli',
    };
    if (this.connection.token) headers.Authorization = `Bearer ${this.connection.token}`;
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';
    const signal = options.stream
      ? this.signal
      : AbortSignal.any([this.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);

    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal,
      });
    } catch (err) {
      if (this.signal.aborted) throw err;
      if ((err as Error).name === 'TimeoutError') {
        throw new CliError(
          `the Spark Runner API at ${this.connection.url} did not answer ${method} ${path} within ${REQUEST_TIMEOUT_MS / 1000} s`,
        );
      }
      throw new ConnectionError(this.connection.url, causeOf(err));
    }
    if (!res.ok) throw new ApiError(await readProblem(res), { method, path });
    return res;
  }
}

/** The problem+json body of an error answer, or a stand-in when the answer is something else (a proxy's HTML). */
async function readProblem(res: Response): Promise<Problem> {
  const text = await res.text().catch(() => '');
  if (/json/i.test(res.headers.get('content-type') ?? '')) {
    try {
      const body = JSON.parse(text) as Partial<Problem>;
      if (body && typeof body === 'object') return { ...body, status: res.status };
    } catch {
      // Not JSON after all: fall through to the stand-in.
    }
  }
  const excerpt = text.trim().split('\n')[0]?.slice(0, 200);
  return {
    status: res.status,
    title: res.statusText,
    detail: `the API answered ${res.status} ${res.statusText}${excerpt ? `: ${excerpt}` : ''}`,
  };
}

/** The useful part of a fetch failure: undici wraps the socket error ("connect ECONNREFUSED ...") in `cause`. */
function causeOf(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  if (cause instanceof Error) return cause.message;
  if (cause && typeof cause === 'object' && 'code' in cause) return String(cause.code);
  return err instanceof Error ? err.message : String(err);
}
