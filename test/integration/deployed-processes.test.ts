/**
 * What the Helm chart deploys, run for real from the built package (`npm run build`, the image's /app):
 * - every entry point the Dockerfile, the compose file and the chart run exists in the built package;
 * - the chart's objects are created on a real kube-apiserver (RBAC on), and the API, worker and two watcher
 *   replicas start as the chart's Deployments start them (`node bin/<entry>.js` in /app, the ConfigMap and the
 *   container env), authenticated as the chart's ServiceAccount through a token the API server issues for it, so
 *   the chart's RBAC is what lets them work;
 * - no Spark is installed for them (the chart sets LOCAL_BACKEND_ENABLED=false, as an image built without Spark);
 * - a job submitted through the API becomes a SparkApplication, and only the watcher's signal can finish it (the
 *   workers do not watch, and their safety-net poll is an hour); exactly one watcher replica leads the cluster,
 *   and when it stops the standby takes over.
 * - the compose file's api and worker, started with the image's environment (as BuildKit's frontend computes it
 *   for compose's build arguments) plus the services' own, run SparkPi on real local Spark, connected as the
 *   non-superuser owner of the database compose's Postgres init script creates.
 * What cannot run here: containers (no Docker engine), pods (no kubelet) and the Spark operator, whose status
 * updates the test-only stand-in in test/helpers/operator-standin.ts writes. Temporal and Postgres are the suite's real servers; a few settings are
 * replaced to reach them (addresses, ports, files), and listed in `overrides` below.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import YAML from 'yaml';
import pg from 'pg';
import { hashToken } from '../../api/auth.js';
import { ensureDockerfileCheck, inspectDockerfile } from '../../provision/deploy-tools/dockerfile.js';
import { ensureHelm } from '../../provision/deploy-tools/index.js';
import { kubeconfig, kubeRequest, type KubeApiServer } from '../../provision/kubernetes/index.js';
import { freePort, startProcess, waitFor, type ManagedProcess } from '../../provision/process.js';
import {
  createObject,
  deploymentContainers,
  only,
  RELEASE_NS,
  renderChart,
  type Container,
  type KubeObject,
} from '../helpers/chart.js';
import { startTestKube } from '../helpers/kube.js';
import { createOperatorStandIn, SEQUENCES } from '../helpers/operator-standin.js';
import { eventually } from '../helpers/stack.js';

const run = promisify(execFile);
type Env = Record<string, string>;
const DOMAIN_NS = 'sjns-default';
const TOKEN = crypto.randomBytes(16).toString('hex');

let helm: string;
let server: KubeApiServer;
let objects: KubeObject[];
let pkg: string;
let tmp: string;
const processes: ManagedProcess[] = [];
const output = new Map<string, string[]>();

beforeAll(async () => {
  tmp = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'deployed-'));
  helm = await ensureHelm({}, (line) => console.log(`[deploy-tools] ${line}`));
  server = await startTestKube('deployed', [RELEASE_NS, DOMAIN_NS]);
  // The image's /app: the built package, with the production dependencies beside it.
  pkg = path.join(tmp, 'app');
  const started = Date.now();
  await run(process.execPath, ['--import', 'tsx', 'bin/build.ts', '--out-dir', pkg], { maxBuffer: 16 << 20 });
  console.log(`[build] npm run build took ${Date.now() - started} ms`);
  fs.symlinkSync(path.resolve('node_modules'), path.join(pkg, 'node_modules'));
  fs.symlinkSync(path.resolve('examples'), path.join(pkg, 'examples')); // the Dockerfile's COPY examples
  objects = await renderChart(helm);
}, 180_000);

afterAll(async () => {
  await Promise.allSettled(processes.map((p) => p.stop('SIGTERM', 5000)));
  await server?.stop();
});

const processOutput = () => [...output.entries()].map(([k, v]) => `${k}: ${v.join(' | ')}`).join('; ');

/** Script paths (.ts/.js) in an argv. */
const scripts = (argv: string[]) => argv.filter((a) => /\.(ts|js)$/.test(a));

