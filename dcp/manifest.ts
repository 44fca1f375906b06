/**
 * DCP manifests: YAML `kind: SparkJob` documents (the reference's format, section "1. DCP") turned into a job
 * definition: the normalized JobSpec plus an optional schedule. Pure: no I/O beyond the text it is given.
 *
 * Accepted under `spec`: the DCP fields (engine.version, resources.driver/executors, jobType, coreEtl,
 * orchestration.schedule/retryPolicy) and, alternatively or besides, the plain JobSpec fields (engineVersion,
 * application, args, sparkConf, backend, timeoutSeconds, labels, sim, retryPolicy, sizing). A file may hold several
 * documents. Every error names the file, the line and column (1-based) and the field, and a file with any error
 * yields no jobs at all, so nothing is half-applied.
 *
 * Hostile text is bounded before anything is built from it (MANIFEST_LIMITS): at most 100 documents per file, 100
 * aliases (counted in the text, and again as the yaml library expands them, which stops a "billion laughs"), and
 * 64 levels of nesting. Beyond one, parsing stops with a ManifestLimitError naming the limit (a 422 over REST).
 */
import {
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  LineCounter,
  parseAllDocuments,
  type Document,
  type Node,
} from 'yaml';
import { z } from 'zod';
import { JobSpec, parseMemoryMb, type NormalizedJobSpec } from '../schema/job-spec.js';
import { parseScheduleExpression, ScheduleFields, type ScheduleConfig } from './schedule.js';

export const API_VERSION = 'dcp.pedregal.doordash.com/v1';
const DNS_LABEL = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase DNS label');

