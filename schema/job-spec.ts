/**
 * The JobSpec: what a user asks to run. One zod schema validates REST bodies, CLI files and manifests, and its
 * output is the *normalized* spec the workflow and the backends consume (memory in MiB, defaults filled in).
 *
 * Unknown fields are rejected (a typo must not be silently ignored), and so are sparkConf keys that would let a
 * job escape its tenancy: service account, pod template files, namespace and authentication settings.
 */
import { z } from 'zod';
import { CoreEtlJobSpec } from './core-etl.js';
import { BACKENDS } from './states.js';

/** Parses Spark/Kubernetes style sizes ("512m", "4g", "4G", "2Gi", "1t", or a bare number of MiB) into MiB. */
export function parseMemoryMb(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isInteger(value) && value > 0 ? value : undefined;
  // A unit letter may be followed by "i" and/or "b" ("2Gi", "4gb"); a bare "b" (bytes) is not a useful size.
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])i?b?)?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? 'm').toLowerCase();
  const factor = { k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 }[unit as 'k' | 'm' | 'g' | 't'];
  const mb = Math.round(n * factor);
  return mb > 0 ? mb : undefined;
}

/** Renders MiB the way Spark settings expect ("4g" when whole gibibytes, else "1536m"). */
export function formatMemory(mb: number): string {
  return mb % 1024 === 0 ? `${mb / 1024}g` : `${mb}m`;
}

const memory = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const mb = parseMemoryMb(value);
  if (mb === undefined) {
    ctx.addIssue({
      code: 'custom',
      message: `invalid memory size "${value}": use a number with a unit, like "512m" or "4g"`,
    });
    return z.NEVER;
  }
  return mb;
});

const cores = z.number().int().min(1).max(64);

export const DriverResources = z
  .object({ cores: cores.default(1), memory: memory.prefault('1g') })
  .strict()
  .transform(({ cores, memory }) => ({ cores, memoryMb: memory }));

export const ExecutorResources = z
  .object({
    cores: cores.default(1),
    memory: memory.prefault('1g'),
    instances: z.number().int().min(0).max(1000).default(1),
  })
  .strict()
  .transform(({ cores, memory, instances }) => ({ cores, memoryMb: memory, instances }));

export const DynamicAllocation = z
  .object({
    enabled: z.boolean().default(true),
    minExecutors: z.number().int().min(0).default(0),
    maxExecutors: z.number().int().min(1).max(1000),
  })
  .strict()
  .refine((d) => d.minExecutors <= d.maxExecutors, {
    message: 'minExecutors must not exceed maxExecutors',
    path: ['minExecutors'],
  });

export const Resources = z
  .object({
    driver: DriverResources.prefault({}),
    executor: ExecutorResources.prefault({}),
    dynamicAllocation: DynamicAllocation.optional(),
  })
  .strict();

export const Application = z.discriminatedUnion('type', [
  z.object({ type: z.literal('jvm'), mainClass: z.string().min(1), jar: z.string().min(1) }).strict(),
  z
    .object({ type: z.literal('python'), file: z.string().min(1), pyFiles: z.array(z.string().min(1)).default([]) })
    .strict(),
  z
    .object({
      type: z.literal('coreEtl'),
      /** The CoreETL jar and its main class: run by the `jar` runtime, kept but unused by `builtin`. */
      jarPath: z.string().min(1),
      mainClass: z.string().min(1),
      jobSpec: CoreEtlJobSpec,
    })
    .strict(),
]);

/**
 * sparkConf keys a job may not set, with the reason shown to the user. The gateway owns identity, placement and
 * authentication; letting a job override them would break tenant isolation.
 */
export const FORBIDDEN_SPARK_CONF: readonly { pattern: RegExp; reason: string }[] = [
  { pattern: /serviceaccount/i, reason: 'the service account is set by the platform' },
  { pattern: /podtemplate/i, reason: 'pod templates are set by the platform' },
  { pattern: /^spark\.kubernetes\.namespace$/i, reason: 'the namespace comes from the team, not the job' },
  { pattern: /^spark\.kubernetes\.authenticate\./i, reason: 'authentication is set by the platform' },
  { pattern: /^spark\.authenticate/i, reason: 'authentication is set by the platform' },
  { pattern: /^spark\.master$/i, reason: 'the Spark Gateway chooses the master' },
  { pattern: /^spark\.kubernetes\.(context|driver\.master)$/i, reason: 'the Spark Gateway chooses the cluster' },
  { pattern: /^spark\.kubernetes\.(driver|executor)\.volumes\.hostPath\./i, reason: 'host paths are not allowed' },
  // What the gateway builds into every SparkApplication (gateway/backends/kubernetes/build.ts), by key.
  {
    pattern: /^spark\.kubernetes\.((driver|executor)\.)?container\.image$/i,
    reason: 'the image follows engineVersion',
  },
  {
    pattern: /^spark\.kubernetes\.container\.image\.pullSecrets$/i,
    reason: 'registry credentials are set by the platform',
  },
  {
    pattern: /^spark\.kubernetes\.(driver\.pod\.name|executor\.podNamePrefix)$/i,
    reason: 'pod names are derived from the execution and attempt',
  },
  {
    pattern: /^spark\.kubernetes\.(driver|executor)\.label\.([^/]*\.)?(spark-runner\.io|kubernetes\.io|k8s\.io)\//i,
    reason: "the platform's and Kubernetes' label prefixes are reserved",
  },
  {
    pattern: /^spark\.kubernetes\.(driver|executor)\.(secrets|secretKeyRef)\./i,
    reason: "a job may not mount the namespace's secrets",
  },
  { pattern: /^spark\.kubernetes\.submission\./i, reason: 'the Spark Gateway submits the application' },
  // Sizing lives in `resources`, where auto-retry can raise it after an OOM; a sparkConf copy would override it.
  {
    pattern: /^spark\.(driver|executor)\.(memory|cores)$|^spark\.executor\.instances$/i,
    reason: 'set it in `resources` instead, so auto-retry can resize it',
  },
];

