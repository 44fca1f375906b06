/**
 * A real Temporal server (go.temporal.io/server, the version the CLI's dev server embeds) on Postgres: what a
 * deployment runs, where the dev server is one process on SQLite with one history shard.
 *
 * Binaries: TEMPORAL_SERVER and TEMPORAL_SQL_TOOL when given, else cached under
 * <cache>/temporal-server/<version>/, else built from Go modules with the wrapper module in
 * provision/temporal-server/ (its committed go.sum pins the build list; the server's go.mod has no replace, but
 * the wrapper keeps the build reproducible and offline-checkable like the other Go builds). The Postgres
 * schemas (schema/postgresql/v12/{temporal,visibility}/versioned) are copied from the module into the same
 * cache directory, so the cache is self-contained.
 *
 * The server reads a config file this module writes (`temporal-server --config-file <file> start`), with every
 * service (frontend, history, matching, worker) in one process on loopback ports. Nothing creates a namespace on
 * SQL persistence: ensureNamespace() does, with the product's own set-up (service/temporal-setup.ts).
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Connection, type TLSConfig } from '@temporalio/client';
import type { SearchAttributeType } from '@temporalio/common';
import YAML from 'yaml';
import { failureDetail, ProvisionError } from './errors.js';
import { buildFromWrapper, wrapperModuleDir, type GoBuild } from './go-build.js';
import { withLock } from './lock.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from './process.js';
import { setupTemporal, type TemporalSetupResult } from '../service/temporal-setup.js';

const run = promisify(execFile);

export const TEMPORAL_SERVER_VERSION = '1.31.2';
const SERVER_MODULE = 'go.temporal.io/server';
/** The SQL plugin for Postgres >= 12 (v1.31 also has `postgres12_pgx`; `postgres12` is what the docs use). */
const SQL_PLUGIN = 'postgres12';
/** Small: one process serves every shard; the count is fixed for the life of the database. */
const HISTORY_SHARDS = 4;
/** grpc.health.v1 SERVING. */
const GRPC_HEALTH_SERVING = 1;

const BUILD_BASE = {
  version: TEMPORAL_SERVER_VERSION,
  wrapper: path.join(import.meta.dirname, 'temporal-server'),
  ldflags: '-s -w',
  // The server's go.mod says `go 1.26.4`; older Go fetches that toolchain from the module proxy.
  goMin: [1, 26, 4],
  estimate: '~3-8 min',
} satisfies Partial<GoBuild>;

const BUILDS = {
  server: {
    ...BUILD_BASE,
    name: 'Temporal server',
    pkg: `${SERVER_MODULE}/cmd/server`,
    overrideVariable: 'TEMPORAL_SERVER to a temporal-server binary',
  },
  sqlTool: {
    ...BUILD_BASE,
    name: 'temporal-sql-tool',
    pkg: `${SERVER_MODULE}/cmd/tools/sql`,
    overrideVariable: 'TEMPORAL_SQL_TOOL to a temporal-sql-tool binary',
  },
} satisfies Record<string, GoBuild>;

export interface TemporalServerOptions {
  /** Cache root (SPARK_RUNNER_CACHE); builds land in `<cacheDir>/temporal-server/<version>/`. */
  cacheDir: string;
  /** A temporal-server binary to use instead of the cached build. */
  TEMPORAL_SERVER?: string | undefined;
  /** A temporal-sql-tool binary to use instead of the cached build. */
  TEMPORAL_SQL_TOOL?: string | undefined;
  /** A `schema/postgresql/v12` directory to use instead of the cached copy (which needs Go to make). */
  TEMPORAL_SCHEMA_DIR?: string | undefined;
}

export interface TemporalServerInstall {
  server: string;
  sqlTool: string;
  /** `schema/postgresql/v12`: holds `temporal/versioned` and `visibility/versioned`. */
  schemaDir: string;
  /** What the server reports, e.g. `1.31.2`. */
  version: string;
}

