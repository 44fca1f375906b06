/**
 * A real Kubernetes API server for tests: kube-apiserver backed by etcd, both on loopback, with the Apache
 * Spark operator's CRDs installed from the anchors. No kubelet, scheduler or controller manager: objects are
 * stored, validated against the CRD schemas and served, and nothing reconciles them.
 *
 * Binaries: KUBE_APISERVER and ETCD when given, else cached under <cache>/kubernetes/<version>/, else built
 * from Go modules with the wrapper modules next to this file (their committed go.sum pins both builds):
 *  - kube-apiserver/: requires k8s.io/kubernetes and replaces every staging module (k8s.io/api, apimachinery,
 *    apiserver, client-go, ...) with its published v0.<minor>.<patch>, because kubernetes' own go.mod points
 *    them at ./staging and requires them at v0.0.0, which the module proxy does not have.
 *  - etcd/: requires go.etcd.io/etcd/server/v3, whose main package is the etcd binary; a plain `go install`
 *    is refused because that go.mod replaces its sibling modules with ../ paths.
 * etcd is built rather than taken from Debian's etcd-server because bookworm ships 3.4.23, which
 * kube-apiserver 1.37 runs against only with watch progress requests disabled, and a Go build also works
 * without root and on any distribution.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { ProvisionError } from '../errors.js';
import { atLeast, buildFromWrapper } from '../go-build.js';
import { freePort, prefixer, startProcess, waitFor, type ManagedProcess } from '../process.js';
import { kubeRequest, type KubeConnection } from './client.js';

export { installCrd, kubeRequest, readKubeconfig, type KubeConnection, type KubeResponse } from './client.js';

const run = promisify(execFile);

export const KUBERNETES_VERSION = '1.37.2';
export const ETCD_VERSION = '3.7.3';
/** Go version both wrapper modules declare. */
const GO_MIN = [1, 26, 0];

interface Build {
  /** Binary name in the cache directory. */
  name: string;
  version: string;
  wrapper: string;
  pkg: string;
  ldflags: string;
  /** Oldest version accepted from an override (etcd 3.4 lacks flags and RPCs the API server uses). */
  minVersion: string;
  /** What `<binary> --version` must print. */
  versionPattern: RegExp;
}

function kubeLdflags(): string {
  const [major, minor] = KUBERNETES_VERSION.split('.');
  const flags = ['-s', '-w'];
  // What hack/lib/version.sh stamps; the version decides the API server's emulation and compatibility versions.
  for (const pkg of ['k8s.io/client-go/pkg/version', 'k8s.io/component-base/version']) {
    flags.push(`-X ${pkg}.gitVersion=v${KUBERNETES_VERSION}`, `-X ${pkg}.gitMajor=${major}`);
    flags.push(`-X ${pkg}.gitMinor=${minor}`, `-X ${pkg}.gitTreeState=clean`);
  }
  return flags.join(' ');
}

const BUILDS = {
  etcd: {
    name: 'etcd',
    version: ETCD_VERSION,
    wrapper: path.join(import.meta.dirname, 'etcd'),
    pkg: 'go.etcd.io/etcd/server/v3',
    ldflags: '-s -w',
    minVersion: '3.5.0',
    versionPattern: /etcd Version: (\S+)/,
  },
  kubeApiserver: {
    name: 'kube-apiserver',
    version: KUBERNETES_VERSION,
    wrapper: path.join(import.meta.dirname, 'kube-apiserver'),
    pkg: 'k8s.io/kubernetes/cmd/kube-apiserver',
    ldflags: kubeLdflags(),
    minVersion: '1.31.0',
    versionPattern: /Kubernetes v(\S+)/,
  },
} satisfies Record<string, Build>;

export interface KubeBinaries {
  kubeApiserver: string;
  etcd: string;
  /** Kubernetes version the API server reports, e.g. `1.37.2`. */
  version: string;
  etcdVersion: string;
}

export interface KubeBinariesConfig {
  /** Cache root (SPARK_RUNNER_CACHE); builds land in `<cacheDir>/kubernetes/<version>/`. */
  cacheDir: string;
  /** A kube-apiserver binary to use instead of the cached build. */
  KUBE_APISERVER?: string | undefined;
  /** An etcd binary to use instead of the cached build. */
  ETCD?: string | undefined;
}

async function versionOf(binary: string, pattern: RegExp): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 30_000 });
    return pattern.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

async function override(variable: string, value: string, build: Build): Promise<{ path: string; version: string }> {
  const binary = path.resolve(value);
  const version = await versionOf(binary, build.versionPattern);
  if (!version) {
    throw new ProvisionError(
      `${variable}=${value} is not a working ${build.name} binary (\`${build.name} --version\` failed): point it at ${build.name} ${build.version}, or unset it to build one from Go modules`,
    );
  }
  const min = build.minVersion.split('.').map(Number);
  if (
    !atLeast(
      version.split('.').map((part) => parseInt(part, 10) || 0),
      min,
    )
  ) {
    throw new ProvisionError(
      `${variable}=${value} is ${build.name} ${version}, older than the ${build.minVersion} this needs: point it at ${build.name} ${build.version}, or unset it to build one from Go modules`,
    );
  }
  return { path: binary, version };
}

