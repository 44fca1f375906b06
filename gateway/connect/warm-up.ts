/**
 * Warms a freshly started Spark Connect server before a pool offers it: one small query, so that the session that
 * leases it does not pay the server's first-query cost (JIT, the first Spark Connect session, planning and code
 * generation: 3-8 s on two cores, measured by bench/sessions). The query runs in a Spark Connect session of its
 * own, which is released afterwards, so nothing of it is visible to the user who later leases the server.
 *
 * There is no Spark Connect client in Node, and one query does not need one: the two requests are encoded here by
 * hand from spark/connect/base.proto and relations.proto (Spark 4.0.1; they ship in the spark-connect jar):
 *   ExecutePlanRequest   { session_id = 1; user_context = 2 { user_id = 1 }; plan = 3 { root = 1 { sql = 10 { query = 1 } } } }
 *   ReleaseSessionRequest { session_id = 1; user_context = 2 { user_id = 1 } }
 * and sent over HTTP/2 with gRPC's framing. The answers are drained, not decoded: only the final grpc-status counts.
 */
import { randomUUID } from 'node:crypto';
import http2 from 'node:http2';

const SERVICE = '/spark.connect.SparkConnectService';
export const WARM_UP_QUERY = 'select count(*) as n from range(1000)';

/** A length-delimited protobuf field (wire type 2). */
function field(number: number, payload: Buffer): Buffer {
  return Buffer.concat([varint((number << 3) | 2), varint(payload.length), payload]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let v = value;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

const text = (s: string) => Buffer.from(s, 'utf8');

/** gRPC's message framing: not compressed, 4-byte big-endian length, the message. */
function frame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** One unary-or-streaming call; resolves with its grpc-status and message once the stream has ended. */
function call(
  session: http2.ClientHttp2Session,
  method: string,
  token: string,
  message: Buffer,
  timeoutMs: number,
): Promise<{ status: number; message?: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST',
      ':path': `${SERVICE}/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      authorization: `Bearer ${token}`,
    });
    let status: number | undefined;
    let detail: string | undefined;
    const take = (headers: http2.IncomingHttpHeaders) => {
      if (headers['grpc-status'] !== undefined) status = Number(headers['grpc-status']);
      if (typeof headers['grpc-message'] === 'string') detail = decodeURIComponent(headers['grpc-message']);
    };
    stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('data', () => undefined);
    stream.on('error', reject);
    stream.on('close', () =>
      status === undefined
        ? reject(new Error(`${method} ended without a gRPC status`))
        : resolve({ status, ...(detail ? { message: detail } : {}) }),
    );
    stream.end(frame(message));
  });
}

/** Runs WARM_UP_QUERY on the server in a session of its own, then releases that session. Throws on failure. */
export async function warmUpConnectServer(
  server: { host: string; port: number; token: string },
  timeoutMs = 120_000,
): Promise<void> {
  const authority = server.host.includes(':') ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
  const session = http2.connect(`http://${authority}`);
  session.on('error', () => undefined);
  try {
    const sessionId = randomUUID();
    const common = Buffer.concat([field(1, text(sessionId)), field(2, field(1, text('spark-runner-warm-up')))]);
    const plan = field(3, field(1, field(10, field(1, text(WARM_UP_QUERY)))));
    const executed = await call(session, 'ExecutePlan', server.token, Buffer.concat([common, plan]), timeoutMs);
    if (executed.status !== 0) {
      throw new Error(`warm-up query failed: gRPC status ${executed.status} ${executed.message ?? ''}`.trim());
    }
    await call(session, 'ReleaseSession', server.token, common, timeoutMs);
  } finally {
    session.close();
  }
}
