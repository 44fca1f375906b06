/**
 * Builds the POST /api/v1/jobs body from a job file (-f) and/or flags. Flags given on the command line override
 * the file. The server validates the result against the JobSpec; nothing here second-guesses it, except that
 * relative paths are made absolute (the server would resolve them against its own working directory).
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML, { isMap, isScalar, isSeq, type Document } from 'yaml';
import { CliError } from './errors.js';

export const DEFAULT_ENGINE_VERSION = '4.0';

export interface SubmitFlags {
  file?: string;
  name?: string;
  team?: string;
  engine?: string;
  python?: string;
  class?: string;
  jar?: string;
  arg?: string[];
  conf?: string[];
  driverMemory?: string;
  executorMemory?: string;
  executors?: number;
  backend?: string;
  idempotencyKey?: string;
}

type Body = Record<string, unknown>;

/** The submit body: the job file (if any), then the flags on top, then local paths made absolute. */
export function buildSubmitBody(flags: SubmitFlags, cwd: string): Body {
  if (!flags.file && !flags.name) {
    throw new CliError(
      'submit needs a job file or a job on the command line',
      'use -f job.yaml, or --name with --python <file> (or --class <main> --jar <jar>)',
    );
  }
  const body: Body = flags.file ? readJobFile(path.resolve(cwd, flags.file)) : {};
  const set = (key: string, value: unknown) => {
    if (value !== undefined) body[key] = value;
  };
  set('name', flags.name);
  set('team', flags.team);
  set('engineVersion', flags.engine ?? body.engineVersion ?? DEFAULT_ENGINE_VERSION);
  set('application', applicationFromFlags(flags));
  if (flags.arg) body.args = flags.arg;
  if (flags.conf) body.sparkConf = { ...asObject(body.sparkConf), ...parseConf(flags.conf) };
  set('resources', resourcesFromFlags(flags, asObject(body.resources)));
  set('backend', flags.backend);
  set('idempotency_key', flags.idempotencyKey);
  if (!body.application) {
    throw new CliError('no application to run', 'give --python <file>, or --class <main> with --jar <jar>');
  }
  return absolutizePaths(body, cwd);
}

function applicationFromFlags(flags: SubmitFlags): Body | undefined {
  if (flags.python && (flags.class || flags.jar)) {
    throw new CliError('--python cannot be combined with --class/--jar', 'a job is either a Python file or a JVM jar');
  }
  if (flags.python) return { type: 'python', file: flags.python };
  if (flags.class || flags.jar) {
    if (!flags.class || !flags.jar) throw new CliError('a JVM job needs both --class <main> and --jar <jar>');
    return { type: 'jvm', mainClass: flags.class, jar: flags.jar };
  }
  return undefined;
}

function resourcesFromFlags(flags: SubmitFlags, resources: Body): Body | undefined {
  if (!flags.driverMemory && !flags.executorMemory && flags.executors === undefined) return undefined;
  const driver = asObject(resources.driver);
  const executor = asObject(resources.executor);
  if (flags.driverMemory) driver.memory = flags.driverMemory;
  if (flags.executorMemory) executor.memory = flags.executorMemory;
  if (flags.executors !== undefined) executor.instances = flags.executors;
  return { ...resources, driver, executor };
}

function parseConf(pairs: string[]): Record<string, string> {
  const conf: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new CliError(`--conf "${pair}" is not key=value`, 'write it as --conf spark.sql.shuffle.partitions=8');
    conf[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return conf;
}

const URI_SCHEME = /^[a-z][a-z0-9+.-]*:/i;

/**
 * For the local backend (and `auto`, which is local unless the server says otherwise), a relative file or jar
 * is made absolute against the CLI's working directory. Other backends get paths as written (they are paths in
 * the image or URIs such as s3://).
 */
function absolutizePaths(body: Body, cwd: string): Body {
  const backend = body.backend ?? 'auto';
  const app = body.application;
  if ((backend !== 'auto' && backend !== 'local') || !app || typeof app !== 'object') return body;
  const abs = (p: unknown) => (typeof p === 'string' && p && !URI_SCHEME.test(p) ? path.resolve(cwd, p) : p);
  const a = { ...(app as Body) };
  if (a.type === 'python') {
    a.file = abs(a.file);
    if (Array.isArray(a.pyFiles)) a.pyFiles = a.pyFiles.map(abs);
  } else if (a.type === 'jvm') {
    a.jar = abs(a.jar);
  }
  return { ...body, application: a };
}

function asObject(value: unknown): Body {
  return value && typeof value === 'object' && !Array.isArray(value) ? { ...(value as Body) } : {};
}

/** Reads a JobSpec document: JSON for `.json` (or text starting with `{`), YAML otherwise. */
export function readJobFile(file: string): Body {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new CliError(
      missing ? `the job file ${file} does not exist` : `cannot read the job file ${file}: ${(err as Error).message}`,
    );
  }
  const isJson = file.endsWith('.json') || (!/\.ya?ml$/i.test(file) && text.trimStart().startsWith('{'));
  const value = isJson ? parseJson(text, file) : parseYaml(text, file);
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new CliError(`the job file ${file} must hold one JobSpec object`, 'see "The JobSpec" in README.md');
  }
  return value as Body;
}

function parseJson(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`the job file ${file} is not valid JSON: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')}`);
  }
}

function parseYaml(text: string, file: string): unknown {
  const doc = YAML.parseDocument(text);
  const problem = doc.errors[0];
  // The message's first line names the place ("... at line 2, column 1:"); the rest is a drawing of it.
  if (problem)
    throw new CliError(`the job file ${file} is not valid YAML: ${problem.message.split('\n')[0]!.replace(/:$/, '')}`);
  keepScalarsAsText(doc, text);
  return doc.toJS();
}

/**
 * YAML reads `engineVersion: 4.0` as the number 4 and `spark.sql.shuffle.partitions: 8` as a number, but the
 * JobSpec wants text there. Unquoted numbers and booleans in engineVersion, args, sparkConf and labels are
 * therefore taken as written.
 */
function keepScalarsAsText(doc: Document, text: string): void {
  const asWritten = (node: unknown) => {
    if (
      isScalar(node) &&
      node.type === 'PLAIN' &&
      node.range &&
      typeof node.value !== 'string' &&
      node.value !== null
    ) {
      node.value = text.slice(node.range[0], node.range[1]);
    }
  };
  asWritten(doc.get('engineVersion', true));
  const args = doc.get('args', true);
  if (isSeq(args)) args.items.forEach(asWritten);
  for (const key of ['sparkConf', 'labels']) {
    const map = doc.get(key, true);
    if (isMap(map)) for (const pair of map.items) asWritten(pair.value);
  }
}
