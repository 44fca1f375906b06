/**
 * A real Temporal server for a test file: two fresh databases on the test stack's Postgres (DATABASE_URL), the
 * schema, the server (binaries from the global setup), and the `default` namespace with the project's search
 * attributes. restart() starts it again as the same node on the same databases, after stop() or a kill.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { TLSConfig } from '@temporalio/client';
import pg from 'pg';
import {
  ensureNamespace,
  setupTemporalSchema,
  startTemporalServer,
  temporalPostgresFrom,
  type FrontendTls,
  type RunningTemporalServer,
} from '../../provision/temporal-server.js';
import { certPair, type TestCerts } from './certs.js';

export interface TestTemporalServerOptions {
  /** Serve the frontend over TLS with these certificates; the client certificate is `certs.client`. */
  tls?: { certs: TestCerts; requireClientAuth: boolean };
  /** Output lines of the server; default discarded (the last ones are quoted if it fails to start). */
  onLine?: ((line: string) => void) | null;
  /** The server's JWT authorizer on, with keys from `jwksUrl`; `adminToken` (cluster admin) sets it up. */
  authorization?: { jwksUrl: string; adminToken: string };
  /**
   * Register the `default` namespace and the search attributes (the product's set-up); default true. false leaves
   * the server as a fresh install is: no namespace at all.
   */
  setup?: boolean;
}

export interface TestTemporalServer {
  /** `127.0.0.1:<port>`; the same across restarts. */
  readonly address: string;
  readonly databases: { main: string; visibility: string };
  /** Client TLS for the frontend with the test client certificate, when it serves TLS. */
  readonly clientTls?: TLSConfig;
  /** Settings that point a Spark Runner process at it (address, and the TLS files when it serves TLS). */
  readonly env: Record<string, string>;
  /** The server process now running, or last run. */
  readonly current: RunningTemporalServer;
  /** Stops the server, and drops its databases. */
  stop(): Promise<void>;
  /** Sends `signal` (default SIGKILL) and waits for the process to end. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the server again with the same config, ports and databases; resolves once it answers. */
  restart(): Promise<void>;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is unset: the vitest global setup did not run`);
  return value;
}

async function dropDatabases(url: string, names: string[]): Promise<void> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    for (const name of names) await client.query(`drop database if exists "${name}" with (force)`);
  } finally {
    await client.end();
  }
}

export async function startTestTemporalServer(options: TestTemporalServerOptions = {}): Promise<TestTemporalServer> {
  const id = crypto.randomUUID().slice(0, 8);
  const databaseUrl = required('DATABASE_URL');
  const databases = { main: `temporal_${id}`, visibility: `temporal_${id}_visibility` };
  const postgres = temporalPostgresFrom(databaseUrl, databases);
  const dir = path.join(required('SPARK_RUNNER_TEST_TMP'), `temporal-server-${id}`);
  fs.mkdirSync(dir, { recursive: true });
  await setupTemporalSchema({
    sqlTool: required('TEMPORAL_SQL_TOOL'),
    schemaDir: required('TEMPORAL_SCHEMA_DIR'),
    ...postgres,
  });

  const certs = options.tls?.certs;
  const tls: FrontendTls | undefined = certs && {
    certFile: certs.server.certFile,
    keyFile: certs.server.keyFile,
    clientCaFile: certs.ca.certFile,
    requireClientAuth: options.tls!.requireClientAuth,
  };
  const clientTls: TLSConfig | undefined = certs && {
    serverRootCACertificate: fs.readFileSync(certs.ca.certFile),
    clientCertPair: certPair(certs.client),
  };
  const start = (previous?: RunningTemporalServer) =>
    startTemporalServer({
      server: required('TEMPORAL_SERVER'),
      dir,
      postgres,
      tls,
      frontendPort: previous?.frontendPort,
      internalPorts: previous?.internalPorts,
      onLine: options.onLine,
      ...(options.authorization ? { authorization: { jwksUrl: options.authorization.jwksUrl } } : {}),
    });

  let current = await start();
  const env: Record<string, string> = {
    TEMPORAL_ADDRESS: current.address,
    ...(certs && {
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.ca.certFile,
      TEMPORAL_TLS_CLIENT_CERT_PATH: certs.client.certFile,
      TEMPORAL_TLS_CLIENT_KEY_PATH: certs.client.keyFile,
      // The certificate names localhost; an IP as the TLS server name is refused by RFC 6066 (and warned about).
      TEMPORAL_TLS_SERVER_NAME: 'localhost',
    }),
  };
  try {
    if (options.setup !== false) {
      await ensureNamespace(current.address, 'default', clientTls, {
        ...(options.authorization ? { apiKey: options.authorization.adminToken } : {}),
      });
    }
  } catch (err) {
    await current.stop();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    address: current.address,
    databases,
    clientTls,
    env,
    get current() {
      return current;
    },
    stop: () =>
      (stopped ??= (async () => {
        await current.stop();
        await dropDatabases(databaseUrl, [databases.main, databases.visibility]);
        fs.rmSync(dir, { recursive: true, force: true });
      })()),
    kill: (signal = 'SIGKILL') => current.kill(signal),
    async restart() {
      await current.stop();
      current = await start(current);
    },
  };
}
