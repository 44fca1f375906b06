/**
 * A minimal Kubernetes API client over node:https: bearer-token requests, kubeconfig reading, and installing
 * CustomResourceDefinitions from YAML. Enough for the test server; not a general client.
 */
import fs from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import YAML from 'yaml';
import { ProvisionError } from '../errors.js';

export interface KubeConnection {
  /** `https://host:port` of the API server. */
  url: string;
  token: string;
  /** PEM bundle to trust; without it the server certificate is checked against the system CAs. */
  ca?: string | undefined;
  insecureSkipTlsVerify?: boolean | undefined;
  /** The User-Agent of every request (the audit log tells clients apart by it). */
  userAgent?: string | undefined;
}

export interface KubeResponse {
  status: number;
  /** The parsed JSON body, or undefined when the body is not JSON. */
  body: unknown;
  text: string;
}

/** One request to the API server. A plain-object `body` is sent as JSON. Rejects only on transport errors. */
export async function kubeRequest(
  conn: KubeConnection,
  method: string,
  apiPath: string,
  body?: unknown,
  { contentType = 'application/json', timeoutMs = 30_000 }: { contentType?: string; timeoutMs?: number } = {},
): Promise<KubeResponse> {
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(apiPath, conn.url),
      {
        method,
        agent: false,
        ca: conn.ca,
        rejectUnauthorized: !conn.insecureSkipTlsVerify,
        timeout: timeoutMs,
        headers: {
          Authorization: `Bearer ${conn.token}`,
          Accept: 'application/json',
          ...(conn.userAgent ? { 'User-Agent': conn.userAgent } : {}),
          ...(payload === undefined
            ? {}
            : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = undefined;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${apiPath} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(payload);
  });
}

type Obj = Record<string, unknown>;

function isObj(value: unknown): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function field(value: unknown, ...keys: string[]): unknown {
  let current = value;
  for (const key of keys) current = isObj(current) ? current[key] : undefined;
  return current;
}

function named(list: unknown, name: unknown): Obj | undefined {
  return Array.isArray(list) ? (list as unknown[]).filter(isObj).find((e) => e.name === name) : undefined;
}

/** The server, token and CA of a kubeconfig's current context (token users only). */
export function readKubeconfig(kubeconfigPath: string): KubeConnection {
  const config: unknown = YAML.parse(fs.readFileSync(kubeconfigPath, 'utf8'));
  const context = field(named(field(config, 'contexts'), field(config, 'current-context')), 'context');
  const cluster = field(named(field(config, 'clusters'), field(context, 'cluster')), 'cluster');
  const user = field(named(field(config, 'users'), field(context, 'user')), 'user');
  const url = field(cluster, 'server');
  const token = field(user, 'token');
  if (typeof url !== 'string' || typeof token !== 'string') {
    throw new ProvisionError(`${kubeconfigPath}: the current context needs a cluster server and a user token`);
  }
  const caData = field(cluster, 'certificate-authority-data');
  const caFile = field(cluster, 'certificate-authority');
  const ca =
    typeof caData === 'string'
      ? Buffer.from(caData, 'base64').toString('utf8')
      : typeof caFile === 'string'
        ? fs.readFileSync(path.resolve(path.dirname(kubeconfigPath), caFile), 'utf8')
        : undefined;
  return { url, token, ca, insecureSkipTlsVerify: field(cluster, 'insecure-skip-tls-verify') === true };
}

function statusMessage(res: KubeResponse): string {
  const message = field(res.body, 'message');
  return `HTTP ${res.status}: ${typeof message === 'string' ? message : res.text.slice(0, 300)}`;
}

const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';

/**
 * Creates (or replaces) every CustomResourceDefinition in a YAML file, then waits until each is Established
 * and each served version answers a list request. Resolves with the CRD names.
 */
export async function installCrd(
  target: string | KubeConnection,
  crdYamlPath: string,
  { timeoutMs = 60_000 }: { timeoutMs?: number } = {},
): Promise<string[]> {
  const conn = typeof target === 'string' ? readKubeconfig(target) : target;
  let text: string;
  try {
    text = fs.readFileSync(crdYamlPath, 'utf8');
  } catch {
    throw new ProvisionError(
      `CRD file ${crdYamlPath} is not readable: check the path (anchors live in ../shared/anchors)`,
    );
  }
  const crds: Obj[] = [];
  for (const doc of YAML.parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new ProvisionError(`${crdYamlPath} is not valid YAML: ${doc.errors[0]!.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: -1 });
    if (value === null || value === undefined) continue;
    if (!isObj(value) || value.kind !== 'CustomResourceDefinition') {
      throw new ProvisionError(`${crdYamlPath} holds something other than a CustomResourceDefinition`);
    }
    crds.push(value);
  }
  if (crds.length === 0) throw new ProvisionError(`${crdYamlPath} holds no CustomResourceDefinition`);

  const names: string[] = [];
  for (const crd of crds) {
    const name = String(field(crd, 'metadata', 'name'));
    let res = await kubeRequest(conn, 'POST', CRDS, crd);
    if (res.status === 409) {
      const existing = await kubeRequest(conn, 'GET', `${CRDS}/${name}`);
      const resourceVersion = field(existing.body, 'metadata', 'resourceVersion');
      const metadata = { ...(crd.metadata as Obj), resourceVersion };
      res = await kubeRequest(conn, 'PUT', `${CRDS}/${name}`, { ...crd, metadata });
    }
    if (res.status < 200 || res.status >= 300) throw new Error(`installing CRD ${name} failed: ${statusMessage(res)}`);
    await waitEstablished(conn, name, timeoutMs);
    names.push(name);
  }
  return names;
}

async function waitEstablished(conn: KubeConnection, name: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no status yet';
  while (Date.now() < deadline) {
    const res = await kubeRequest(conn, 'GET', `${CRDS}/${name}`);
    const conditions = field(res.body, 'status', 'conditions');
    const list = Array.isArray(conditions) ? (conditions as unknown[]).filter(isObj) : [];
    const names = list.find((c) => c.type === 'NamesAccepted');
    if (names?.status === 'False') throw new Error(`CRD ${name} names not accepted: ${String(names.message)}`);
    const established = list.find((c) => c.type === 'Established');
    last = established ? `Established=${String(established.status)} (${String(established.message)})` : last;
    if (established?.status === 'True') {
      // Established can lead the handler by a moment: wait until every served version lists.
      const group = String(field(res.body, 'spec', 'group'));
      const plural = String(field(res.body, 'spec', 'names', 'plural'));
      const versions = field(res.body, 'spec', 'versions');
      const served = (Array.isArray(versions) ? (versions as unknown[]).filter(isObj) : []).filter((v) => v.served);
      const lists = await Promise.all(
        served.map((v) => kubeRequest(conn, 'GET', `/apis/${group}/${String(v.name)}/${plural}?limit=1`)),
      );
      if (lists.every((l) => l.status === 200)) return;
      last = `Established, but listing ${plural} answers ${lists.map((l) => l.status).join('/')}`;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`CRD ${name} was not established within ${timeoutMs} ms: ${last}`);
}