async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 30_000 });
    return /version (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

async function checkedVersion(variable: string, binary: string): Promise<string> {
  const version = await versionOf(binary);
  if (!version) {
    throw new ProvisionError(
      `${variable}=${binary} is not a working binary (\`--version\` failed): point it at a ${TEMPORAL_SERVER_VERSION} build, or unset it to build one from Go modules`,
    );
  }
  return version;
}

function hasSchema(dir: string): boolean {
  return ['temporal', 'visibility'].every((db) => fs.existsSync(path.join(dir, db, 'versioned', 'v1.0')));
}

/** Copies a read-only module-cache tree into a normal, removable one. */
function copyTree(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const [src, dst] = [path.join(from, entry.name), path.join(to, entry.name)];
    if (entry.isDirectory()) copyTree(src, dst);
    else fs.writeFileSync(dst, fs.readFileSync(src), { mode: 0o644 });
  }
}

async function copySchema(dir: string, log: (line: string) => void): Promise<void> {
  const target = path.join(dir, 'schema', 'postgresql', 'v12');
  if (hasSchema(target)) return;
  const moduleDir = await wrapperModuleDir(
    { ...BUILDS.server, name: 'the Temporal SQL schemas', overrideVariable: 'TEMPORAL_SCHEMA_DIR' },
    SERVER_MODULE,
    path.join(dir, `schema.module-${process.pid}`),
  );
  const tmp = path.join(dir, `schema.tmp-${process.pid}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  copyTree(path.join(moduleDir, 'schema', 'postgresql', 'v12'), tmp);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  fs.rmSync(target, { recursive: true, force: true });
  fs.renameSync(tmp, target);
  log(`copied the Temporal ${TEMPORAL_SERVER_VERSION} Postgres schemas -> ${target}`);
}

/**
 * Finds or builds temporal-server and temporal-sql-tool and the Postgres schemas. Idempotent, one builder at a
 * time across processes; a cached binary must report the pinned version. `log` gets progress lines.
 */
export async function ensureTemporalServer(
  options: TemporalServerOptions,
  log: (line: string) => void,
): Promise<TemporalServerInstall> {
  const dir = path.join(options.cacheDir, 'temporal-server', TEMPORAL_SERVER_VERSION);
  const cached = { server: path.join(dir, 'temporal-server'), sqlTool: path.join(dir, 'temporal-sql-tool') };
  const server = options.TEMPORAL_SERVER ? path.resolve(options.TEMPORAL_SERVER) : cached.server;
  const sqlTool = options.TEMPORAL_SQL_TOOL ? path.resolve(options.TEMPORAL_SQL_TOOL) : cached.sqlTool;
  const schemaDir = options.TEMPORAL_SCHEMA_DIR
    ? path.resolve(options.TEMPORAL_SCHEMA_DIR)
    : path.join(dir, 'schema', 'postgresql', 'v12');
  if (options.TEMPORAL_SCHEMA_DIR && !hasSchema(schemaDir)) {
    throw new ProvisionError(
      `TEMPORAL_SCHEMA_DIR=${options.TEMPORAL_SCHEMA_DIR} has no temporal/versioned and visibility/versioned: point it at a server checkout's schema/postgresql/v12, or unset it`,
    );
  }
  const missing = [
    !options.TEMPORAL_SERVER && !fs.existsSync(server),
    !options.TEMPORAL_SQL_TOOL && !fs.existsSync(sqlTool),
    !options.TEMPORAL_SCHEMA_DIR && !hasSchema(schemaDir),
  ].some(Boolean);
  if (missing) {
    await withLock(
      `${dir}.lock`,
      () => log('another process is building the Temporal server; waiting for it...'),
      async () => {
        if (!options.TEMPORAL_SERVER) await buildFromWrapper(BUILDS.server, server, log);
        if (!options.TEMPORAL_SQL_TOOL) await buildFromWrapper(BUILDS.sqlTool, sqlTool, log);
        if (!options.TEMPORAL_SCHEMA_DIR) await copySchema(dir, log);
      },
    );
  }
  const version = options.TEMPORAL_SERVER ? await checkedVersion('TEMPORAL_SERVER', server) : await versionOf(server);
  const toolVersion = options.TEMPORAL_SQL_TOOL
    ? await checkedVersion('TEMPORAL_SQL_TOOL', sqlTool)
    : await versionOf(sqlTool);
  for (const [what, v, override] of [
    ['temporal-server', version, options.TEMPORAL_SERVER],
    ['temporal-sql-tool', toolVersion, options.TEMPORAL_SQL_TOOL],
  ] as const) {
    if (!override && v !== TEMPORAL_SERVER_VERSION) {
      throw new ProvisionError(
        `the cached ${what} reports version ${v ?? '(none)'} instead of ${TEMPORAL_SERVER_VERSION}: delete ${dir} and run again`,
      );
    }
  }
  return { server, sqlTool, schemaDir, version: version! };
}

