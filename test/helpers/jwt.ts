/**
 * A signing key for the Temporal server's own JWT authorizer, in place of an identity provider: an ES256 key pair,
 * its JWKS served on loopback (the server fetches keys over HTTP), and tokens with a `permissions` claim of
 * `<namespace>:<role>` entries (`temporal-system:admin` is the cluster admin). Such a token is what Spark Runner
 * sends as TEMPORAL_API_KEY, as the SDK's `apiKey` (`Authorization: Bearer <token>`).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TestJwtIssuer {
  /** Where the server reads the public key. */
  jwksUrl: string;
  /** A token for `permissions`, valid for an hour. */
  token(permissions: string[], subject?: string): string;
  close(): Promise<void>;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString('base64url');

export async function startJwtIssuer(): Promise<TestJwtIssuer> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const kid = crypto.randomUUID();
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'ES256', use: 'sig' }] });
  const server = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(jwks));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    token(permissions, subject = 'spark-runner-test') {
      const now = Math.floor(Date.now() / 1000);
      const header = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid }));
      const payload = base64url(JSON.stringify({ sub: subject, permissions, iat: now, exp: now + 3600 }));
      // JWS wants the raw r||s form of an ECDSA signature, not DER.
      const signature = crypto.sign('sha256', Buffer.from(`${header}.${payload}`), {
        key: privateKey,
        dsaEncoding: 'ieee-p1363',
      });
      return `${header}.${payload}.${base64url(signature)}`;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
