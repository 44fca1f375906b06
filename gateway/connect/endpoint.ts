/**
 * The address notebooks reach the Spark Connect proxy at, and the `connect_url` each session answers with.
 */
import type { Config } from '../../config/index.js';

/** Where notebooks reach the proxy: the host and port written into every `connect_url`. */
export interface ConnectEndpoint {
  host: string;
  port: number;
}

/**
 * The endpoint from the configuration: CONNECT_PUBLIC_HOST with CONNECT_PUBLIC_PORT, else the plaintext port for
 * `localhost` (pyspark sends a token in plaintext to that literal host only) and the TLS port for any other host.
 */
export function connectEndpointOf(
  config: Pick<Config, 'CONNECT_PUBLIC_HOST' | 'CONNECT_PUBLIC_PORT' | 'CONNECT_PROXY_PORT' | 'CONNECT_TLS_PORT'>,
  listening?: { port: number; tlsPort?: number },
): ConnectEndpoint {
  const host = config.CONNECT_PUBLIC_HOST;
  const plain = host === 'localhost';
  const port =
    config.CONNECT_PUBLIC_PORT ??
    (plain ? (listening?.port ?? config.CONNECT_PROXY_PORT) : (listening?.tlsPort ?? config.CONNECT_TLS_PORT));
  return { host, port };
}

/**
 * `sc://<host>:<port>/;token=<token>;x-spark-runner-session=<id>`. pyspark sends the extra parameter as gRPC
 * metadata on every call, and the proxy checks the token belongs to that session.
 */
export function connectUrl(endpoint: ConnectEndpoint, sessionId: string, token: string): string {
  return `sc://${endpoint.host}:${endpoint.port}/;token=${token};x-spark-runner-session=${sessionId}`;
}