/** ensureTemporalServer with the overrides from the environment (TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_SCHEMA_DIR). */
export function ensureTemporalServerFromEnv(
  cacheDir: string,
  log: (line: string) => void,
): Promise<TemporalServerInstall> {
  const { TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_SCHEMA_DIR } = process.env;
  return ensureTemporalServer({ cacheDir, TEMPORAL_SERVER, TEMPORAL_SQL_TOOL, TEMPORAL_SCHEMA_DIR }, log);
}

/** The sql tool colors its log levels even when writing to a pipe. */
const ANSI_COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** Where the server's databases live. The password, when there is one, never goes on a command line. */
export interface TemporalPostgres {
  host: string;
  port: number;
  user: string;
  password?: string | undefined;
  /** The main (history, executions, namespaces) and the visibility database. */
  databases: { main: string; visibility: string };
}

/** The server's databases on the Postgres of a `postgres://` URL (its host, port, user and password). */
export function temporalPostgresFrom(url: string, databases: TemporalPostgres['databases']): TemporalPostgres {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    user: decodeURIComponent(u.username),
    password: u.password ? decodeURIComponent(u.password) : undefined,
    databases,
  };
}

export interface SchemaSetupOptions extends TemporalPostgres {
  sqlTool: string;
  schemaDir: string;
}

/**
 * Creates both databases (an existing one is fine) and brings each schema to the newest version with
 * temporal-sql-tool: `setup-schema -v 0.0` (only the version tables; a no-op once set up), then
 * `update-schema -d <versioned dir>`. Idempotent.
 */
