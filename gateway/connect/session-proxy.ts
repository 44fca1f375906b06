/**
 * The gateway's authenticating Spark Connect proxy for sessions: proxy.ts, with the session store as its `resolve`
 * and its activity written to Postgres. It runs in the API process, which has the store and already keeps the API
 * tokens (README: "Interactive Spark Connect sessions").
 *
 * Resolve, for every RPC (a reject reaches no server):
 * | the RPC carries                                          | answer                                               |
 * |----------------------------------------------------------|------------------------------------------------------|
 * | no bearer token                                          | UNAUTHENTICATED "a session token is required …"      |
 * | an API token (API_TOKENS)                                | UNAUTHENTICATED "an API token cannot open …"         |
 * | a token no session has                                   | UNAUTHENTICATED "unknown session token"              |
 * | `x-spark-runner-session` of another session than the token's | UNAUTHENTICATED "the token does not belong to …" |
 * | the token of an ENDED session                            | UNAUTHENTICATED "session … has ended (REASON)"       |
 * | the token of a session still starting                    | UNAVAILABLE (pyspark retries it)                     |
 * | the token of a READY or IDLE session                     | routed to its server, with the server's own token    |
 * Tokens are looked up by their SHA-256 only. A routed answer is cached for SESSION_ROUTE_CACHE_MS (1 s), so an ended session's
 * token stops working within that; the session workflow stops its server only after twice that (SESSION_END_DRAIN_MS).
 *
 * Activity: the proxy counts open RPCs per session in memory and, every `flushMs`, writes `last_activity_at = now()`
 * for each session that had an RPC open or ending since the last flush: one UPDATE per flush for all sessions, never
 * one write (or workflow signal) per RPC. A long ExecutePlan stream keeps its session's time fresh for as long as it
 * is open. The session workflow reads that time on its own timer.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, type Config } from '../../config/index.js';
import { isConnectable, SESSION_ROUTE_CACHE_MS } from '../../schema/session-states.js';
import { hashSessionToken, type SessionStore } from '../../store/sessions.js';
import { connectEndpointOf, type ConnectEndpoint } from './endpoint.js';
import { createConnectProxy, type ConnectProxy, type ConnectProxyOptions, type Resolution } from './proxy.js';

export interface SessionProxyOptions {
  store: SessionStore;
  /** True for an API bearer token, which gets its own message. */
  isApiToken?: (token: string) => boolean;
  flushMs: number;
  host?: string;
  port?: number;
  tls?: ConnectProxyOptions['tls'];
  logger?: Pick<Logger, 'warn' | 'error'>;
  /** Also hears every routed RPC's start and end (metrics, tests). */
  onActivity?: ConnectProxyOptions['onActivity'];
}

export interface SessionProxy {
  proxy: ConnectProxy;
  /** Writes the pending activity now (tests, and shutdown). */
  flush(): Promise<void>;
  close(graceMs?: number): Promise<void>;
}

export const MISSING_TOKEN =
  'a session token is required: connect with the connect_url of POST /api/v1/sessions (sc://…/;token=…)';
export const API_TOKEN = "an API token cannot open a Spark Connect session: use the token in the session's connect_url";

/** The proxy's `resolve` over the session store (see the table above). */
export function createSessionResolver(
  store: SessionStore,
  isApiToken: (token: string) => boolean = () => false,
): ConnectProxyOptions['resolve'] {
  const cache = new Map<string, { at: number; resolution: Resolution & { kind: 'route' } }>();
  return async ({ token, sessionId }) => {
    if (token === undefined) return { kind: 'reject', message: MISSING_TOKEN };
    const hash = hashSessionToken(token);
    const hit = cache.get(hash);
    if (hit && Date.now() - hit.at < SESSION_ROUTE_CACHE_MS && (!sessionId || sessionId === hit.resolution.sessionId)) {
      return hit.resolution;
    }
    cache.delete(hash);
    const found = await store.byTokenHash(hash);
    if (!found) return { kind: 'reject', message: isApiToken(token) ? API_TOKEN : 'unknown session token' };
    const { session, server } = found;
    if (sessionId && sessionId !== session.sessionId) {
      return { kind: 'reject', message: `the token does not belong to session ${sessionId}` };
    }
    if (session.state === 'ENDED') {
      return {
        kind: 'reject',
        message: `session ${session.sessionId} has ended (${session.endedReason ?? 'ENDED'}); create a new one`,
      };
    }
    if (!isConnectable(session.state) || !server?.host || !server.port || !server.token) {
      return { kind: 'unavailable', message: `session ${session.sessionId} is ${session.state}, not ready yet` };
    }
    const resolution = {
      kind: 'route' as const,
      sessionId: session.sessionId,
      backend: { host: server.host, port: server.port, token: server.token },
    };
    if (cache.size > 10_000) cache.clear();
    cache.set(hash, { at: Date.now(), resolution });
    return resolution;
  };
}

