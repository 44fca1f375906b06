/**
 * The deployment files are real and consistent: the Helm chart renders (default values and the multi-domain CI
 * values) and a real kube-apiserver accepts every rendered object in a server-side dry run; every setting the
 * chart and the compose file pass is one the product's config parser knows and accepts; docker-compose.yml
 * passes a real Compose implementation's `config`. helm is built from Go modules and Compose installed by
 * provision/deploy-tools on first use. test/integration/deployed-processes.test.ts runs what the chart deploys.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMap, parseDocument, parse as parseYaml, visit } from 'yaml';
import { ConfigSchema, loadConfig } from '../../config/index.js';
import { loadGatewayConfig } from '../../gateway/clusters.js';
import { ensureCompose, ensureHelm } from '../../provision/deploy-tools/index.js';
import { kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import {
  CHART,
  createObject,
  deploymentContainers,
  only,
  RELEASE_NS,
  renderChart,
  type Container,
  type EnvVar,
  type KubeObject,
} from '../helpers/chart.js';
import { startTestKube } from '../helpers/kube.js';

const run = promisify(execFile);

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

/**
 * Keys of a values file whose value is a setting (not a section of more keys) and that have no comment above
 * them: on the key, or on its map when it is the map's first key. Keys inside a flow map like `{ cpu: 100m }`
 * share their parent's comment.
 */
function undocumentedKeys(text: string): string[] {
  const undocumented: string[] = [];
  visit(parseDocument(text), {
    Pair(_, pair, ancestors) {
      const parent = ancestors.at(-1);
      if (!isMap(parent) || parent.flow) return;
      const section = isMap(pair.value) && !pair.value.flow;
      const key = pair.key as { commentBefore?: string | null; value?: unknown };
      const comment = key.commentBefore ?? (parent.items[0] === pair ? parent.commentBefore : undefined);
      if (!section && !comment) undocumented.push(String(key.value));
    },
  });
  return undocumented;
}

