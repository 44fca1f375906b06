/**
 * The gateway's cluster inventory: which Kubernetes clusters Spark Runner may run on, where they are, how much
 * each should take, and whether EMR on EKS is there as a fallback. It lives in one YAML or JSON file (the path is
 * a config setting) so operators can add or drain a cluster without a code change.
 *
 * ```yaml
 * preferredRegion: us-east-1
 * clusters:
 *   - name: east-a
 *     region: us-east-1
 *     weight: 3             # relative share among healthy clusters (0 drains the cluster)
 *     capacity: 200         # max concurrent executions Spark Runner places here
 *     kubeconfig: ./kube/east.yaml   # relative to this file
 *     context: east-a       # optional; else the kubeconfig's current-context
 *   - name: local
 *     region: us-west-2
 *     capacity: 50
 *     inCluster: true       # the service account of the pod Spark Runner runs in
 *     eventLogDir: s3a://spark-events/local/            # optional: Spark event logs of its runs
 *     historyServerUrl: https://shs.example.com         # optional: the History Server reading them
 *     sparkUiUrlTemplate: https://spark.example.com/{namespace}/{appId}/   # optional: the live UI
 * emr:                    # optional: EMR on EKS as the fallback
 *   region: us-east-1
 *   virtualClusterId: abc123
 *   executionRoleArn: arn:aws:iam::123456789012:role/spark-runner-jobs
 *   releaseLabels: { "3.5": emr-7.9.0-latest }
 *   logUri: s3://my-logs/spark-runner/
 * teamDomains:
 *   payments: data-control  # team -> domain; the namespace is <namespacePrefix><domain>
 * ```
 *
 * Errors are `GatewayConfigError`s whose message names the file, the entry (index and name) and the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import YAML from 'yaml';
import { z } from 'zod';

/** DNS-1123 label: cluster names end up in labels and run ids, and domains in namespace names. */
const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label (lowercase letters, digits and "-")');

export const ClusterConfigSchema = z
  .object({
    /** Unique name; recorded as the run's cluster. */
    name: dnsLabel,
    /** Region the cluster runs in, e.g. `us-east-1`; routing prefers `preferredRegion`. */
    region: z.string().min(1),
    /** Relative share of new executions among qualifying clusters. 0 drains the cluster (no new work). */
    weight: z.number().min(0).default(1),
    /** Maximum concurrent executions Spark Runner places on this cluster. */
    capacity: z.number().int().positive(),
    /** Path to a kubeconfig file; relative paths are resolved against the clusters file's directory. */
    kubeconfig: z.string().min(1).optional(),
    /** Context in `kubeconfig`; default its current-context. */
    context: z.string().min(1).optional(),
    /** Use the pod's service account (KUBERNETES_SERVICE_HOST and the mounted token) instead of a kubeconfig. */
    inCluster: z.boolean().default(false),
    /** Prefix of team namespaces on this cluster (`<prefix><domain>`). */
    namespacePrefix: z.string().min(1).default('sjns-'),
    /** Where runs on this cluster write their Spark event logs (`spark.eventLog.dir`, e.g. `s3a://bucket/events/`). */
    eventLogDir: z.string().min(1).optional(),
    /** The History Server reading `eventLogDir`: metrics at each attempt's end, and `spark_ui_url` afterwards. */
    historyServerUrl: z.url().optional(),
    /** The live Spark UI while a run goes, e.g. `https://spark.example.com/{namespace}/{appId}/`; unset: null. */
    sparkUiUrlTemplate: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.inCluster && c.kubeconfig !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kubeconfig'],
        message: 'give either kubeconfig or inCluster: true, not both',
      });
    } else if (!c.inCluster && c.kubeconfig === undefined) {
      ctx.addIssue({ code: 'custom', path: ['kubeconfig'], message: 'required unless inCluster: true' });
    }
    if (c.inCluster && c.context !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['context'], message: 'only applies with a kubeconfig, not inCluster' });
    }
  });

/** EMR release labels look like `emr-7.9.0-latest` or `emr-7.9.0-20250101` (what StartJobRun accepts). */
const releaseLabel = z
  .string()
  .regex(/^emr-\d+\.\d{1,2}\.\d+-(latest|\d{8})$/, 'must look like "emr-7.9.0-latest" or "emr-7.9.0-20250101"');

/**
 * EMR on EKS, the fallback backend. Credentials come from the standard AWS chain (environment, shared config
 * and credentials files, web identity, instance metadata); nothing secret lives in this file.
 */
export const EmrConfigSchema = z
  .object({
    /** EMR is a placement target only when enabled. */
    enabled: z.boolean().default(true),
    /** AWS region of the virtual cluster, e.g. `us-east-1`. */
    region: z.string().min(1),
    /** EMR on EKS virtual cluster that StartJobRun targets. */
    virtualClusterId: z.string().min(1),
    /** IAM role the job runs as (`executionRoleArn` of StartJobRun). */
    executionRoleArn: z.string().min(1),
    /** Engine version -> EMR release label; a version missing here cannot run on EMR. */
    releaseLabels: z.record(z.string().regex(/^\d+\.\d+$/, 'must be an engine version like "3.5"'), releaseLabel),
    /** `s3://` prefix under which EMR writes driver and executor logs (monitoringConfiguration.s3MonitoringConfiguration). */
    logUri: z.string().regex(/^s3:\/\/[^/]+/, 'must be an s3:// URI'),
    /** An endpoint override for the EMR containers and S3 APIs (an emulator, a VPC endpoint). Unset: AWS's own. */
    endpoint: z.url().optional(),
    /** How often the worker lists the virtual cluster's job runs for status changes (one ListJobRuns per poll). */
    statusPollIntervalMs: z.number().int().min(100).max(600_000).default(10_000),
  })
  .strict();

