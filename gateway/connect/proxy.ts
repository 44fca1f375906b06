/**
 * The Spark Connect proxy: a raw `node:http2` gRPC proxy in front of single-use Spark Connect servers. It never
 * parses protobuf. Every RPC is forwarded as it came: the message bytes unchanged (HTTP/2 framing is each leg's
 * own), headers, trailers, server streaming (ExecutePlan, ReattachExecute) and cancellation. The only change is the
 * `authorization` header, which becomes the backend server's own token, so a user never learns it. (`@grpc/grpc-js` has no
 * catch-all handler, grpc/grpc-node #1572, and Envoy is not available, hence raw HTTP/2.)
 *
 * Routing and auth are a plug-in: for every RPC, `resolve` gets the client's bearer token and the
 * `x-spark-runner-session` metadata (pyspark sends any extra `;key=value` of its `sc://` URL as gRPC metadata) and
 * answers with a backend or a rejection. A rejection is answered by the proxy alone and reaches no server.
 *
 * Listeners:
 * - h2c (`host`/`port`, loopback by default), for `sc://localhost:<port>/;token=...`: pyspark sends a token in
 *   plaintext only to the literal host `localhost`; for any other host it insists on TLS.
 * - TLS (`tls.host`/`tls.port`, a second listener, HTTP/2 only via ALPN), for every other host. A second listener
 *   rather than sniffing one port: each socket's security is then decided by where it connected, and the
 *   plaintext one can stay on loopback while the TLS one faces the network.
 *
 * Upstream: one HTTP/2 connection per backend host:port, opened on first use and again after it closes or gets a
 * GOAWAY. The backend is plain h2c on loopback (gateway/connect/local-server.ts).
 *
 * Status codes the proxy produces itself (all as trailers-only responses, `:status 200`):
 * - 16 UNAUTHENTICATED with resolve's message: resolve rejected the RPC;
 * - 14 UNAVAILABLE with resolve's message: resolve found nothing to route to yet;
 * - 14 UNAVAILABLE: resolve threw (e.g. the session store is down), or the backend could not be reached or its
 *   connection was lost mid-RPC. Clients retry UNAVAILABLE (pyspark reattaches an ExecutePlan).
 * Anything else a client sees comes from the server, including RST_STREAM codes, passed on as they came.
 *
 * Activity: an RPC is "open" from the moment it is routed until its downstream stream closes (answered, failed
 * or cancelled), so a long ExecutePlan stream keeps its session busy for its whole length. `onActivity` hears
 * each start and end; `openRpcs(sessionId)` counts the open ones. That is all an idle timeout needs.
 */
import http2 from 'node:http2';
import type {
  ClientHttp2Session,
  ClientHttp2Stream,
  Http2SecureServer,
  Http2Server,
  Http2Session,
  IncomingHttpHeaders,
  OutgoingHttpHeaders,
  ServerHttp2Stream,
} from 'node:http2';
import net, { type AddressInfo, type Socket } from 'node:net';
import { assertNever } from '../../schema/vocabulary.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

/** The metadata key carrying the Spark Runner session id: `sc://host:port/;token=...;x-spark-runner-session=<id>`. */
export const SESSION_HEADER = 'x-spark-runner-session';

