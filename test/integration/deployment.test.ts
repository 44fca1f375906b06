/**
 * The deployment files are real and consistent: the Helm chart renders (default values and the multi-domain CI
 * values) and a real kube-apiserver accepts every rendered object in a server-side dry run; docker-compose.yml
 * passes a real Compose implementation's `config`; every entry point the Dockerfile, compose file and chart run
 * exists in the package. helm is built from Go modules and Compose installed by provision/deploy-tools on first use.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ensureCompose, ensureHelm } from '../../provision/deploy-tools/index.js';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { startTestKube } from '../helpers/kube.js';

const run = promisify(execFile);
const CHART = path.resolve('helm/spark-runner');
const RELEASE_NS = 'spark-runner';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  spec?: unknown;
}

let helm: string;
let compose: string[];
let server: KubeApiServer;
const log = (line: string) => console.log(`[deploy-tools] ${line}`);

beforeAll(async () => {
  let t = Date.now();
  helm = await ensureHelm({}, log);
  log(`helm ready in ${Date.now() - t} ms`);
  t = Date.now();
  compose = await ensureCompose({}, log);
  log(`compose (${compose.join(' ')}) ready in ${Date.now() - t} ms`);
  server = await startTestKube('deployment', [RELEASE_NS]);
});

afterAll(async () => {
  await server?.stop();
});

async function render(valuesFile?: string): Promise<KubeObject[]> {
  const args = ['template', 'sr', CHART, '--namespace', RELEASE_NS];
  if (valuesFile) args.push('-f', path.join(CHART, valuesFile));
  const { stdout } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

/** The REST collection path for an object, from its apiVersion and kind. */
function collectionPath(obj: KubeObject): string {
  const base = obj.apiVersion === 'v1' ? '/api/v1' : `/apis/${obj.apiVersion}`;
  const lower = obj.kind.toLowerCase();
  const plural = lower.endsWith('s') ? `${lower}es` : `${lower}s`;
  if (CLUSTER_SCOPED.has(obj.kind)) return `${base}/${plural}`;
  return `${base}/namespaces/${obj.metadata.namespace ?? RELEASE_NS}/${plural}`;
}

async function crdExists(group: string): Promise<boolean> {
  const res = await kubeRequest(server, 'GET', `/apis/${group}`);
  return res.status === 200;
}

const createdNamespaces = new Set<string>();

async function ensureNamespace(name: string): Promise<void> {
  const res = await kubeRequest(server, 'POST', '/api/v1/namespaces', { metadata: { name } });
  expect([201, 409], `namespace ${name}: ${res.text}`).toContain(res.status);
  createdNamespaces.add(name);
}

/**
 * Dry-runs every object. Namespaces the chart creates are dry-run, then created for real so the objects inside
 * them can be dry-run. Returns the kinds skipped because their CRD is not installed (only ServiceMonitor).
 */
async function dryRunAll(objects: KubeObject[]): Promise<string[]> {
  const skipped: string[] = [];
  const namespaces = objects.filter((o) => o.kind === 'Namespace');
  for (const ns of namespaces) {
    const res = await kubeRequest(server, 'POST', `${collectionPath(ns)}?dryRun=All`, ns);
    if (!(res.status === 409 && createdNamespaces.has(ns.metadata.name))) {
      expect(res.status, `dry run Namespace ${ns.metadata.name}: ${res.text}`).toBe(201);
    }
    await ensureNamespace(ns.metadata.name);
  }
  for (const obj of objects.filter((o) => o.kind !== 'Namespace')) {
    if (obj.kind === 'ServiceMonitor' && !(await crdExists('monitoring.coreos.com'))) {
      // The Prometheus Operator's CRDs are not installed on the test API server: the ServiceMonitor is not
      // checked by the server (it is still rendered and parsed above).
      skipped.push(obj.kind);
      continue;
    }
    const res = await kubeRequest(server, 'POST', `${collectionPath(obj)}?dryRun=All`, obj);
    expect(res.status, `dry run ${obj.kind} ${obj.metadata.name}: ${res.text}`).toBe(201);
  }
  return skipped;
}

/** Script paths (.ts/.js) in a container's argv. */
function scripts(argv: unknown[]): string[] {
  return argv.filter((a): a is string => typeof a === 'string' && /\.(ts|js)$/.test(a));
}

function containerArgv(objects: KubeObject[]): string[][] {
  const out: string[][] = [];
  for (const o of objects) {
    if (o.kind !== 'Deployment') continue;
    const spec = o.spec as { template: { spec: { containers: { command?: string[]; args?: string[] }[] } } };
    for (const c of spec.template.spec.containers) out.push([...(c.command ?? []), ...(c.args ?? [])]);
  }
  return out;
}