export async function setupTemporalSchema(options: SchemaSetupOptions): Promise<void> {
  const env = { ...process.env, SQL_PASSWORD: options.password ?? '' };
  const tool = async (database: string, args: string[]) => {
    const common = ['--plugin', SQL_PLUGIN, '--endpoint', options.host, '--port', String(options.port)];
    common.push('--user', options.user, '--database', database);
    return run(options.sqlTool, [...common, ...args], { env, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
  };
  for (const [kind, database] of [
    ['temporal', options.databases.main],
    ['visibility', options.databases.visibility],
  ] as const) {
    const step = async (what: string, args: string[], tolerate?: RegExp) => {
      try {
        await tool(database, args);
      } catch (err) {
        if (tolerate?.test(String((err as { stderr?: string }).stderr ?? ''))) return;
        throw new ProvisionError(
          `temporal-sql-tool ${what} on database ${database} at ${options.host}:${options.port} failed (${failureDetail(err, 1).replace(ANSI_COLOR, '')})`,
        );
      }
    };
    await step('create-database', ['create-database', '--defaultdb', 'postgres'], /already exists|42P04/);
    await step('setup-schema', ['setup-schema', '-v', '0.0']);
    await step('update-schema', ['update-schema', '-d', path.join(options.schemaDir, kind, 'versioned')]);
  }
}

/** Frontend TLS, from PEM files. */
export interface FrontendTls {
  certFile: string;
  keyFile: string;
  /** CAs whose client certificates the frontend accepts (checked only with requireClientAuth). */
  clientCaFile: string;
  requireClientAuth: boolean;
  /** CA that signed certFile, for the server's own system worker; default clientCaFile. */
  serverCaFile?: string;
  /**
   * The client certificate the server's system worker (and this module's readiness probe) presents to the
   * frontend; default certFile/keyFile, which then needs the clientAuth usage and a CA in clientCaFile.
   */
  systemWorker?: { certFile: string; keyFile: string };
}

/** Every port but the frontend's gRPC port: pass a started server's back to restart it as the same node. */
export interface InternalPorts {
  frontendMembership: number;
  history: number;
  historyMembership: number;
  matching: number;
  matchingMembership: number;
  worker: number;
  workerMembership: number;
  /** Used only with `authorization`. */
  internalFrontend: number;
  internalFrontendMembership: number;
}

export interface TemporalServerStartOptions {
  server: string;
  /** Holds the config files the server reads; created if missing, rewritten on every start. */
  dir: string;
  postgres: TemporalPostgres;
  /** Frontend gRPC port; default a free one. */
  frontendPort?: number;
  internalPorts?: InternalPorts;
  tls?: FrontendTls;
  /**
   * Turn on the server's own JWT authorizer (`authorizer: default`, `claimMapper: default`): callers need a bearer
   * token (an API key) signed by a key in the JWKS at `jwksUrl`, whose `permissions` claim holds `<namespace>:<role>`
   * entries (`temporal-system:admin` for the cluster). Health checks and GetSystemInfo stay open. The server's own
   * calls to a frontend (its worker service, the operator service's namespace lookups) carry no token, so they go to
   * an `internal-frontend` service, as in a deployment with an authorizer.
   */
  authorization?: { jwksUrl: string };
  /** Dynamic config keys over the defaults below (a benchmark turns the test-friendly cache settings off). */
  dynamicConfig?: Record<string, unknown>;
  /** Server log level; default `warn` (errors that stop it are printed whatever the level). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Where output lines go; default discarded. The last ones are quoted when start-up fails either way. */
  onLine?: ((line: string) => void) | null;
  /** How long to wait for the frontend; default 120 s. */
  timeoutMs?: number;
}

export interface RunningTemporalServer {
  /** `127.0.0.1:<port>`. */
  address: string;
  pid: number;
  frontendPort: number;
  internalPorts: InternalPorts;
  /** Client TLS options for the frontend (the system worker's certificate), when it serves TLS. */
  clientTls?: TLSConfig;
  /** Resolves with the exit code or signal when the process ends. */
  exited: Promise<number | string>;
  /** The process itself, for a supervisor that signals it (bench/drill.ts). */
  process: ManagedProcess;
  /** SIGTERM (the server drains and stops), SIGKILL after 15 s. Safe to call twice. */
  stop(): Promise<void>;
  /** Sends `signal` and waits for the process to end. */
  kill(signal: NodeJS.Signals): Promise<void>;
}

/** True when nothing listens on 127.0.0.1:`port` (so the server can bind it). */
async function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port below 32768: the cluster_membership table stores membership ports as SMALLINT (Postgres and
 * MySQL schemas of v1.31.2), so the kernel's ephemeral ports (32768 and up on Linux) make the server exit with
 * "value ... is out of range for type smallint".
 */
async function freeMembershipPort(taken: number[]): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const port = 20_000 + crypto.randomInt(12_768);
    if (!taken.includes(port) && (await canListen(port))) return port;
  }
  throw new Error('no free loopback port between 20000 and 32767 for Temporal membership');
}

async function freePorts(): Promise<InternalPorts> {
  const taken: number[] = [];
  const grpc = async () => {
    for (;;) {
      const port = await freePort();
      if (!taken.includes(port)) return taken[taken.push(port) - 1]!;
    }
  };
  const membership = async () => taken[taken.push(await freeMembershipPort(taken)) - 1]!;
  return {
    frontendMembership: await membership(),
    history: await grpc(),
    historyMembership: await membership(),
    matching: await grpc(),
    matchingMembership: await membership(),
    worker: await grpc(),
    workerMembership: await membership(),
    internalFrontend: await grpc(),
    internalFrontendMembership: await membership(),
  };
}

/** Dynamic config the tests and a small deployment want (keys as in the server's dynamicconfig/constants.go). */
const DYNAMIC_CONFIG: Record<string, unknown> = {
  // New search attributes are usable at once, as on the dev server (setup adds them right before first use).
  'system.forceSearchAttributesCacheRefreshOnRead': true,
  // With that cache off every read hits the database; the dev server raises these for the same reason.
  'frontend.persistenceMaxQPS': 10000,
  'history.persistenceMaxQPS': 45000,
};

/**
 * The dynamic config over DYNAMIC_CONFIG for a server run as deployed (the benchmarks, the drill): without the test
 * setting that makes every search-attribute read go to the database.
 */
export const DEPLOYED_DYNAMIC_CONFIG: Record<string, unknown> = {
  'system.forceSearchAttributesCacheRefreshOnRead': false,
};