/** gRPC status codes the proxy answers with itself. */
export const GrpcStatus = { UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;

/** Where a session's RPCs go; `token` is the server's own, sent upstream as `authorization: Bearer <token>`. */
export interface ConnectBackend {
  host: string;
  port: number;
  token: string;
}

/** What the proxy knows about an RPC before forwarding it. */
export interface ResolveRequest {
  /** From `authorization: Bearer <token>`; undefined when the header is missing or not a bearer token. */
  token?: string;
  /** From the `x-spark-runner-session` metadata. */
  sessionId?: string;
  /** All request headers as received (pseudo-headers included), for plug-ins that need more. */
  headers: IncomingHttpHeaders;
}

export type Resolution =
  | { kind: 'route'; sessionId: string; backend: ConnectBackend }
  | { kind: 'reject'; message: string }
  /** The token is good but there is nothing to route to yet (a session still starting): clients retry this. */
  | { kind: 'unavailable'; message: string };

export type ActivityEvent = 'rpc-start' | 'rpc-end';

export interface ConnectProxyOptions {
  /** Decides every RPC. Called once per RPC; it may throw, which answers UNAVAILABLE. */
  resolve: (request: ResolveRequest) => Promise<Resolution>;
  /** Hears each routed RPC start and end (exactly one end per start). */
  onActivity?: (sessionId: string, event: ActivityEvent) => void;
  /** Hears what the proxy turned into a status: resolve or onActivity throwing, unreachable backends. */
  onError?: (err: unknown, context: { sessionId?: string; path?: string }) => void;
  /** The h2c listener. Default 127.0.0.1: bearer tokens in plaintext must not cross a network. */
  host?: string;
  /** Default 0, a free port (read it back from `port`). */
  port?: number;
  /** A TLS listener too. `host` defaults to 0.0.0.0 (it exists for clients not on this machine), `port` to 0. */
  tls?: { cert: string | Buffer; key: string | Buffer; host?: string; port?: number };
}

export interface ConnectProxy {
  host: string;
  port: number;
  /** Set when `tls` was given. */
  tlsPort?: number;
  /** RPCs of the session that are routed and not yet closed. */
  openRpcs(sessionId: string): number;
  /** Stops accepting, lets open RPCs finish for up to `graceMs` (default 5 s), then cuts what is left. */
  close(graceMs?: number): Promise<void>;
}

// Bigger HTTP/2 flow-control windows than the protocol's 64 KiB, on both legs: a stream can carry at most one
// window per round trip, which across a real network would cap a large toPandas() far below what the server sends.
// (On loopback it made no measurable difference.) Backpressure still holds: pipe() stops reading when a side is
// slow, and the windows then fill.
const STREAM_WINDOW = 4 << 20;
const SESSION_WINDOW = 16 << 20;
const H2_SETTINGS: http2.Settings = { initialWindowSize: STREAM_WINDOW };

/** Starts the proxy's listeners and resolves once they accept connections. */
export async function createConnectProxy(options: ConnectProxyOptions): Promise<ConnectProxy> {
  const open = new Map<string, number>();
  const upstreams = new Map<string, ClientHttp2Session>();
  const downstreams = new Set<Http2Session>();
  const onError = options.onError ?? (() => undefined);

  const activity = (sessionId: string, event: ActivityEvent) => {
    const count = (open.get(sessionId) ?? 0) + (event === 'rpc-start' ? 1 : -1);
    if (count === 0) open.delete(sessionId);
    else open.set(sessionId, count);
    try {
      options.onActivity?.(sessionId, event);
    } catch (err) {
      onError(err, { sessionId });
    }
  };

  const upstreamFor = (backend: ConnectBackend): ClientHttp2Session => {
    const authority = backend.host.includes(':')
      ? `[${backend.host}]:${backend.port}`
      : `${backend.host}:${backend.port}`;
    const existing = upstreams.get(authority);
    if (existing && !existing.closed && !existing.destroyed) return existing;
    const session = http2.connect(`http://${authority}`, {
      settings: H2_SETTINGS,
      createConnection: () => net.connect({ host: backend.host, port: backend.port, noDelay: true }),
    });
    session.on('connect', () => session.setLocalWindowSize(SESSION_WINDOW));
    // A session error fails its streams, which report it; here it only has to be handled.
    session.on('error', () => undefined);
    const drop = () => {
      if (upstreams.get(authority) === session) upstreams.delete(authority);
    };
    session.on('close', drop);
    session.on('goaway', drop);
    upstreams.set(authority, session);
    return session;
  };

  const onStream = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    // A client reset or a broken socket shows up here; the 'close' handlers below do the rest.
    stream.on('error', () => undefined);
    void route(stream, headers);
  };

  const route = async (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const sessionHeader = headers[SESSION_HEADER];
    const request: ResolveRequest = {
      token: bearerToken(headers.authorization),
      sessionId: Array.isArray(sessionHeader) ? sessionHeader[0] : sessionHeader,
      headers,
    };
    let resolution: Resolution;
    try {
      resolution = await options.resolve(request);
    } catch (err) {
      onError(err, { sessionId: request.sessionId, path: headers[':path'] });
      return answer(stream, GrpcStatus.UNAVAILABLE, 'Spark Runner could not look up the session; try again');
    }
    if (stream.closed || stream.destroyed) return;
    switch (resolution.kind) {
      case 'reject':
        return answer(stream, GrpcStatus.UNAUTHENTICATED, resolution.message);
      case 'unavailable':
        return answer(stream, GrpcStatus.UNAVAILABLE, resolution.message);
      case 'route':
        return forward(stream, headers, resolution.sessionId, resolution.backend);
      default:
        return assertNever(resolution, 'resolution');
    }
  };

  const forward = (
    stream: ServerHttp2Stream,
    headers: IncomingHttpHeaders,
    sessionId: string,
    backend: ConnectBackend,
  ) => {
    activity(sessionId, 'rpc-start');
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      activity(sessionId, 'rpc-end');
    };
    let upstream: ClientHttp2Stream;
    try {
      upstream = upstreamFor(backend).request(upstreamHeaders(headers, backend.token), { endStream: false });
    } catch (err) {
      // e.g. the pooled session got a GOAWAY between the lookup and this request.
      onError(err, { sessionId, path: headers[':path'] });
      answer(stream, GrpcStatus.UNAVAILABLE, 'Spark Connect server unreachable; try again');
      return stream.closed ? end() : void stream.once('close', end);
    }

    let trailers: OutgoingHttpHeaders | undefined;
    let upstreamDone = false;
    let upstreamError: (Error & { code?: string }) | undefined;

    stream.pipe(upstream);
    upstream.on('response', (responseHeaders, flags) => {
      const out = passHeaders(responseHeaders, [':status']);
      // Trailers-only: the status is in the headers and nothing follows.
      if (responseHeaders['grpc-status'] !== undefined || (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) {
        upstreamDone = true;
        if (!stream.headersSent && !stream.closed) stream.respond(out, { endStream: true });
        return;
      }
      stream.respond(out, { waitForTrailers: true });
      upstream.pipe(stream);
    });
    upstream.on('trailers', (upstreamTrailers: IncomingHttpHeaders) => {
      upstreamDone = true;
      trailers = passHeaders(upstreamTrailers, []);
    });
    stream.on('wantTrailers', () => {
      stream.sendTrailers(
        trailers ?? {
          'grpc-status': String(GrpcStatus.UNAVAILABLE),
          'grpc-message': 'Spark Connect server ended the stream without a status',
        },
      );
    });
    upstream.on('error', (err: Error & { code?: string }) => (upstreamError = err));

    upstream.on('close', () => {
      if (upstreamDone || stream.closed || stream.destroyed) return;
      stream.unpipe(upstream);
      upstream.unpipe(stream);
      const code = upstream.rstCode ?? NGHTTP2_NO_ERROR;
      // The server reset the stream (a cancelled call, say): pass the reset on as it came.
      if (
        code !== NGHTTP2_NO_ERROR &&
        (upstreamError === undefined || upstreamError.code === 'ERR_HTTP2_STREAM_ERROR')
      ) {
        return stream.close(code);
      }
      // The connection failed or was lost: a status the client can act on (UNAVAILABLE is retried).
      onError(upstreamError ?? new Error('upstream stream closed early'), { sessionId, path: headers[':path'] });
      const message = `Spark Connect server unreachable${upstreamError ? ` (${upstreamError.message})` : ''}`;
      if (!stream.headersSent) return answer(stream, GrpcStatus.UNAVAILABLE, message);
      trailers = { 'grpc-status': String(GrpcStatus.UNAVAILABLE), 'grpc-message': encodeGrpcMessage(message) };
      if (!stream.writableEnded) stream.end();
    });

    stream.on('close', () => {
      end();
      // The client cancelled (RST_STREAM) or went away: cancel upstream too, with the client's code.
      if (!upstreamDone && !upstream.closed && !upstream.destroyed) {
        const code = stream.rstCode;
        upstream.close(code === undefined || code === NGHTTP2_NO_ERROR ? NGHTTP2_CANCEL : code);
      }
    });
  };

  const onSession = (session: Http2Session) => {
    downstreams.add(session);
    session.on('close', () => downstreams.delete(session));
    session.on('error', () => undefined);
    session.setLocalWindowSize(SESSION_WINDOW);
  };

  const servers: Array<Http2Server | Http2SecureServer> = [];
  const listen = async (server: Http2Server | Http2SecureServer, host: string, port: number): Promise<number> => {
    // As gRPC servers do: small frames (a unary answer, a trailer) go out at once, not after Nagle's delay.
    server.on('connection', (socket: Socket) => socket.setNoDelay(true));
    server.on('session', onSession);
    server.on('stream', onStream);
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return (server.address() as AddressInfo).port;
  };

  const host = options.host ?? '127.0.0.1';
  const closeAll = () => {
    for (const server of servers) server.close();
    for (const session of upstreams.values()) session.destroy();
  };
  try {
    const port = await listen(http2.createServer({ settings: H2_SETTINGS }), host, options.port ?? 0);
    const tlsPort = options.tls
      ? await listen(
          http2.createSecureServer({
            cert: options.tls.cert,
            key: options.tls.key,
            allowHTTP1: false,
            settings: H2_SETTINGS,
          }),
          options.tls.host ?? '0.0.0.0',
          options.tls.port ?? 0,
        )
      : undefined;
    return {
      host,
      port,
      tlsPort,
      openRpcs: (sessionId) => open.get(sessionId) ?? 0,
      async close(graceMs = 5_000) {
        const closed = servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())));
        for (const session of downstreams) session.close();
        const timer = setTimeout(() => {
          for (const session of downstreams) session.destroy();
        }, graceMs);
        await Promise.all(closed);
        clearTimeout(timer);
        for (const session of upstreams.values()) session.destroy();
      },
    };
  } catch (err) {
    closeAll();
    throw err;
  }
}