describe('the built package', () => {
  it('holds every entry point the Dockerfile, the compose file and the chart run', () => {
    const dockerfile = fs.readFileSync('Dockerfile', 'utf8');
    const instr = (name: string) => {
      const m = new RegExp(`^${name}\\s+(\\[.*\\])\\s*$`, 'm').exec(dockerfile);
      return m ? (JSON.parse(m[1]!) as string[]) : [];
    };
    const entrypoint = instr('ENTRYPOINT');
    expect(entrypoint).toEqual(['node']);
    const argvs: string[][] = [[...entrypoint, ...instr('CMD')]];
    const compose = YAML.parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { command?: string[] }>;
    };
    for (const name of ['api', 'worker', 'temporal-setup']) {
      argvs.push([...entrypoint, ...(compose.services[name]!.command ?? [])]);
    }
    const setupJobs = objects.filter((o) => o.kind === 'Job');
    const jobContainers = setupJobs.flatMap(
      (o) => (o.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers,
    );
    for (const containers of [...deploymentContainers(objects).values(), jobContainers]) {
      for (const c of containers) argvs.push([...(c.command ?? []), ...(c.args ?? [])]);
    }
    for (const argv of argvs) expect(argv[0], argv.join(' ')).toBe('node');
    const referenced = [...new Set(argvs.flatMap(scripts))].sort();
    // The Temporal set-up (compose's one-shot service, the chart's hook Job) is the CLI.
    expect(referenced).toEqual(['bin/api.js', 'bin/spark-runner.js', 'bin/watcher.js', 'bin/worker.js']);
    for (const file of referenced) expect(fs.existsSync(path.join(pkg, file)), `${file} in the package`).toBe(true);
    // What they need at run time is there too: the migrations, the prebuilt workflow bundle and package.json.
    for (const file of ['package.json', 'migrations/meta/_journal.json', 'workflows/bundle.js']) {
      expect(fs.existsSync(path.join(pkg, file)), `${file} in the package`).toBe(true);
    }
  });
});

/**
 * Starts an entry point of the built package the way a container runs it: `argv` (starting with `node`) in the
 * image's /app, with exactly `env` (nothing inherited from this process).
 */
function startEntryPoint(name: string, argv: string[], env: Record<string, string>): ManagedProcess {
  expect(argv[0]).toBe('node');
  const lines: string[] = [];
  output.set(name, lines);
  const proc = startProcess(name, process.execPath, argv.slice(1), {
    cwd: pkg,
    env,
    onLine: (line) => lines.push(line),
  });
  processes.push(proc);
  return proc;
}

async function ready(url: string, proc: ManagedProcess, what: string): Promise<void> {
  await waitFor(async () => (await fetch(`${url}/readyz`)).ok, {
    timeoutMs: 60_000,
    message: `${what} to be ready; process output: ${processOutput()}`,
    exited: proc.exited,
  });
}

/** Calls the API as the admin of TOKEN. */
async function call(apiUrl: string, method: string, route: string, body?: unknown) {
  const res = await fetch(`${apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: (text.startsWith('{') ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** Waits for an execution to end, through the API; fails with the processes' output. */
async function finished(apiUrl: string, id: string, timeoutMs = 60_000) {
  return eventually(
    `execution ${id} to finish`,
    async () => {
      const res = await call(apiUrl, 'GET', `/api/v1/executions/${id}`);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(res.json.status as string) ? res.json : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; process output: ${processOutput()}`);
  });
}

