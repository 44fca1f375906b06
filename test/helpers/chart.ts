/**
 * The Helm chart as rendered objects: `helm template` output parsed into plain objects, plus the bits of a pod
 * template the deployment tests look at (a container's argv and environment). helm is the binary
 * provision/deploy-tools builds from Go modules.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { kubeRequest, type KubeConnection } from '../../provision/kubernetes/index.js';

const run = promisify(execFile);
export const CHART = path.resolve('helm/spark-runner');
export const RELEASE = 'sr';
export const RELEASE_NS = 'spark-runner';
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition']);

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: unknown;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}

export interface Container {
  name: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string } }[];
}

export async function renderChart(
  helm: string,
  valuesFiles: string[] = [],
  sets: string[] = [],
): Promise<KubeObject[]> {
  const args = ['template', RELEASE, CHART, '--namespace', RELEASE_NS];
  for (const file of valuesFiles) args.push('-f', path.join(CHART, file));
  for (const set of sets) args.push('--set', set);
  const { stdout } = await run(helm, args, { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout)
    .map((d) => d.toJS() as KubeObject | null)
    .filter((o): o is KubeObject => o !== null);
}

/** The REST collection path for an object, from its apiVersion and kind. */
export function collectionPath(obj: KubeObject): string {
  const base = obj.apiVersion === 'v1' ? '/api/v1' : `/apis/${obj.apiVersion}`;
  const lower = obj.kind.toLowerCase();
  const plural = lower.endsWith('s') ? `${lower}es` : `${lower}s`;
  if (CLUSTER_SCOPED.has(obj.kind)) return `${base}/${plural}`;
  return `${base}/namespaces/${obj.metadata.namespace ?? RELEASE_NS}/${plural}`;
}

/** Creates `obj` on the server (`dryRun=All` when asked); returns the HTTP status and body text. */
export async function createObject(conn: KubeConnection, obj: KubeObject, dryRun = false) {
  const res = await kubeRequest(conn, 'POST', `${collectionPath(obj)}${dryRun ? '?dryRun=All' : ''}`, obj);
  return { status: res.status, text: res.text };
}

/** Each Deployment's containers, keyed by the Deployment's component label (api, worker, watcher). */
export function deploymentContainers(objects: KubeObject[]): Map<string, Container[]> {
  const out = new Map<string, Container[]>();
  for (const o of objects) {
    if (o.kind !== 'Deployment') continue;
    const spec = o.spec as { template: { spec: { containers: Container[] } } };
    out.set(o.metadata.labels?.['app.kubernetes.io/component'] ?? o.metadata.name, spec.template.spec.containers);
  }
  return out;
}

/** The one object of `kind` (failing clearly when there is not exactly one). */
export function only(objects: KubeObject[], kind: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, the chart rendered ${found.length}`);
  return found[0]!;
}