/** The request as it goes upstream: everything as received but the server's token and the transport's :scheme. */
function upstreamHeaders(headers: IncomingHttpHeaders, token: string): OutgoingHttpHeaders {
  const out = passHeaders(headers, [':method', ':path', ':authority']);
  out.authorization = `Bearer ${token}`;
  // Never put the server's token into HPACK's dynamic table.
  return Object.assign(out, { [http2.sensitiveHeaders]: ['authorization'] });
}

/** A copy of the regular headers plus the named pseudo-headers; drops Node's bookkeeping symbols. */
function passHeaders(headers: IncomingHttpHeaders, pseudo: string[]): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    if (name.startsWith(':') && !pseudo.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Answers an RPC with a status and nothing else (a trailers-only response), and drops the request body. */
function answer(stream: ServerHttp2Stream, status: number, message: string): void {
  if (stream.headersSent || stream.closed || stream.destroyed) return;
  stream.respond(
    {
      ':status': 200,
      'content-type': 'application/grpc',
      'grpc-status': String(status),
      'grpc-message': encodeGrpcMessage(message),
    },
    { endStream: true },
  );
  stream.resume();
}

function bearerToken(authorization: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  return match?.[1];
}

/** gRPC's percent-encoding of grpc-message: UTF-8, with bytes outside printable ASCII and `%` escaped. */
export function encodeGrpcMessage(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out +=
      byte >= 0x20 && byte <= 0x7e && byte !== 0x25
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
