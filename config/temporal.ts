/**
 * How a process reaches Temporal, from its config: the one set of connection options every process uses (address,
 * TLS or mTLS, API key), a connect that turns any failure into one line naming what to fix, and a reachability
 * probe. The client's `Connection` and the worker's `NativeConnection` take the same options.
 *
 * A failed TLS handshake reaches the SDK only as "Failed to connect before the deadline", so on failure this module
 * repeats the handshake itself with node:tls, with the same certificates, to say which side refused what.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { Connection, isGrpcServiceError, type TLSConfig } from '@temporalio/client';
import { ConfigError, DependencyError, temporalAddress, type Config } from './index.js';

/** The settings a connection is built from. */
export type TemporalConnectionConfig = Pick<
  Config,
  | 'TEMPORAL_ADDRESS'
  | 'TEMPORAL_PORT'
  | 'TEMPORAL_TLS'
  | 'TEMPORAL_TLS_SERVER_CA_CERT_PATH'
  | 'TEMPORAL_TLS_CLIENT_CERT_PATH'
  | 'TEMPORAL_TLS_CLIENT_KEY_PATH'
  | 'TEMPORAL_TLS_SERVER_NAME'
  | 'TEMPORAL_API_KEY'
>;

/** What `Connection.connect` and `NativeConnection.connect` both take. */
export interface TemporalConnectionOptions {
  address: string;
  /** false: plaintext (also with an API key, which the SDK would otherwise send over TLS only). */
  tls: TLSConfig | false;
  apiKey?: string;
}

/** The gRPC status codes the project acts on. */
export const GRPC = {
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

/** The gRPC status code of `err` or of the first of its causes that has one (the SDK wraps the server's answer). */
export function grpcCodeOf(err: unknown): number | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  return undefined;
}

/** Why TLS is on, for messages: the variable that turned it on. */
function tlsReason(config: TemporalConnectionConfig): string | undefined {
  if (config.TEMPORAL_TLS === false) return undefined;
  if (config.TEMPORAL_TLS) return 'TEMPORAL_TLS=true';
  const variable = (
    [
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_SERVER_NAME',
      'TEMPORAL_API_KEY',
    ] as const
  ).find((k) => config[k]);
  return variable && `${variable} is set`;
}

function readFile(variable: string, file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ConfigError(`${variable}=${file} cannot be read (${code}): point it at ${what}`);
  }
}

function certificate(variable: string, file: string): { pem: Buffer; x509: crypto.X509Certificate } {
  const pem = readFile(variable, file, 'a PEM certificate file');
  try {
    return { pem, x509: new crypto.X509Certificate(pem) };
  } catch {
    throw new ConfigError(`${variable}=${file} is not a PEM certificate`);
  }
}

/** The client certificate and key, checked to belong together and to be current, so mTLS fails here, not later. */
function clientCertPair(config: TemporalConnectionConfig): TLSConfig['clientCertPair'] {
  const certFile = config.TEMPORAL_TLS_CLIENT_CERT_PATH;
  const keyFile = config.TEMPORAL_TLS_CLIENT_KEY_PATH;
  if (!certFile || !keyFile) return undefined;
  const cert = certificate('TEMPORAL_TLS_CLIENT_CERT_PATH', certFile);
  const key = readFile('TEMPORAL_TLS_CLIENT_KEY_PATH', keyFile, 'a PEM private key file');
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch {
    throw new ConfigError(`TEMPORAL_TLS_CLIENT_KEY_PATH=${keyFile} is not a PEM private key`);
  }
  if (!cert.x509.checkPrivateKey(privateKey)) {
    throw new ConfigError(
      `TEMPORAL_TLS_CLIENT_KEY_PATH=${keyFile} is not the key of TEMPORAL_TLS_CLIENT_CERT_PATH=${certFile}`,
    );
  }
  if (Date.parse(cert.x509.validTo) < Date.now()) {
    throw new ConfigError(`TEMPORAL_TLS_CLIENT_CERT_PATH=${certFile} expired on ${cert.x509.validTo}`);
  }
  return { crt: cert.pem, key };
}