const Orchestration = z
  .object({
    ...ScheduleFields,
    retryPolicy: z
      .object({
        /** Retries after the first attempt: JobSpec maxAttempts = maxRetries + 1. */
        maxRetries: z.number().int().min(0).max(9),
        backoffSeconds: z.number().min(0).max(3600).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** The manifest's own shape; JobSpec pieces are validated afterwards by JobSpec itself (see toJobSpecInput). */
const ManifestDoc = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('SparkJob'),
    metadata: z
      .object({
        name: z.unknown(),
        namespace: z.string().min(1).optional(),
        team: DNS_LABEL,
        owner: z.string().min(1).optional(),
      })
      .strict(),
    spec: z
      .object({
        engine: z.object({ version: z.unknown() }).strict().optional(),
        engineVersion: z.unknown().optional(),
        resources: z
          .object({
            driver: z.unknown().optional(),
            executors: z.unknown().optional(),
            executor: z.unknown().optional(),
            dynamicAllocation: z.unknown().optional(),
          })
          .strict()
          .optional(),
        jobType: z.enum(['batch', 'streaming']).default('batch'),
        coreEtl: z.unknown().optional(),
        application: z.unknown().optional(),
        args: z.unknown().optional(),
        sparkConf: z.unknown().optional(),
        backend: z.unknown().optional(),
        timeoutSeconds: z.unknown().optional(),
        labels: z.unknown().optional(),
        sim: z.unknown().optional(),
        retryPolicy: z.unknown().optional(),
        sizing: z.unknown().optional(),
        orchestration: Orchestration.optional(),
      })
      .strict()
      .superRefine((spec, ctx) => {
        const both = (a: string, b: string, path: string[]) =>
          ctx.addIssue({ code: 'custom', path, message: `set either ${a} or ${b}, not both` });
        if (spec.engine && spec.engineVersion !== undefined) both('engine.version', 'engineVersion', ['engineVersion']);
        if (spec.coreEtl !== undefined && spec.application !== undefined)
          both('coreEtl', 'application', ['application']);
        if (spec.coreEtl === undefined && spec.application === undefined)
          ctx.addIssue({ code: 'custom', path: ['coreEtl'], message: 'a job needs coreEtl or application' });
        if (spec.resources?.executor !== undefined && spec.resources.executors !== undefined)
          both('resources.executors', 'resources.executor', ['resources', 'executor']);
        if (spec.retryPolicy !== undefined && spec.orchestration?.retryPolicy)
          both('orchestration.retryPolicy', 'retryPolicy', ['retryPolicy']);
        const schedule = spec.orchestration?.schedule;
        if (schedule !== undefined) {
          if (spec.jobType === 'streaming')
            ctx.addIssue({
              code: 'custom',
              path: ['orchestration', 'schedule'],
              message: 'a streaming job runs continuously and takes no schedule',
            });
          const parsed = parseScheduleExpression(schedule);
          if ('error' in parsed)
            ctx.addIssue({ code: 'custom', path: ['orchestration', 'schedule'], message: parsed.error });
        }
      }),
  })
  .strict();
type ManifestDoc = z.output<typeof ManifestDoc>;

/** One job a manifest declares. */
export interface ManifestJob {
  /** Where it came from, for messages: `file` and the document's first line. */
  source: { file: string; line: number };
  team: string;
  name: string;
  jobPath: string;
  namespace?: string;
  owner?: string;
  spec: NormalizedJobSpec;
  /** Batch jobs with `orchestration.schedule` only. */
  schedule?: ScheduleConfig;
}

export interface ManifestIssue {
  file: string;
  line: number;
  column: number;
  /** Dotted field path inside the document, e.g. `spec.resources.executors.memory`. */
  field: string;
  message: string;
}

export class ManifestError extends Error {
  override readonly name = 'ManifestError';
  constructor(readonly issues: ManifestIssue[]) {
    super(
      issues.map((i) => `${i.file}:${i.line}:${i.column}: ${i.field ? `${i.field}: ` : ''}${i.message}`).join('\n'),
    );
  }
}

/** What one manifest file may hold; see the header. */
export const MANIFEST_LIMITS = { documents: 100, aliases: 100, depth: 64 } as const;
export type ManifestLimit = keyof typeof MANIFEST_LIMITS;

/** A manifest over one of MANIFEST_LIMITS: nothing of it is applied. */
export class ManifestLimitError extends Error {
  override readonly name = 'ManifestLimitError';
  constructor(
    readonly limit: ManifestLimit,
    message: string,
  ) {
    super(message);
  }
}

const LIMIT_MESSAGES: Record<ManifestLimit, string> = {
  documents: `a manifest may hold at most ${MANIFEST_LIMITS.documents} documents`,
  aliases: `a manifest may use at most ${MANIFEST_LIMITS.aliases} YAML aliases (expanded)`,
  depth: `a manifest may nest at most ${MANIFEST_LIMITS.depth} levels deep`,
};
const overLimit = (limit: ManifestLimit, found?: string) =>
  new ManifestLimitError(limit, `${LIMIT_MESSAGES[limit]}${found ? `; ${found}` : ''}`);

/** Counts a document's alias nodes and its deepest nesting, without recursion (the text may nest very deep). */
function measure(doc: Document): { aliases: number; depth: number } {
  let aliases = 0;
  let depth = 0;
  const stack: [unknown, number][] = [[doc.contents, 0]];
  while (stack.length > 0) {
    const [node, level] = stack.pop()!;
    if (isAlias(node)) aliases += 1;
    else if (isMap(node) || isSeq(node)) {
      depth = Math.max(depth, level + 1);
      for (const item of node.items as unknown[]) {
        if (isPair(item)) stack.push([item.key, level + 1], [item.value, level + 1]);
        else stack.push([item, level + 1]);
      }
    }
  }
  return { aliases, depth };
}

type Path = (string | number)[];
interface RawIssue {
  path: Path;
  message: string;
  /** Point at the key rather than the value (an unknown field). */
  atKey?: boolean;
}

/** Flattens zod issues; an unknown key is reported at its own path so the location points at the typo. */
function rawIssues(error: z.ZodError, prefix: Path = []): RawIssue[] {
  return error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({
          path: [...prefix, ...(issue.path as Path), key],
          message: `unknown field "${key}"`,
          atKey: true,
        }))
      : [{ path: [...prefix, ...(issue.path as Path)], message: issue.message }],
  );
}