describe('helm chart', () => {
  it('renders with default values and the API server accepts every object', async () => {
    const objects = await render();
    const kinds = objects.map((o) => o.kind);
    for (const kind of [
      'ServiceAccount',
      'ConfigMap',
      'Secret',
      'Service',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'ClusterRole',
      'RoleBinding',
      'Role',
    ]) {
      expect(kinds).toContain(kind);
    }
    expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(2);
    expect(kinds).not.toContain('Ingress');
    expect(kinds).not.toContain('ServiceMonitor');
    // The default domain namespace is a prerequisite with default values (createNamespaces: false).
    await ensureNamespace('sjns-default');
    expect(await dryRunAll(objects)).toEqual([]);

    const role = objects.find((o) => o.kind === 'Role') as unknown as {
      rules: { resources: string[]; verbs: string[] }[];
    };
    expect(role.rules).toEqual([
      expect.objectContaining({ resources: ['leases'], verbs: ['get', 'create', 'update'] }),
    ]);
  });

  it('renders with the multi-domain values and the API server accepts every object', async () => {
    const objects = await render('ci/multi-domain-values.yaml');
    const inNs = (kind: string) =>
      objects
        .filter((o) => o.kind === kind)
        .map((o) => o.metadata.namespace ?? '')
        .sort();
    const domainNs = ['sjns-ads', 'sjns-default', 'sjns-payments'];
    expect(
      objects
        .filter((o) => o.kind === 'Namespace')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(domainNs);
    expect(inNs('ResourceQuota')).toEqual(domainNs);
    expect(inNs('LimitRange')).toEqual(domainNs);
    expect(inNs('RoleBinding')).toEqual([...domainNs, RELEASE_NS].sort());
    expect(objects.map((o) => o.kind)).toEqual(expect.arrayContaining(['Ingress', 'ServiceMonitor']));
    const skipped = await dryRunAll(objects);
    // Only the ServiceMonitor may be skipped, and only because monitoring.coreos.com is not installed.
    expect(skipped).toEqual(['ServiceMonitor']);
  });

  it('documents every value with a comment', () => {
    const lines = fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8').split('\n');
    // A key with a value on its line (not a section header) must have a comment on the line above.
    const undocumented = lines.filter(
      (line, i) => /^\s*[A-Za-z_][\w.-]*:\s*\S/.test(line) && !/^\s*#/.test(lines[i - 1] ?? ''),
    );
    expect(undocumented).toEqual([]);
  });
});

describe('docker-compose.yml', () => {
  it('validates with a real Compose implementation', async () => {
    const [cmd, ...pre] = compose;
    await run(cmd!, [...pre, '-f', 'docker-compose.yml', 'config', '-q'], {
      env: { ...process.env, API_TOKENS: 'ci:data-infra:admin:not-a-real-token' },
    });
    const { stdout } = await run(cmd!, [...pre, '-f', 'docker-compose.yml', 'config', '--services'], {
      env: { ...process.env, API_TOKENS: 'ci:data-infra:admin:not-a-real-token' },
    });
    // Without API_TOKENS the file refuses to resolve (the API would not start without a token).
    const missing = await run(cmd!, [...pre, '-f', 'docker-compose.yml', 'config', '-q'], {
      env: { ...process.env, API_TOKENS: '' },
    }).then(
      () => undefined,
      (err: { stderr?: string }) => err.stderr ?? '',
    );
    expect(missing).toMatch(/API_TOKENS/);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual(
      ['api', 'postgres', 'temporal', 'temporal-admin-tools', 'temporal-ui', 'worker'].sort(),
    );
  });
});

describe('entry points', () => {
  it('every script the Dockerfile, compose file and chart run exists in the package', async () => {
    const dockerfile = fs.readFileSync('Dockerfile', 'utf8');
    const instr = (name: string) => {
      const m = new RegExp(`^${name}\\s+(\\[.*\\])\\s*$`, 'm').exec(dockerfile);
      return m ? (JSON.parse(m[1]!) as string[]) : [];
    };
    const entrypoint = instr('ENTRYPOINT');
    expect(entrypoint).toEqual(['node', '--import', 'tsx']);
    const argvs: string[][] = [[...entrypoint, ...instr('CMD')]];

    const composeFile = parseYaml(fs.readFileSync('docker-compose.yml', 'utf8')) as {
      services: Record<string, { command?: string[]; build?: unknown; image?: string }>;
    };
    for (const name of ['api', 'worker']) argvs.push([...entrypoint, ...(composeFile.services[name]!.command ?? [])]);
    for (const values of [undefined, 'ci/multi-domain-values.yaml']) argvs.push(...containerArgv(await render(values)));

    const referenced = new Set(argvs.flatMap(scripts));
    expect([...referenced].sort()).toEqual(['bin/api.ts', 'bin/worker.ts']);
    for (const file of referenced) expect(fs.existsSync(file), `${file} exists`).toBe(true);
    // `--import tsx` needs tsx as a runtime dependency (the image installs --omit=dev).
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.tsx).toBeDefined();
    // Every chart container uses the image's node --import tsx launcher.
    for (const argv of argvs) expect(argv.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
  });
});