export const GatewayConfigSchema = z
  .object({
    clusters: z.array(ClusterConfigSchema).default([]),
    /** Region tried first; other regions are the failover. Unset: all regions are equal. */
    preferredRegion: z.string().min(1).optional(),
    /** Fallback when no Kubernetes cluster qualifies. */
    emr: EmrConfigSchema.optional(),
    /** Team -> domain; the namespace model is `<namespacePrefix><domain>`, never taken from a request. */
    teamDomains: z.record(z.string().min(1), dnsLabel).default({}),
  })
  .strict()
  .superRefine((g, ctx) => {
    const seen = new Map<string, number>();
    g.clusters.forEach((c, i) => {
      const first = seen.get(c.name);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clusters', i, 'name'],
          message: `duplicate cluster name (also clusters[${first}])`,
        });
      } else seen.set(c.name, i);
    });
  });

export type ClusterConfig = z.infer<typeof ClusterConfigSchema>;
export type EmrConfig = z.infer<typeof EmrConfigSchema>;
export type GatewayConfig = z.infer<typeof GatewayConfigSchema>;

/** A clusters file that cannot be read or does not validate; the message names file, entry and field. */
export class GatewayConfigError extends Error {
  override readonly name = 'GatewayConfigError';
}

/** Whether EMR is a routing target under this config. */
export function emrConfigured(config: GatewayConfig): boolean {
  return config.emr?.enabled === true;
}

function describeIssue(file: string, raw: unknown, issue: z.core.$ZodIssue): string {
  const p = issue.path;
  let where: string;
  if (p[0] === 'clusters' && typeof p[1] === 'number') {
    const entry: unknown = Array.isArray((raw as { clusters?: unknown }).clusters)
      ? (raw as { clusters: unknown[] }).clusters[p[1]]
      : undefined;
    const name = typeof entry === 'object' && entry !== null ? (entry as { name?: unknown }).name : undefined;
    const label = typeof name === 'string' ? ` ("${name}")` : '';
    const fieldPath = p.slice(2).map(String).join('.');
    where = `clusters[${p[1]}]${label}${fieldPath ? ` field "${fieldPath}"` : ''}`;
  } else {
    where = p.length > 0 ? `field "${p.map(String).join('.')}"` : 'top level';
  }
  return `${file}: ${where}: ${issue.message}`;
}

/**
 * Parses a clusters file (YAML, or JSON, which is YAML too). Kubeconfig paths come back absolute, resolved
 * against the file's directory. Throws `GatewayConfigError` naming the file, the entry and the field.
 */
export function loadGatewayConfig(file: string): GatewayConfig {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(absolute, 'utf8');
  } catch (err) {
    throw new GatewayConfigError(`${absolute}: cannot read the clusters file (${(err as Error).message})`);
  }
  let raw: unknown;
  try {
    raw = YAML.parse(text);
  } catch (err) {
    throw new GatewayConfigError(`${absolute}: not valid YAML or JSON: ${(err as Error).message.split('\n')[0]}`);
  }
  return parseGatewayConfig(raw ?? {}, absolute);
}

/** Validates an already-parsed clusters document; `file` names its source in errors and anchors relative paths. */
export function parseGatewayConfig(raw: unknown, file: string): GatewayConfig {
  const result = GatewayConfigSchema.safeParse(raw);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => describeIssue(file, raw, issue));
    throw new GatewayConfigError(lines.join('\n'));
  }
  const dir = path.dirname(path.resolve(file));
  return {
    ...result.data,
    clusters: result.data.clusters.map((c) =>
      c.kubeconfig === undefined ? c : { ...c, kubeconfig: path.resolve(dir, c.kubeconfig) },
    ),
  };
}

export interface KubeConfigOptions {
  /** Prefix for the in-cluster service-account files (tests); default none. */
  inClusterPathPrefix?: string;
}

/**
 * A `KubeConfig` for one cluster: its kubeconfig file with `context` selected, or the pod's service account.
 * Throws `GatewayConfigError` when the file is unreadable or the context does not exist.
 */
export function kubeConfigFor(cluster: ClusterConfig, options: KubeConfigOptions = {}): KubeConfig {
  const kc = new KubeConfig();
  if (cluster.inCluster) {
    kc.loadFromCluster(options.inClusterPathPrefix);
    return kc;
  }
  const file = cluster.kubeconfig!;
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new GatewayConfigError(
      `cluster "${cluster.name}": kubeconfig ${file} cannot be loaded: ${(err as Error).message}`,
    );
  }
  if (cluster.context !== undefined) {
    if (!kc.getContextObject(cluster.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new GatewayConfigError(
        `cluster "${cluster.name}": context "${cluster.context}" is not in ${file} (contexts: ${known.join(', ') || 'none'})`,
      );
    }
    kc.setCurrentContext(cluster.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new GatewayConfigError(
      `cluster "${cluster.name}": ${file} has no usable current context (set "context" for this cluster)`,
    );
  }
  return kc;
}