/** A token the API server issues for a ServiceAccount, like the one mounted into the chart's pods. */
async function serviceAccountToken(namespace: string, name: string): Promise<string> {
  const res = await kubeRequest(server, 'POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  });
  expect(res.status, res.text).toBe(201);
  return (res.body as { status: { token: string } }).status.token;
}

function kubeconfigFor(token: string, user: string): string {
  const file = path.join(tmp, `${user.replace(/[^a-z0-9-]/gi, '-')}.kubeconfig`);
  fs.writeFileSync(file, kubeconfig(server.url, token, server.ca, user), { mode: 0o600 });
  return file;
}

describe('the chart deployed', () => {
  let apiUrl: string;
  const watchers: { proc: ManagedProcess; url: string }[] = [];

  beforeAll(async () => {
    for (const obj of objects) {
      const res = await createObject(server, obj);
      expect(res.status, `${obj.kind} ${obj.metadata.name}: ${res.text}`).toBe(201);
    }
    const serviceAccount = only(objects, 'ServiceAccount').metadata.name;
    const saKubeconfig = kubeconfigFor(
      await serviceAccountToken(RELEASE_NS, serviceAccount),
      `system:serviceaccount:${RELEASE_NS}:${serviceAccount}`,
    );
    // The chart's clusters file names the cluster it is installed in (inCluster: true); here the same identity
    // reaches the test API server through a kubeconfig instead of the pod's mounted token.
    const secret = only(objects, 'Secret').stringData!;
    const clusters = YAML.parse(secret['clusters.yaml']!) as { clusters: Record<string, unknown>[] };
    expect(clusters.clusters).toHaveLength(1);
    const { inCluster, ...cluster } = clusters.clusters[0]!;
    expect(inCluster).toBe(true);
    const clustersFile = path.join(tmp, 'clusters.yaml');
    fs.writeFileSync(
      clustersFile,
      YAML.stringify({ ...clusters, clusters: [{ ...cluster, kubeconfig: saKubeconfig }] }),
    );
    const tokensFile = path.join(tmp, 'api-tokens.json');
    fs.writeFileSync(tokensFile, JSON.stringify([{ name: 'ci', team: '*', role: 'admin', sha256: hashToken(TOKEN) }]));

    const configMap = only(objects, 'ConfigMap').data!;
    const containers = deploymentContainers(objects);
    const taskQueue = `deployed-${crypto.randomUUID().slice(0, 8)}`;
    const start = async (component: string, replica = 0) => {
      const container: Container = containers.get(component)![0]!;
      const env: Record<string, string> = { PATH: process.env.PATH!, HOME: process.env.HOME!, ...configMap };
      for (const v of container.env ?? []) if (v.value !== undefined) env[v.name] = v.value;
      const port = String(await freePort());
      // Settings replaced to reach this test's servers and files (everything else is the chart's).
      const overrides = {
        DATABASE_URL: process.env.DATABASE_URL!, // the chart's comes from its Secret
        TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
        TEMPORAL_TASK_QUEUE: taskQueue,
        API_TOKENS_FILE: tokensFile,
        GATEWAY_CONFIG: clustersFile,
        SPARK_RUNNER_DATA: path.join(tmp, `data-${component}-${replica}`),
        API_HOST: '127.0.0.1',
        API_PORT: port,
        WATCHER_HOST: '127.0.0.1',
        WATCHER_PORT: port,
        // The chart's worker metrics port is fixed (9464): any free one here.
        WORKER_METRICS_HOST: '127.0.0.1',
        WORKER_METRICS_PORT: '0',
        // Only a watcher signal can finish an execution within the test.
        STATUS_POLL_INTERVAL_MS: '3600000',
        GATEWAY_HEALTH_INTERVAL_MS: '500',
        LOG_LEVEL: 'warn',
      };
      const proc = startEntryPoint(
        `${component}-${replica}`,
        [...(container.command ?? []), ...(container.args ?? [])],
        {
          ...env,
          ...overrides,
        },
      );
      return { proc, url: `http://127.0.0.1:${port}` };
    };
    const api = await start('api');
    apiUrl = api.url;
    await ready(api.url, api.proc, 'the API');
    await start('worker');
    for (const replica of [0, 1]) {
      const watcher = await start('watcher', replica);
      await ready(watcher.url, watcher.proc, `watcher ${replica}`);
      watchers.push(watcher);
    }
  }, 180_000);

  const leaders = async () => {
    const reports = await Promise.all(
      watchers.map(async (w) => {
        if (w.proc.child.exitCode !== null || w.proc.child.signalCode !== null) return undefined;
        return (await (await fetch(`${w.url}/healthz`)).json()) as { clusters: Record<string, { leader: boolean }> };
      }),
    );
    return reports.map((r) => r?.clusters['in-cluster']?.leader ?? false);
  };

  /** Submits a job through the API and drives its SparkApplication to success; returns the final execution. */
  async function runJob(name: string) {
    const submit = await call(apiUrl, 'POST', '/api/v1/jobs', {
      name,
      team: 'platform',
      engineVersion: '4.0',
      backend: 'kubernetes',
      application: { type: 'python', file: 'local:///opt/spark/examples/src/main/python/pi.py' },
    });
    expect(submit.status, JSON.stringify(submit.json)).toBe(202);
    const id = submit.json.execution_id as string;
    const app = await eventually(`the SparkApplication of ${id}`, async () => {
      const res = await kubeRequest(
        server,
        'GET',
        `/apis/spark.apache.org/v1/namespaces/${DOMAIN_NS}/sparkapplications?labelSelector=spark-runner.io/execution-id=${id}`,
      );
      return (res.body as { items?: { metadata: { name: string } }[] }).items?.[0]?.metadata.name;
    });
    await createOperatorStandIn(server).drive(DOMAIN_NS, app, SEQUENCES.success);
    return finished(apiUrl, id);
  }

  it('serves the API without Spark: the chart disables the local backend', async () => {
    const res = await fetch(`${apiUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({
      components: { temporal: { status: 'up' }, postgres: { status: 'up' }, spark: { status: 'disabled' } },
    });
  });

  it('runs a job on Kubernetes under the chart RBAC, finished by the one leading watcher', async () => {
    const lead = await eventually('one watcher to lead the cluster', async () => {
      const l = await leaders();
      return l.filter(Boolean).length === 1 ? l : undefined;
    });
    expect(lead.filter(Boolean)).toHaveLength(1);
    const execution = await runJob('pi-deployed');
    expect(execution).toMatchObject({ status: 'SUCCEEDED', attempts: 1, backend: 'kubernetes', cluster: 'in-cluster' });
  });

  it('hands the cluster to the standby watcher when the leader stops', async () => {
    const before = await leaders();
    const leader = before.indexOf(true);
    expect(leader).toBeGreaterThanOrEqual(0);
    await watchers[leader]!.proc.stop('SIGTERM');
    // The stopped leader released its Lease, so the standby takes over without waiting for it to expire.
    await eventually('the standby to lead', async () => ((await leaders())[1 - leader] ? true : undefined), 30_000);
    expect(await runJob('pi-after-failover')).toMatchObject({ status: 'SUCCEEDED', attempts: 1 });
  });

  it("refuses the same requests from a ServiceAccount without the chart's bindings", async () => {
    const res = await kubeRequest(server, 'POST', `/api/v1/namespaces/${RELEASE_NS}/serviceaccounts`, {
      metadata: { name: 'nobody' },
    });
    expect(res.status, res.text).toBe(201);
    const token = await serviceAccountToken(RELEASE_NS, 'nobody');
    const denied = await kubeRequest(
      { url: server.url, token, ca: server.ca },
      'GET',
      `/apis/spark.apache.org/v1/namespaces/${DOMAIN_NS}/sparkapplications`,
    );
    expect(denied.status).toBe(403);
  });
});

describe('the compose file deployed', () => {
  let apiUrl: string;
  let databaseUrl: string;
  // The suite's own Postgres superuser is already called spark_runner, so the init script's role and database
  // (and the compose services' DATABASE_URL with them) are renamed for this run.
  const role = `compose_${crypto.randomUUID().slice(0, 8)}`;
  const renamed = (text: string) => text.replaceAll('spark_runner', role);

  beforeAll(async () => {
    // The compose Postgres runs this on its first start; here it runs on the suite's Postgres, as its superuser.
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    try {
      for (const statement of renamed(fs.readFileSync('provision/deploy-tools/compose-init-db.sql', 'utf8'))
        .replace(/--.*$/gm, '')
        .split(';')
        .map((s) => s.trim())
        .filter(Boolean)) {
        await admin.query(statement);
      }
    } finally {
      await admin.end();
    }
    const compose = YAML.parse(fs.readFileSync('docker-compose.yml', 'utf8'), { merge: true }) as {
      services: Record<string, { command: string[]; build?: { args?: Record<string, string> }; environment: Env }>;
    };
    // The image's environment, as BuildKit would build it with compose's build arguments (WITH_SPARK=true).
    const binary = await ensureDockerfileCheck({}, (line) => console.log(`[dockerfile-check] ${line}`));
    const image = await inspectDockerfile('Dockerfile', compose.services.api!.build?.args ?? {}, { binary });
    expect(image.final.entrypoint).toEqual(['node']);
    expect(image.final.env.LOCAL_BACKEND_ENABLED).toBe('true');
    // The compose services' database URL, pointed at the suite's Postgres server instead of the `postgres` host.
    const suiteDb = new URL(process.env.DATABASE_URL!);
    const taskQueue = `compose-${crypto.randomUUID().slice(0, 8)}`;
    const data = path.join(tmp, 'compose-runner-data'); // the runner-data volume both services mount
    const start = async (service: 'api' | 'worker') => {
      const { command, environment } = compose.services[service]!;
      const db = new URL(renamed(environment.DATABASE_URL!));
      db.host = suiteDb.host;
      databaseUrl = db.toString();
      const port = String(await freePort());
      // Settings replaced to reach this test's servers and files (everything else is the image's and compose's).
      const overrides = {
        PATH: process.env.PATH!,
        HOME: process.env.HOME!,
        DATABASE_URL: db.toString(),
        TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
        TEMPORAL_TASK_QUEUE: taskQueue,
        API_TOKENS: `ci:*:admin:${TOKEN}`, // compose takes it from the shell
        API_HOST: '127.0.0.1',
        API_PORT: port,
        // The image's /opt/spark is a pip-installed pyspark, as is the suite's.
        SPARK_HOME: process.env.SPARK_HOME!,
        SPARK_PYTHON: process.env.SPARK_PYTHON!,
        SPARK_RUNNER_DATA: data,
        SPARK_RUNNER_CACHE: path.join(tmp, 'compose-cache'),
        LOG_LEVEL: 'warn',
      };
      const proc = startEntryPoint(`compose-${service}`, [...image.final.entrypoint, ...command], {
        ...image.final.env,
        ...environment,
        ...overrides,
      });
      return { proc, url: `http://127.0.0.1:${port}` };
    };
    const api = await start('api');
    apiUrl = api.url;
    await ready(api.url, api.proc, 'the compose API');
    await start('worker');
  }, 180_000);

  it("runs SparkPi on local Spark, as the init script's database owner (not a superuser)", async () => {
    const res = await fetch(`${apiUrl}/readyz`);
    expect(await res.json()).toMatchObject({ components: { spark: { status: 'up' }, postgres: { status: 'up' } } });
    const submit = await call(apiUrl, 'POST', '/api/v1/jobs', {
      name: 'compose-pi',
      team: 'platform',
      engineVersion: '4.0',
      application: { type: 'python', file: 'examples/pi.py' },
      args: ['2'],
    });
    expect(submit.status, submit.text).toBe(202);
    const id = submit.json.execution_id as string;
    expect(await finished(apiUrl, id, 150_000)).toMatchObject({ status: 'SUCCEEDED', backend: 'local' });
    const logs = await call(apiUrl, 'GET', `/api/v1/jobs/${id}/logs?tail=200`);
    expect(logs.text).toMatch(/Pi is roughly 3\.1/);
    // The tables were created by the migrations running as that user, in its own database, and hold the run.
    const owner = new pg.Client({ connectionString: databaseUrl });
    await owner.connect();
    try {
      const { rows } = await owner.query<{ owner: string; superuser: boolean; state: string }>(
        `select pg_get_userbyid(c.relowner) as owner, r.rolsuper as superuser,
                (select state from executions where execution_id = $1) as state
           from pg_class c join pg_roles r on r.oid = c.relowner
          where c.relname = 'executions' and c.relkind = 'r'`,
        [id],
      );
      expect(rows).toEqual([{ owner: role, superuser: false, state: 'SUCCEEDED' }]);
    } finally {
      await owner.end();
    }
  });
});