/**
 * Finds or builds kube-apiserver and etcd. Idempotent: a cached binary that reports the pinned version is
 * reused. `log` receives progress lines for the (slow) first build.
 */
export async function ensureKubeBinaries(
  config: KubeBinariesConfig,
  log: (line: string) => void,
): Promise<KubeBinaries> {
  const dir = path.join(config.cacheDir, 'kubernetes', KUBERNETES_VERSION);
  const etcd = config.ETCD
    ? await override('ETCD', config.ETCD, BUILDS.etcd)
    : await cachedOrBuilt(dir, BUILDS.etcd, log);
  const apiserver = config.KUBE_APISERVER
    ? await override('KUBE_APISERVER', config.KUBE_APISERVER, BUILDS.kubeApiserver)
    : await cachedOrBuilt(dir, BUILDS.kubeApiserver, log);
  return { kubeApiserver: apiserver.path, etcd: etcd.path, version: apiserver.version, etcdVersion: etcd.version };
}

async function cachedOrBuilt(
  dir: string,
  build: Build,
  log: (line: string) => void,
): Promise<{ path: string; version: string }> {
  const binary = path.join(dir, build.name);
  if (fs.existsSync(binary) && (await versionOf(binary, build.versionPattern)) === build.version) {
    return { path: binary, version: build.version };
  }
  await buildFromWrapper(
    {
      name: build.name,
      version: build.version,
      wrapper: build.wrapper,
      pkg: build.pkg,
      ldflags: build.ldflags,
      goMin: GO_MIN,
      estimate: build === BUILDS.kubeApiserver ? '~6-9 min' : '~1-2 min',
      overrideVariable: build === BUILDS.etcd ? 'ETCD to an etcd binary' : 'KUBE_APISERVER to a kube-apiserver binary',
    },
    binary,
    log,
  );
  const version = await versionOf(binary, build.versionPattern);
  if (version !== build.version) {
    throw new ProvisionError(
      `the ${build.name} built from Go modules reports version ${version ?? '(none)'} instead of ${build.version}: delete ${dir} and run again`,
    );
  }
  return { path: binary, version };
}

export interface KubeApiServerOptions {
  kubeApiserver: string;
  etcd: string;
  /** Working directory for etcd data, keys, the token file and the kubeconfig; created if missing. */
  dir: string;
  /** Where both processes' output lines go (prefixed with the process); `null` discards them. */
  onLine?: ((line: string) => void) | null;
  /** More kube-apiserver flags (tests: `--audit-policy-file`, `--audit-log-path`). */
  extraArgs?: string[];
}

export interface KubeApiServer extends KubeConnection {
  /** `https://127.0.0.1:<port>`. */
  url: string;
  /** A kubeconfig for the admin (system:masters) user, trusting the server's self-signed CA. */
  kubeconfigPath: string;
  token: string;
  /** The PEM bundle the server serves with (its self-signed certificate and CA). */
  ca: string;
  pids: { etcd: number; kubeApiserver: number };
  /** Stops kube-apiserver, then etcd, and removes what start created in `dir`. Safe to call twice. */
  stop(): Promise<void>;
}

/** How many of each process's last output lines a start-up failure quotes from. */
const TAIL_LINES = 40;

function tailed(name: string, onLine: KubeApiServerOptions['onLine']) {
  const lines: string[] = [];
  const sink = onLine === undefined ? prefixer(name) : onLine;
  return {
    lines,
    onLine: (line: string) => {
      if (line.trim()) lines.push(line);
      if (lines.length > TAIL_LINES) lines.shift();
      sink?.(onLine === undefined ? line : `[${name}] ${line}`);
    },
    /** The last line that looks like an error (else the last line), for a one-line failure message. */
    lastError: () =>
      [...lines].reverse().find((l) => /^E\d{4}|error|fatal|not defined|unknown flag/i.test(l)) ?? lines.at(-1),
  };
}

async function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

/**
 * Starts etcd and kube-apiserver on free loopback ports, with a static-token admin in system:masters, RBAC,
 * and a fresh service-account signing key; resolves once `/readyz` answers 200.
 */