export const SparkConf = z.record(z.string().min(1), z.string()).superRefine((conf, ctx) => {
  for (const key of Object.keys(conf)) {
    const hit = FORBIDDEN_SPARK_CONF.find((f) => f.pattern.test(key));
    if (hit)
      ctx.addIssue({ code: 'custom', path: [key], message: `sparkConf key "${key}" is not allowed: ${hit.reason}` });
  }
});

/** A scripted lifecycle for the `sim` backend: one entry per attempt; the last entry repeats. */
export const SimScript = z
  .object({
    attempts: z
      .array(
        z
          .object({
            /** ms after submit when the run starts RUNNING. */
            runningAfterMs: z.number().int().min(0).default(50),
            /** ms after submit when the run ends. */
            endAfterMs: z.number().int().min(0).default(200),
            outcome: z.enum(['SUCCEEDED', 'FAILED']).default('SUCCEEDED'),
            failure: z
              .object({
                exitCode: z.number().int().optional(),
                reason: z.string().optional(),
                message: z.string().optional(),
                logTail: z.string().optional(),
              })
              .strict()
              .optional(),
            /** When true, watch() never reports this attempt: only polling can see it end. */
            dropSignals: z.boolean().default(false),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

/**
 * Kubernetes label syntax (labels reach the SparkApplication and its pods): a key is an optional DNS-subdomain
 * prefix and `/`, then a name of at most 63 of `[A-Za-z0-9-_.]` with alphanumeric ends; a value is empty or the
 * same as a name. Prefixes the platform or Kubernetes own are refused, so a job cannot pose as another's.
 */
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const LABEL_PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const RESERVED_LABEL_PREFIX = /(^|\.)(spark-runner\.io|kubernetes\.io|k8s\.io)$/;
export const MAX_LABELS = 64;

/** Why `key` is not a usable label key, or undefined when it is. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (!LABEL_NAME.test(name)) {
    return 'its name must be at most 63 characters of letters, digits, "-", "_" and ".", starting and ending alphanumeric';
  }
  if (prefix !== undefined) {
    if (prefix.length > 253 || !LABEL_PREFIX.test(prefix)) return 'its prefix must be a lowercase DNS subdomain';
    if (RESERVED_LABEL_PREFIX.test(prefix)) return `the prefix "${prefix}/" is reserved for the platform`;
  }
  return undefined;
}

export const Labels = z.record(z.string(), z.string()).superRefine((labels, ctx) => {
  const keys = Object.keys(labels);
  if (keys.length > MAX_LABELS) ctx.addIssue({ code: 'custom', message: `at most ${MAX_LABELS} labels` });
  for (const key of keys) {
    const problem = labelKeyProblem(key);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: `label key ${JSON.stringify(key)}: ${problem}` });
    const value = labels[key]!;
    if (value !== '' && !LABEL_NAME.test(value)) {
      ctx.addIssue({
        code: 'custom',
        path: [key],
        message: `label value ${JSON.stringify(value)}: at most 63 characters of letters, digits, "-", "_" and ".", starting and ending alphanumeric`,
      });
    }
  }
});

export const RetryPolicy = z
  .object({
    /** Attempts in all, counting the first. 1 means no auto-retry. */
    maxAttempts: z.number().int().min(1).max(10).default(3),
    /** Backoff before the 2nd attempt; doubles after each retriable failure. */
    backoffSeconds: z.number().min(0).max(3600).default(10),
  })
  .strict();

export const ENGINE_VERSION_PATTERN = /^\d+\.\d+(\.\d+)?$/;

export const JobSpec = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS label: letters, digits and "-"'),
    engineVersion: z.string().regex(ENGINE_VERSION_PATTERN, 'must look like "3.5" or "4.0.1"'),
    application: Application,
    args: z.array(z.string()).default([]),
    sparkConf: SparkConf.default({}),
    resources: Resources.prefault({}),
    jobType: z.enum(['batch', 'streaming']).default('batch'),
    backend: z.enum(['auto', ...BACKENDS]).default('auto'),
    retryPolicy: RetryPolicy.prefault({}),
    /** Wall-clock limit for the whole execution, across attempts. */
    timeoutSeconds: z.number().int().min(1).optional(),
    labels: Labels.default({}),
    sim: SimScript.optional(),
    /**
     * APS sizing (runner/aps.ts): `manual` (the default, also when absent) runs the spec's resources as written,
     * `recommend` records APS's recommendation in each SUBMIT event, `auto` runs with it.
     */
    sizing: z.enum(['manual', 'recommend', 'auto']).optional(),
  })
  .strict();

export type JobSpecInput = z.input<typeof JobSpec>;
export type NormalizedJobSpec = z.output<typeof JobSpec>;
export type ApplicationSpec = NormalizedJobSpec['application'];