/** The server config: one process, every service on loopback, SQL persistence on Postgres. */
export function serverConfig(
  options: Pick<TemporalServerStartOptions, 'postgres' | 'tls' | 'logLevel' | 'authorization'>,
  frontendPort: number,
  ports: InternalPorts,
  dynamicConfigFile: string,
): Record<string, unknown> {
  const { postgres, tls } = options;
  const store = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: SQL_PLUGIN,
      databaseName,
      connectAddr: `${postgres.host}:${postgres.port}`,
      connectProtocol: 'tcp',
      user: postgres.user,
      password: postgres.password ?? '',
      // Per service: the four services in this process each open their own pools.
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const rpc = (grpcPort: number, membershipPort: number) => ({
    rpc: { grpcPort, membershipPort, bindOnIP: '127.0.0.1' },
  });
  const frontendAddress = `127.0.0.1:${frontendPort}`;
  const global: Record<string, unknown> = {
    membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
  };
  if (options.authorization) {
    global.authorization = {
      jwtKeyProvider: { keySourceURIs: [options.authorization.jwksUrl], refreshInterval: '1m' },
      permissionsClaimName: 'permissions',
      authorizer: 'default',
      claimMapper: 'default',
    };
  }
  if (tls) {
    const workerCert = tls.systemWorker ?? { certFile: tls.certFile, keyFile: tls.keyFile };
    global.tls = {
      frontend: {
        server: {
          certFile: tls.certFile,
          keyFile: tls.keyFile,
          clientCaFiles: [tls.clientCaFile],
          requireClientAuth: tls.requireClientAuth,
        },
      },
      // With this set, every in-process client of the frontend (system worker, history, matching) uses it.
      systemWorker: { ...workerCert, client: { rootCaFiles: [tls.serverCaFile ?? tls.clientCaFile] } },
    };
  }
  const services: Record<string, unknown> = {
    frontend: rpc(frontendPort, ports.frontendMembership),
    history: rpc(ports.history, ports.historyMembership),
    matching: rpc(ports.matching, ports.matchingMembership),
    worker: rpc(ports.worker, ports.workerMembership),
  };
  if (options.authorization) {
    services['internal-frontend'] = rpc(ports.internalFrontend, ports.internalFrontendMembership);
  }
  return {
    log: { stdout: true, level: options.logLevel ?? 'warn' },
    persistence: {
      defaultStore: 'default',
      visibilityStore: 'visibility',
      numHistoryShards: HISTORY_SHARDS,
      datastores: { default: store(postgres.databases.main, 8), visibility: store(postgres.databases.visibility, 2) },
    },
    global,
    services,
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: { enabled: true, initialFailoverVersion: 1, rpcName: 'frontend', rpcAddress: frontendAddress },
      },
    },
    dcRedirectionPolicy: { policy: 'noop' },
    archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
    namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
    // With an internal-frontend, the server finds it through membership; a hostPort would bypass it.
    ...(options.authorization ? {} : { publicClient: { hostPort: frontendAddress } }),
    dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
  };
}

/** Client TLS for a frontend configured with `tls`, presenting the system worker's certificate. */
function probeTls(tls: FrontendTls): TLSConfig {
  const cert = tls.systemWorker ?? { certFile: tls.certFile, keyFile: tls.keyFile };
  return {
    serverRootCACertificate: fs.readFileSync(tls.serverCaFile ?? tls.clientCaFile),
    clientCertPair: { crt: fs.readFileSync(cert.certFile), key: fs.readFileSync(cert.keyFile) },
  };
}

/** True when the frontend at `address` reports SERVING and answers GetSystemInfo. */
export async function temporalServerReady(address: string, tls?: TLSConfig): Promise<boolean> {
  let connection: Connection | undefined;
  try {
    connection = await Connection.connect({ address, tls, connectTimeout: 2000 });
    const health = await connection.healthService.check({ service: 'temporal.api.workflowservice.v1.WorkflowService' });
    if ((health.status as number) !== GRPC_HEALTH_SERVING) return false;
    await connection.workflowService.getSystemInfo({});
    return true;
  } catch {
    return false;
  } finally {
    await connection?.close().catch(() => undefined);
  }
}

const TAIL_LINES = 30;

/** A server log line without its stack trace: `level: msg: error` for JSON lines, else the line. */
function summarize(line: string): string {
  try {
    const entry = JSON.parse(line) as { level?: string; msg?: string; error?: string };
    if (entry.msg) return `${entry.level ?? 'log'}: ${entry.msg}${entry.error ? `: ${entry.error}` : ''}`;
  } catch {
    // not JSON: Go's own log and cli.Exit messages
  }
  return line;
}