/**
 * The connection options from the config. Reads and checks the certificate files now, so a bad one is a
 * ConfigError naming its variable at start. TLS is on when TEMPORAL_TLS says so, else when any TLS file, the
 * server name or an API key is set (as in the Temporal CLI and SDKs).
 */
export function temporalConnectionOptions(config: TemporalConnectionConfig): TemporalConnectionOptions {
  const address = temporalAddress(config);
  const apiKey = config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {};
  if (!tlsReason(config)) return { address, tls: false, ...apiKey };
  const options: TLSConfig = {};
  if (config.TEMPORAL_TLS_SERVER_CA_CERT_PATH) {
    options.serverRootCACertificate = certificate(
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      config.TEMPORAL_TLS_SERVER_CA_CERT_PATH,
    ).pem;
  }
  const pair = clientCertPair(config);
  if (pair) options.clientCertPair = pair;
  if (config.TEMPORAL_TLS_SERVER_NAME) options.serverNameOverride = config.TEMPORAL_TLS_SERVER_NAME;
  return { address, tls: options, ...apiKey };
}

/**
 * Connects to the frontend and waits until it answers (the SDK's own GetSystemInfo). Any failure is a
 * DependencyError of one line: what refused what, and the variable to change.
 */
export async function connectTemporal(
  config: TemporalConnectionConfig,
  { connectTimeoutMs = 10_000 }: { connectTimeoutMs?: number } = {},
): Promise<Connection> {
  const options = temporalConnectionOptions(config);
  try {
    return await Connection.connect({ ...options, connectTimeout: connectTimeoutMs });
  } catch (err) {
    throw new DependencyError(await explainTemporalFailure(config, err));
  }
}

/** True when a Temporal frontend answers at `target` (an address for plaintext, or connection options). */
export async function temporalReachable(target: string | TemporalConnectionOptions): Promise<boolean> {
  const options = typeof target === 'string' ? { address: target } : target;
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ ...options, connectTimeout: 2000 });
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close();
  }
}

/** One line for a failed connect: credentials refused, TLS refused (by which side, and why), or not reachable. */
export async function explainTemporalFailure(config: TemporalConnectionConfig, err: unknown): Promise<string> {
  const address = temporalAddress(config);
  const where = `Temporal at ${address}`;
  const detail = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
  // The SDK wraps the server's answer to its first call ("Failed to connect to Temporal server").
  const grpc = isGrpcServiceError(err) ? err : (err as { cause?: unknown } | undefined)?.cause;
  if (isGrpcServiceError(grpc) && ([GRPC.PERMISSION_DENIED, GRPC.UNAUTHENTICATED] as number[]).includes(grpc.code)) {
    const check = config.TEMPORAL_API_KEY ? 'check TEMPORAL_API_KEY' : 'it needs credentials: set TEMPORAL_API_KEY';
    return `${where} refused this process's credentials (${grpc.details}): ${check}`;
  }
  const reason = tlsReason(config);
  if (!reason) {
    const probe = await probeTls(address, {}, false);
    if (probe.stage === 'tcp') return notReachable(config, probe.message);
    if (probe.ok) {
      return `${where} serves TLS and this process connects in plaintext: set TEMPORAL_TLS=true (with TEMPORAL_TLS_SERVER_CA_CERT_PATH for a private CA, and TEMPORAL_TLS_CLIENT_CERT_PATH/KEY_PATH for mTLS)`;
    }
    return `${where} did not answer: ${detail}`;
  }
  const options = temporalConnectionOptions(config).tls || {};
  const probe = await probeTls(address, options, true);
  const ca = config.TEMPORAL_TLS_SERVER_CA_CERT_PATH;
  if (probe.ok) return `${where} did not answer over TLS: ${detail}`;
  switch (probe.stage) {
    case 'tcp':
      return notReachable(config, probe.message);
    case 'verify':
      return `${where} presented a certificate this process does not trust (${probe.message}): check ${
        probe.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
          ? 'TEMPORAL_TLS_SERVER_NAME (or the host in TEMPORAL_ADDRESS)'
          : ca
            ? `TEMPORAL_TLS_SERVER_CA_CERT_PATH=${ca}`
            : 'TEMPORAL_TLS_SERVER_CA_CERT_PATH (unset: only the system CAs are trusted)'
      }`;
    case 'handshake':
      return `${where} failed the TLS handshake (${probe.message}); TLS is on because ${reason}: does it serve TLS? (TEMPORAL_TLS=false for a plaintext frontend)`;
    case 'refused':
      return `${where} refused the client certificate (${probe.message}): ${
        config.TEMPORAL_TLS_CLIENT_CERT_PATH
          ? `check TEMPORAL_TLS_CLIENT_CERT_PATH=${config.TEMPORAL_TLS_CLIENT_CERT_PATH} (is it signed by a CA the server accepts?)`
          : 'it requires mTLS: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH'
      }`;
  }
}