/** The JobSpec input a manifest document stands for, and how JobSpec paths map back onto the document. */
function toJobSpecInput(doc: ManifestDoc): { input: Record<string, unknown>; mapPath: (p: Path) => Path } {
  const { spec, metadata } = doc;
  const executorKey = spec.resources?.executor !== undefined ? 'executor' : 'executors';
  const fromRetry = spec.orchestration?.retryPolicy;
  const input: Record<string, unknown> = {
    name: metadata.name,
    engineVersion: spec.engine ? spec.engine.version : spec.engineVersion,
    application:
      spec.coreEtl !== undefined && spec.coreEtl !== null && typeof spec.coreEtl === 'object'
        ? { type: 'coreEtl', ...spec.coreEtl }
        : (spec.coreEtl ?? spec.application),
    jobType: spec.jobType,
    retryPolicy: fromRetry
      ? {
          maxAttempts: fromRetry.maxRetries + 1,
          ...(fromRetry.backoffSeconds !== undefined && { backoffSeconds: fromRetry.backoffSeconds }),
        }
      : spec.retryPolicy,
  };
  if (spec.resources) {
    const { driver, dynamicAllocation } = spec.resources;
    const executor = spec.resources.executor ?? spec.resources.executors;
    input.resources = Object.fromEntries(
      Object.entries({ driver, executor, dynamicAllocation }).filter(([, v]) => v !== undefined),
    );
  }
  for (const key of ['args', 'sparkConf', 'backend', 'timeoutSeconds', 'labels', 'sim', 'sizing'] as const) {
    if (spec[key] !== undefined) input[key] = spec[key];
  }
  const mapPath = (p: Path): Path => {
    const [head, ...rest] = p;
    switch (head) {
      case 'name':
        return ['metadata', 'name'];
      case 'engineVersion':
        return spec.engine ? ['spec', 'engine', 'version'] : ['spec', 'engineVersion'];
      case 'application':
        return spec.coreEtl !== undefined ? ['spec', 'coreEtl', ...rest.filter((s) => s !== 'type')] : ['spec', ...p];
      case 'resources':
        return rest[0] === 'executor' ? ['spec', 'resources', executorKey, ...rest.slice(1)] : ['spec', ...p];
      case 'retryPolicy':
        if (!fromRetry) return ['spec', ...p];
        return rest[0] === 'maxAttempts'
          ? ['spec', 'orchestration', 'retryPolicy', 'maxRetries']
          : ['spec', 'orchestration', 'retryPolicy', ...rest];
      default:
        return ['spec', ...p];
    }
  };
  return { input, mapPath };
}

function scheduleOf(doc: ManifestDoc): ScheduleConfig | undefined {
  const o = doc.spec.orchestration;
  if (!o?.schedule) return undefined;
  const parsed = parseScheduleExpression(o.schedule);
  if ('error' in parsed) return undefined; // already reported by the schema
  return { ...parsed, timezone: o.timezone, overlap: o.overlap, catchupWindowMs: o.catchupWindow, jitterMs: o.jitter };
}

/** The node at `path`, or the deepest ancestor that exists, with its key node when it is a map entry. */
function locate(doc: Document, path: Path, atKey: boolean): Node | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined = doc.contents ?? undefined;
  for (const [i, seg] of path.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return found;
      if (atKey && i === path.length - 1 && isScalar(pair.key)) return pair.key;
      found = (pair.value as Node | null) ?? (pair.key as Node);
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return found;
      found = item;
      node = item;
    } else {
      return found;
    }
  }
  return found;
}

/**
 * A warm pool of Spark Connect servers for a team's interactive sessions (`kind: SessionPool`): its size, Spark
 * version and what its sessions get. Applied, it keeps `size` servers warm; deleted, it drains.
 */
const PoolDoc = z
  .object({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal('SessionPool'),
    metadata: z
      .object({
        name: DNS_LABEL,
        team: DNS_LABEL,
        namespace: z.string().min(1).optional(),
        owner: z.string().optional(),
      })
      .strict(),
    spec: z
      .object({
        size: z.number().int().min(0).max(100),
        sparkVersion: z
          .string()
          .regex(/^\d+\.\d+$/, 'must look like "4.0"')
          .default('4.0'),
        idleTimeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(7 * 86_400)
          .optional(),
        driverMemory: z
          .union([z.string(), z.number()])
          .transform((value, ctx) => {
            const mb = parseMemoryMb(value);
            if (mb === undefined) {
              ctx.addIssue({ code: 'custom', message: `invalid memory size "${value}": use a size like "1g"` });
              return z.NEVER;
            }
            return mb;
          })
          .optional(),
        backend: z.enum(['auto', 'local', 'kubernetes']).default('auto'),
      })
      .strict(),
  })
  .strict();

/** One warm pool a manifest declares; its pool name is `<team>.<name>`. */
export interface ManifestPool {
  source: { file: string; line: number };
  team: string;
  name: string;
  pool: string;
  size: number;
  sparkVersion: string;
  idleTimeoutS?: number;
  driverMemoryMb?: number;
  backend: 'auto' | 'local' | 'kubernetes';
}

/**
 * Parses a manifest file's text. Returns every job it declares, or throws ManifestError listing every problem
 * (syntax, shape, JobSpec rules, duplicate jobs) with file, line, column and field. A file may also hold
 * `kind: SessionPool` documents (see parseManifestFile); they are checked here too, and left out of the answer.
 */
export function parseManifest(text: string, file = '<manifest>'): ManifestJob[] {
  return parseManifestFile(text, file).jobs;
}

