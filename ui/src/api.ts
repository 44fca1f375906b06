/**
 * The console's one way to the REST API: the same origin, the bearer token given at sign-in, and problem+json
 * errors turned into an `ApiError` whose message is the API's own `detail`. A 401 anywhere means the token no
 * longer works, so the console signs out (auth.ts listens).
 */
import type { Principal } from '../../api/wire.js';

/** sessionStorage, not localStorage: the token lives only as long as this browser tab's session. */
const TOKEN_KEY = 'spark-runner.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

let unauthorized: () => void = () => {};

/** Called when the API answers 401 to a request made with the stored token. */
export function onUnauthorized(handler: () => void): void {
  unauthorized = handler;
}

export function storedToken(): string | undefined {
  return sessionStorage.getItem(TOKEN_KEY) ?? undefined;
}

export function storeToken(token: string | undefined): void {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

async function problemOf(res: Response): Promise<ApiError> {
  let detail = `${res.status} ${res.statusText}`;
  try {
    const body = (await res.json()) as { detail?: string };
    if (body.detail) detail = body.detail;
  } catch {
    // Not problem+json (a proxy's page, say): the status line is all there is.
  }
  return new ApiError(res.status, detail);
}

interface RequestOptions {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
  /** Another token than the stored one (sign-in checks the one being given). */
  token?: string;
}

async function request(path: string, options: RequestOptions = {}): Promise<Response> {
  const token = options.token ?? storedToken();
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
  if (!res.ok) {
    if (res.status === 401 && !options.token) unauthorized();
    throw await problemOf(res);
  }
  return res;
}

/** A JSON answer, typed by the wire shape the caller names (api/wire.ts). */
export async function getJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
  return (await (await request(path, options)).json()) as T;
}

/** A state-changing call (POST, DELETE); resolves to the JSON answer. */
export async function send<T>(method: 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  return (await (await request(path, { method, body: body ?? (method === 'POST' ? {} : undefined) })).json()) as T;
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  return (await request(path, { signal })).text();
}

/** Reads a streamed text answer (a log followed live), handing each decoded chunk over as it arrives. */
export async function streamText(path: string, onChunk: (text: string) => void, signal: AbortSignal): Promise<void> {
  const res = await request(path, { signal });
  if (!res.body) {
    onChunk(await res.text());
    return;
  }
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    onChunk(value);
  }
}

/** Who a token belongs to; rejects with a 401 ApiError for a token the API does not know. */
export function whoIs(token: string): Promise<Principal> {
  return getJson<Principal>('/api/v1/me', { token });
}