function notReachable(config: TemporalConnectionConfig, why: string): string {
  const fix = config.TEMPORAL_ADDRESS
    ? 'check TEMPORAL_ADDRESS'
    : 'start everything with `npm run dev`, or set TEMPORAL_ADDRESS';
  return `Temporal is not reachable at ${temporalAddress(config)} (${why}): ${fix}`;
}

type TlsProbe =
  | { ok: true; stage?: undefined }
  | { ok: false; stage: 'tcp' | 'verify' | 'handshake' | 'refused'; code: string; message: string };

/** The HTTP/2 connection preface and an empty SETTINGS frame: a gRPC server answers with its own SETTINGS. */
const H2_PREFACE = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]),
]);

/** Node's codes for a server certificate that fails verification (OpenSSL's X509 errors and Node's own). */
const VERIFY_CODES = /CERT|UNABLE_TO_VERIFY|SELF_SIGNED|UNABLE_TO_GET_ISSUER/;
/** TLS alerts a server sends about the client's certificate (OpenSSL's names, as Node reports them). */
const CLIENT_CERT_ALERTS =
  /_ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|UNSUPPORTED_CERTIFICATE|CERTIFICATE_EXPIRED|ACCESS_DENIED)/;

function hostPort(address: string): { host: string; port: number } {
  const url = new URL(`tcp://${address}`);
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 7233) };
}

/**
 * A TLS handshake with `options` (verifying the server when `verify`), then the HTTP/2 preface: ok once the server
 * answers. With TLS 1.3 a server rejects a client certificate only after the client has finished its side, so a
 * failure after the handshake is the server refusing the client.
 */
function probeTls(address: string, options: TLSConfig, verify: boolean): Promise<TlsProbe> {
  const { host, port } = hostPort(address);
  return new Promise((resolve) => {
    let stage: 'tcp' | 'handshake' | 'refused' = 'tcp';
    const socket = tls.connect({
      host,
      port,
      servername: options.serverNameOverride ?? (net.isIP(host) ? undefined : host),
      ...(options.serverRootCACertificate ? { ca: Buffer.from(options.serverRootCACertificate) } : {}),
      ...(options.clientCertPair
        ? { cert: Buffer.from(options.clientCertPair.crt), key: Buffer.from(options.clientCertPair.key) }
        : {}),
      rejectUnauthorized: verify,
      ALPNProtocols: ['h2'],
    });
    const done = (result: TlsProbe) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const fail = (code: string, message: string): TlsProbe => {
      // An alert is the server's answer (TLS 1.2 refuses a client certificate inside the handshake).
      if (CLIENT_CERT_ALERTS.test(code)) return { ok: false, stage: 'refused', code, message };
      if (stage === 'handshake' && VERIFY_CODES.test(code)) return { ok: false, stage: 'verify', code, message };
      return { ok: false, stage, code, message };
    };
    const timer = setTimeout(() => done(fail('ETIMEDOUT', 'no answer within 3 s')), 3000);
    socket.once('connect', () => (stage = 'handshake'));
    socket.once('secureConnect', () => {
      stage = 'refused';
      socket.write(H2_PREFACE);
    });
    socket.once('data', () => done({ ok: true }));
    socket.once('error', (err: NodeJS.ErrnoException & { reason?: string }) =>
      // OpenSSL's messages span lines and name source files; its `reason` is the part for people.
      done(fail(err.code ?? 'ERROR', (err.reason ?? err.message).replace(/\s+/g, ' ').trim())),
    );
    socket.once('close', () => done(fail('ECONNRESET', 'the server closed the connection')));
  });
}