/** Starts the proxy's listeners with the session store behind them, and the activity flush. */
export async function startSessionProxy(options: SessionProxyOptions): Promise<SessionProxy> {
  const open = new Map<string, number>();
  const touched = new Set<string>();
  const flush = async () => {
    const ids = [...new Set([...touched, ...open.keys()])];
    touched.clear();
    await options.store.touch(ids);
  };
  const timer = setInterval(() => {
    flush().catch((err: unknown) => options.logger?.warn({ err }, 'could not record Spark Connect activity'));
  }, options.flushMs);
  timer.unref();
  let proxy: ConnectProxy;
  try {
    proxy = await createConnectProxy({
      resolve: createSessionResolver(options.store, options.isApiToken),
      onActivity: (sessionId, event) => {
        touched.add(sessionId);
        const count = (open.get(sessionId) ?? 0) + (event === 'rpc-start' ? 1 : -1);
        if (count > 0) open.set(sessionId, count);
        else open.delete(sessionId);
        options.onActivity?.(sessionId, event);
      },
      onError: (err, context) => options.logger?.warn({ err, ...context }, 'Spark Connect proxy'),
      ...(options.host ? { host: options.host } : {}),
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.tls ? { tls: options.tls } : {}),
    });
  } catch (err) {
    clearInterval(timer);
    throw err;
  }
  return {
    proxy,
    flush,
    async close(graceMs) {
      await proxy.close(graceMs);
      clearInterval(timer);
      await flush().catch(() => undefined);
    },
  };
}

/**
 * The proxy as the API process starts it (CONNECT_PROXY_*, CONNECT_TLS_*), with the endpoint its sessions'
 * `connect_url`s name. A port in use is a ConfigError naming the variable.
 */
export async function startConfiguredSessionProxy(options: {
  config: Pick<
    Config,
    | 'CONNECT_PROXY_HOST'
    | 'CONNECT_PROXY_PORT'
    | 'CONNECT_TLS_CERT_FILE'
    | 'CONNECT_TLS_KEY_FILE'
    | 'CONNECT_TLS_HOST'
    | 'CONNECT_TLS_PORT'
    | 'CONNECT_PUBLIC_HOST'
    | 'CONNECT_PUBLIC_PORT'
    | 'CONNECT_ACTIVITY_FLUSH_MS'
  >;
  store: SessionStore;
  isApiToken: (token: string) => boolean;
  logger: Pick<Logger, 'warn' | 'error'>;
}): Promise<SessionProxy & { endpoint: ConnectEndpoint }> {
  const { config } = options;
  const tls =
    config.CONNECT_TLS_CERT_FILE && config.CONNECT_TLS_KEY_FILE
      ? {
          cert: fs.readFileSync(config.CONNECT_TLS_CERT_FILE),
          key: fs.readFileSync(config.CONNECT_TLS_KEY_FILE),
          host: config.CONNECT_TLS_HOST,
          port: config.CONNECT_TLS_PORT,
        }
      : undefined;
  try {
    const started = await startSessionProxy({
      store: options.store,
      isApiToken: options.isApiToken,
      flushMs: config.CONNECT_ACTIVITY_FLUSH_MS,
      host: config.CONNECT_PROXY_HOST,
      port: config.CONNECT_PROXY_PORT,
      ...(tls ? { tls } : {}),
      logger: options.logger,
    });
    const { port, tlsPort } = started.proxy;
    return { ...started, endpoint: connectEndpointOf(config, { port, ...(tlsPort ? { tlsPort } : {}) }) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      throw new ConfigError(
        `the Spark Connect proxy's port is already in use (CONNECT_PROXY_PORT=${config.CONNECT_PROXY_PORT}, CONNECT_TLS_PORT=${config.CONNECT_TLS_PORT}): stop the other process, or set them`,
      );
    }
    throw err;
  }
}