export async function startKubeApiServer(options: KubeApiServerOptions): Promise<KubeApiServer> {
  const dir = path.resolve(options.dir);
  fs.mkdirSync(dir, { recursive: true });
  const created = ['etcd', 'certs', 'service-account.key', 'service-account.pub', 'tokens.csv', 'kubeconfig'];
  for (const f of created) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
  const children: ManagedProcess[] = [];
  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // kube-apiserver first: it keeps writing to etcd until it is gone.
      for (const child of [...children].reverse()) await child.stop('SIGTERM', 15_000);
      for (const f of created) fs.rmSync(path.join(dir, f), { recursive: true, force: true });
    })());

  try {
    const [clientPort, peerPort] = [await freePort(), await freePort()];
    const etcdUrl = `http://127.0.0.1:${clientPort}`;
    const peerUrl = `http://127.0.0.1:${peerPort}`;
    const etcdLog = tailed('etcd', options.onLine);
    const etcd = startProcess(
      'etcd',
      options.etcd,
      [
        '--name=spark-runner',
        `--data-dir=${path.join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=spark-runner=${peerUrl}`,
        // Throwaway data: skipping fsync keeps a busy two-core machine from stalling on disk flushes.
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      { onLine: etcdLog.onLine, stopSignal: 'SIGTERM' },
    );
    children.push(etcd);
    await waitFor(() => httpOk(`${etcdUrl}/health`), {
      timeoutMs: 30_000,
      message: `etcd did not become healthy on ${etcdUrl}`,
      exited: etcd.exited,
    }).catch(async (err: Error) => {
      await outputDrained(etcd);
      throw new Error(`${err.message}${describe(etcdLog.lastError())}`);
    });

    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const saKey = path.join(dir, 'service-account.key');
    const saPub = path.join(dir, 'service-account.pub');
    fs.writeFileSync(saKey, privateKey, { mode: 0o600 });
    fs.writeFileSync(saPub, publicKey);
    const token = crypto.randomBytes(24).toString('hex');
    const tokens = path.join(dir, 'tokens.csv');
    fs.writeFileSync(tokens, `${token},spark-runner-admin,spark-runner-admin,"system:masters"\n`, { mode: 0o600 });

    const port = await freePort();
    const url = `https://127.0.0.1:${port}`;
    const certDir = path.join(dir, 'certs');
    const apiLog = tailed('kube-apiserver', options.onLine);
    const startedAt = Date.now();
    const apiserver = startProcess(
      'kube-apiserver',
      options.kubeApiserver,
      [
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        // A loopback advertise address is only allowed without the endpoint reconciler; nothing needs the
        // in-cluster `kubernetes` Service endpoints here.
        '--advertise-address=127.0.0.1',
        '--endpoint-reconciler-type=none',
        `--etcd-servers=${etcdUrl}`,
        // No --tls-cert-file: the server writes a self-signed certificate and its CA for 127.0.0.1 here.
        `--cert-dir=${certDir}`,
        `--token-auth-file=${tokens}`,
        '--authorization-mode=RBAC',
        '--service-cluster-ip-range=10.96.0.0/16',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--profiling=false',
        ...(options.extraArgs ?? []),
      ],
      { onLine: apiLog.onLine, stopSignal: 'SIGTERM' },
    );
    children.push(apiserver);
    const certFile = path.join(certDir, 'apiserver.crt');
    let ca = '';
    await waitFor(
      async () => {
        // Re-read until ready: the first read may catch the file half-written.
        if (!fs.existsSync(certFile)) return false;
        ca = fs.readFileSync(certFile, 'utf8');
        const { status } = await kubeRequest({ url, token, ca }, 'GET', '/readyz', undefined, { timeoutMs: 5000 });
        return status === 200;
      },
      { timeoutMs: 120_000, message: `kube-apiserver did not become ready on ${url}`, exited: apiserver.exited },
    ).catch(async (err: Error) => {
      await outputDrained(apiserver);
      throw new Error(`${err.message}${describe(apiLog.lastError())}`);
    });
    options.onLine?.(`[kube-apiserver] ready on ${url} in ${Date.now() - startedAt} ms`);

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    fs.writeFileSync(kubeconfigPath, kubeconfig(url, token, ca), { mode: 0o600 });
    return {
      url,
      token,
      ca,
      kubeconfigPath,
      pids: { etcd: etcd.child.pid!, kubeApiserver: apiserver.child.pid! },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits (briefly) until a process that has exited has also closed its output, so its last lines are read. */
async function outputDrained(proc: ManagedProcess): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) return;
  const { stdout, stderr } = proc.child;
  if ((!stdout || stdout.closed) && (!stderr || stderr.closed)) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 2000);
    proc.child.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function describe(line: string | undefined): string {
  return line ? `; last output: ${line.trim().slice(0, 400)}` : '';
}

/** A kubeconfig for `url` that authenticates with a bearer token (the admin's, or a ServiceAccount's). */
export function kubeconfig(url: string, token: string, ca: string, user = 'spark-runner-admin'): string {
  return YAML.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'spark-runner',
        cluster: { server: url, 'certificate-authority-data': Buffer.from(ca).toString('base64') },
      },
    ],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'spark-runner', context: { cluster: 'spark-runner', user } }],
    'current-context': 'spark-runner',
  });
}