const render = (valuesFile?: string) => renderChart(helm, valuesFile ? [valuesFile] : []);

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
  for (const ns of objects.filter((o) => o.kind === 'Namespace')) {
    const res = await createObject(server, ns, true);
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
    const res = await createObject(server, obj, true);
    expect(res.status, `dry run ${obj.kind} ${obj.metadata.name}: ${res.text}`).toBe(201);
  }
  return skipped;
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
      'ClusterRoleBinding',
    ]) {
      expect(kinds).toContain(kind);
    }
    // One image, three entry points: the API, the worker and the status watcher.
    expect([...deploymentContainers(objects).keys()].sort()).toEqual(['api', 'watcher', 'worker']);
    expect(kinds.filter((k) => k === 'PodDisruptionBudget')).toHaveLength(3);
    expect(kinds.filter((k) => k === 'HorizontalPodAutoscaler')).toHaveLength(2);
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

  it("has the ServiceMonitor scrape /metrics of the API, the workers (theirs and Temporal Core's) and the watchers, on ports their pods open", async () => {
    const objects = await render('ci/multi-domain-values.yaml');
    type Port = { name: string; port?: number; containerPort?: number; targetPort?: string };
    const monitor = objects.find((o) => o.kind === 'ServiceMonitor')!;
    const spec = monitor.spec as {
      selector: { matchExpressions: { key: string; values: string[] }[] };
      endpoints: { port: string; path: string }[];
    };
    expect(spec.selector.matchExpressions[0]!.values.sort()).toEqual(['api', 'watcher', 'worker']);
    const endpointPorts = spec.endpoints.map((e) => `${e.port} ${e.path}`).sort();
    expect(endpointPorts).toEqual(['core-metrics /metrics', 'http /metrics', 'metrics /metrics']);
    const services = objects.filter((o) => o.kind === 'Service');
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    for (const component of ['api', 'worker', 'watcher']) {
      const service = services.find((o) => o.metadata.labels?.['app.kubernetes.io/component'] === component)!;
      const [port] = (service.spec as { ports: Port[] }).ports;
      expect(['http', 'metrics'], component).toContain(port!.name);
      const deployment = deployments.find((o) => o.metadata.labels?.['app.kubernetes.io/component'] === component)!;
      const pod = (deployment.spec as { template: { spec: { containers: { ports?: Port[]; env?: EnvVar[] }[] } } })
        .template.spec.containers[0]!;
      expect(
        pod.ports?.map((p) => p.name),
        component,
      ).toContain(port!.targetPort);
      if (component === 'worker') {
        const env = Object.fromEntries((pod.env ?? []).map((e) => [e.name, e.value]));
        expect(env.WORKER_METRICS_PORT).toBe(String(pod.ports!.find((p) => p.name === 'metrics')!.containerPort));
        expect(env.WORKER_METRICS_HOST).toBe('0.0.0.0');
        // Temporal's own metrics: the Core's listener on the port the Service names `core-metrics`.
        const core = (service.spec as { ports: Port[] }).ports.find((p) => p.name === 'core-metrics')!;
        const corePort = pod.ports!.find((p) => p.name === core.targetPort)!.containerPort;
        expect(env.TEMPORAL_CORE_METRICS_ADDRESS).toBe(`0.0.0.0:${corePort}`);
      }
    }
  });

  it('passes helm lint --strict with the default and the multi-domain values', async () => {
    for (const values of [[], ['-f', path.join(CHART, 'ci/multi-domain-values.yaml')]]) {
      const { stdout } = await run(helm, ['lint', '--strict', CHART, ...values]);
      expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('renders the optional History Server Deployment and Service, which pass lint and the API server accepts', async () => {
    const sets = [
      'historyServer.enabled=true',
      'historyServer.logDirectory=s3a://spark-events/',
      'historyServer.maxAgeDays=14',
    ];
    const objects = await renderChart(helm, [], sets);
    const [container] = deploymentContainers(objects).get('history-server')!;
    expect(container!.command).toEqual(['/opt/spark/bin/spark-class']);
    expect(container!.args).toEqual(['org.apache.spark.deploy.history.HistoryServer']);
    const opts = container!.env!.find((e) => e.name === 'SPARK_HISTORY_OPTS')!.value!.split(' ');
    expect(opts).toEqual(
      expect.arrayContaining([
        '-Dspark.history.fs.logDirectory=s3a://spark-events/',
        '-Dspark.history.fs.cleaner.enabled=true',
        '-Dspark.history.fs.cleaner.maxAge=14d',
        '-Dspark.history.ui.port=18080',
      ]),
    );
    const own = objects.filter((o) => o.metadata.name.endsWith('-history-server'));
    expect(own.map((o) => o.kind).sort()).toEqual(['Deployment', 'Service']);
    expect(await dryRunAll(own)).toEqual([]);
    const { stdout } = await run(helm, ['lint', '--strict', CHART, ...sets.flatMap((s) => ['--set', s])]);
    expect(stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    // Off by default.
    expect([...deploymentContainers(await render()).keys()]).not.toContain('history-server');
  });

  it('documents every value with a comment', () => {
    expect(undocumentedKeys(fs.readFileSync(path.join(CHART, 'values.yaml'), 'utf8'))).toEqual([]);
    // The check finds a value without a comment.
    expect(undocumentedKeys('a:\n  # -- documented\n  b: 1\n  c: { d: 2 }\n')).toEqual(['c']);
  });

  it("passes only settings the product knows, and the product's parsers accept them", async () => {
    const known = new Set(Object.keys(ConfigSchema.shape));
    const tmp = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'chart-config-'));
    for (const values of [undefined, 'ci/multi-domain-values.yaml']) {
      const objects = await render(values);
      const configMap = only(objects, 'ConfigMap').data ?? {};
      for (const [component, containers] of deploymentContainers(objects)) {
        for (const container of containers) {
          const env: Record<string, string> = { ...configMap };
          for (const v of container.env ?? []) env[v.name] = v.value ?? `from-secret-${v.name}`;
          const unknown = Object.keys(env).filter((k) => !known.has(k));
          expect(unknown, `${component}: variables no config key reads`).toEqual([]);
          expect(() => loadConfig(env), `${component} config`).not.toThrow();
        }
      }
      // The clusters file in the Secret is one the gateway loads.
      const clusters = only(objects, 'Secret').stringData?.['clusters.yaml'];
      expect(clusters, 'a clusters file by default').toBeDefined();
      const file = path.join(tmp, `${values ? 'multi' : 'default'}-clusters.yaml`);
      fs.writeFileSync(file, clusters!);
      expect(loadGatewayConfig(file).clusters.map((c) => c.inCluster)).toEqual([true]);
    }
    // The Temporal set-up hook Job and every Deployment get the same Temporal TLS files and API key, all known.
    const secured = await renderChart(
      helm,
      [],
      ['temporalTls.secretName=temporal-tls', 'temporalApiKey.secretName=key'],
    );
    const setupJob = secured.find((o) => o.kind === 'Job')!;
    const jobContainer = (setupJob.spec as { template: { spec: { containers: Container[] } } }).template.spec
      .containers[0]!;
    const temporalEnv = (c: Container) => (c.env ?? []).filter((v) => /^TEMPORAL_(TLS|API)/.test(v.name));
    expect(temporalEnv(jobContainer).map((v) => v.name)).toEqual([
      'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_CERT_PATH',
      'TEMPORAL_TLS_CLIENT_KEY_PATH',
      'TEMPORAL_API_KEY',
    ]);
    for (const [component, [container]] of deploymentContainers(secured)) {
      expect(temporalEnv(container!), component).toEqual(temporalEnv(jobContainer));
    }
    const jobEnv: Record<string, string> = {};
    for (const v of jobContainer.env ?? []) jobEnv[v.name] = v.value ?? `from-secret-${v.name}`;
    expect(Object.keys(jobEnv).filter((k) => !known.has(k))).toEqual([]);
    expect(() => loadConfig(jobEnv)).not.toThrow();
    // Workers leave the watch to the watcher Deployment; the watcher serves its probes on the watcher port.
    const containers = deploymentContainers(await render());
    expect(containers.get('worker')![0]!.env).toContainEqual({ name: 'WORKER_WATCHES_KUBERNETES', value: 'false' });
    expect(containers.get('watcher')![0]!.env).toContainEqual({ name: 'WATCHER_PORT', value: '8081' });
    // Without the watcher Deployment, the workers watch (one per cluster, through the Lease).
    const withoutWatcher = await renderChart(helm, [], ['watcher.enabled=false']);
    expect([...deploymentContainers(withoutWatcher).keys()].sort()).toEqual(['api', 'worker']);
    expect(
      deploymentContainers(withoutWatcher)
        .get('worker')![0]!
        .env?.map((e) => e.name),
    ).not.toContain('WORKER_WATCHES_KUBERNETES');
    expect(only(withoutWatcher, 'ConfigMap').data?.WATCH_LEASE_NAMESPACE).toBe(RELEASE_NS);
    expect(withoutWatcher.filter((o) => o.kind === 'PodDisruptionBudget')).toHaveLength(2);
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
      ['api', 'postgres', 'temporal', 'temporal-admin-tools', 'temporal-setup', 'temporal-ui', 'worker'].sort(),
    );
    // Spark Runner's services get only variables its config knows, and the config accepts them.
    const file = parseYaml(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { environment?: Record<string, string> }>;
    };
    const known = new Set(Object.keys(ConfigSchema.shape));
    for (const name of ['api', 'worker', 'temporal-setup']) {
      const env = { ...file.services[name]!.environment, API_TOKENS: 'ci:data-infra:admin:not-a-real-token' };
      expect(Object.keys(env).filter((k) => !known.has(k))).toEqual([]);
      expect(() => loadConfig(env)).not.toThrow();
    }
  });
});