/**
 * Writes the config and starts `temporal-server --config-file <dir>/config.yaml start`; resolves once the
 * frontend answers. Start it again with the same dir, ports and databases after a crash: shards, namespaces
 * and workflows are all in Postgres.
 */
export async function startTemporalServer(options: TemporalServerStartOptions): Promise<RunningTemporalServer> {
  const dir = path.resolve(options.dir);
  fs.mkdirSync(dir, { recursive: true });
  const frontendPort = options.frontendPort ?? (await freePort());
  const internalPorts = options.internalPorts ?? (await freePorts());
  const dynamicConfigFile = path.join(dir, 'dynamicconfig.yaml');
  const configFile = path.join(dir, 'config.yaml');
  const dynamic = Object.fromEntries(
    Object.entries({ ...DYNAMIC_CONFIG, ...options.dynamicConfig }).map(([k, value]) => [k, [{ value }]]),
  );
  fs.writeFileSync(dynamicConfigFile, YAML.stringify(dynamic));
  const config = serverConfig(options, frontendPort, internalPorts, dynamicConfigFile);
  // It holds the database password.
  fs.writeFileSync(configFile, YAML.stringify(config), { mode: 0o600 });

  const tail: string[] = [];
  const child = startProcess(
    'temporal-server',
    options.server,
    [
      '--config-file',
      configFile,
      '--allow-no-auth',
      'start',
      // The default services are the four without the internal-frontend.
      ...(options.authorization
        ? ['frontend', 'internal-frontend', 'history', 'matching', 'worker'].flatMap((s) => ['--service', s])
        : []),
    ],
    {
      cwd: dir,
      stopSignal: 'SIGTERM',
      onLine: (line) => {
        if (line.trim()) tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
        options.onLine?.(line);
      },
    },
  );
  const address = `127.0.0.1:${frontendPort}`;
  const clientTls = options.tls ? probeTls(options.tls) : undefined;
  try {
    await waitFor(() => temporalServerReady(address, clientTls), {
      timeoutMs: options.timeoutMs ?? 120_000,
      message: `Temporal server did not come up on ${address}`,
      exited: child.exited,
    });
  } catch (err) {
    await child.stop('SIGKILL');
    const last = tail.slice(-6).map(summarize).join(' | ');
    throw new Error(`${(err as Error).message}; its last output: ${last || '(none)'}`);
  }
  return {
    address,
    pid: child.child.pid!,
    frontendPort,
    internalPorts,
    clientTls,
    exited: child.exited,
    process: child,
    stop: () => child.stop('SIGTERM', 15_000),
    async kill(signal) {
      if (child.child.exitCode === null && child.child.signalCode === null) child.child.kill(signal);
      await child.exited;
    },
  };
}

export interface NamespaceOptions {
  /** How long closed workflows are kept; default 1 day (the server's minimum). */
  retentionDays?: number;
  /** Custom search attributes to register; default the ones Spark Runner's workflows set. */
  searchAttributes?: ReadonlyArray<{ name: string; type: SearchAttributeType }>;
  /** How long to wait for the new search attributes to be usable; default 30 s. */
  timeoutMs?: number;
  /** A bearer token for a server with an authorizer (`authorization` above). */
  apiKey?: string;
}

/**
 * Registers `namespace` and its search attributes, with the product's own set-up (service/temporal-setup.ts, what
 * `spark-runner admin temporal-setup` runs), and waits until workflows can be started with them.
 */
export async function ensureNamespace(
  address: string,
  namespace: string,
  tls?: TLSConfig | false,
  options: NamespaceOptions = {},
): Promise<TemporalSetupResult> {
  const connection = await Connection.connect({
    address,
    tls: tls ?? false,
    ...(options.apiKey ? { apiKey: options.apiKey } : {}),
  });
  try {
    return await setupTemporal(
      { connection, address, namespace },
      {
        retentionDays: options.retentionDays ?? 1,
        timeoutMs: options.timeoutMs ?? 30_000,
        ...(options.searchAttributes ? { searchAttributes: options.searchAttributes } : {}),
      },
    );
  } finally {
    await connection.close();
  }
}