/** Every SparkJob and SessionPool of a manifest file, or ManifestError listing every problem, as parseManifest. */
export function parseManifestFile(text: string, file = '<manifest>'): { jobs: ManifestJob[]; pools: ManifestPool[] } {
  const lineCounter = new LineCounter();
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { lineCounter, prettyErrors: false });
  } catch (err) {
    // The composer recurses per level: text nested deep enough to exhaust the stack is over the depth limit.
    if (err instanceof RangeError) throw overLimit('depth');
    throw err;
  }
  const issues: ManifestIssue[] = [];
  const jobs: ManifestJob[] = [];
  const pools: ManifestPool[] = [];
  const pos = (offset: number) => lineCounter.linePos(offset);
  const list = Array.isArray(docs) ? docs : [];
  if (list.length > MANIFEST_LIMITS.documents) throw overLimit('documents', `this one holds ${list.length}`);
  let aliasCount = 0;
  for (const doc of list) {
    const size = measure(doc);
    aliasCount += size.aliases;
    if (aliasCount > MANIFEST_LIMITS.aliases) throw overLimit('aliases', `this one has more than ${aliasCount - 1}`);
    if (size.depth > MANIFEST_LIMITS.depth) throw overLimit('depth', `this one nests ${size.depth} deep`);
  }
  for (const doc of list) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const at = pos(e.pos[0]);
        issues.push({ file, line: at.line, column: at.col, field: '', message: e.message.split('\n')[0]! });
      }
      continue;
    }
    if (doc.contents === null) continue; // an empty document, e.g. a trailing `---`
    const docStart = pos(doc.contents.range?.[0] ?? 0);
    const report = (raw: RawIssue[]) => {
      for (const r of raw) {
        const node = locate(doc, r.path, r.atKey ?? false);
        const at = pos(node?.range?.[0] ?? doc.contents?.range?.[0] ?? 0);
        issues.push({ file, line: at.line, column: at.col, field: r.path.join('.'), message: r.message });
      }
    };
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MANIFEST_LIMITS.aliases });
    } catch (err) {
      // yaml's own guard ("Excessive alias count ..."): few aliases in the text that expand exponentially.
      if (err instanceof ReferenceError && /alias count/i.test(err.message)) throw overLimit('aliases');
      // Any other alias error (an alias to no anchor) is the document's fault: reported like a syntax error.
      if (!(err instanceof ReferenceError)) throw err;
      issues.push({ file, line: docStart.line, column: docStart.col, field: '', message: err.message });
      continue;
    }
    if ((value as { kind?: unknown } | null)?.kind === 'SessionPool') {
      const pool = PoolDoc.safeParse(value);
      if (!pool.success) {
        report(rawIssues(pool.error));
        continue;
      }
      const { metadata, spec } = pool.data;
      const name = `${metadata.team}.${metadata.name}`;
      if (pools.some((p) => p.pool === name)) {
        report([{ path: ['metadata', 'name'], message: `pool ${name} is declared twice in this file` }]);
        continue;
      }
      pools.push({
        source: { file, line: docStart.line },
        team: metadata.team,
        name: metadata.name,
        pool: name,
        size: spec.size,
        sparkVersion: spec.sparkVersion,
        backend: spec.backend,
        ...(spec.idleTimeoutSeconds !== undefined ? { idleTimeoutS: spec.idleTimeoutSeconds } : {}),
        ...(spec.driverMemory !== undefined ? { driverMemoryMb: spec.driverMemory } : {}),
      });
      continue;
    }
    const shape = ManifestDoc.safeParse(value);
    if (!shape.success) {
      report(rawIssues(shape.error));
      continue;
    }
    const { input, mapPath } = toJobSpecInput(shape.data);
    const spec = JobSpec.safeParse(input);
    if (!spec.success) {
      report(rawIssues(spec.error).map((r) => ({ ...r, path: mapPath(r.path) })));
      continue;
    }
    const { metadata } = shape.data;
    const jobPath = `${metadata.team}/${spec.data.name}`;
    if (jobs.some((j) => j.jobPath === jobPath)) {
      report([{ path: ['metadata', 'name'], message: `job ${jobPath} is declared twice in this file` }]);
      continue;
    }
    jobs.push({
      source: { file, line: docStart.line },
      team: metadata.team,
      name: spec.data.name,
      jobPath,
      namespace: metadata.namespace,
      owner: metadata.owner,
      spec: spec.data,
      schedule: scheduleOf(shape.data),
    });
  }
  if (issues.length > 0) throw new ManifestError(issues);
  if (jobs.length === 0 && pools.length === 0) {
    throw new ManifestError([
      { file, line: 1, column: 1, field: '', message: 'the file declares no SparkJob (or SessionPool)' },
    ]);
  }
  return { jobs, pools };
}
