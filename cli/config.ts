/**
 * Where the CLI finds the API and its token, first match wins for each of the two settings:
 *
 *   1. flags          --url, --token
 *   2. environment    SPARK_RUNNER_URL, SPARK_RUNNER_TOKEN
 *   3. config file    SPARK_RUNNER_CONFIG, else ${XDG_CONFIG_HOME:-~/.config}/spark-runner/config.json,
 *                     holding { "url": "...", "token": "..." }; a missing default file is fine
 *   4. defaults       http://localhost:8080, no token
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { CliError } from './errors.js';

export const DEFAULT_URL = 'http://localhost:8080';

export interface Connection {
  /** The API's base URL, without a trailing slash. */
  url: string;
  token?: string;
  /** Where the url and the token came from, for error hints ("--token", "SPARK_RUNNER_TOKEN", a file path). */
  sources: { url: string; token?: string };
}

// Unknown keys are ignored, so a config file written for a newer CLI still works with this one.
const ConfigFile = z.object({ url: z.string().min(1).optional(), token: z.string().min(1).optional() });

/** The config file's path: SPARK_RUNNER_CONFIG, else the XDG location. */
export function configFilePath(env: NodeJS.ProcessEnv): string {
  if (env.SPARK_RUNNER_CONFIG) return path.resolve(env.SPARK_RUNNER_CONFIG);
  const base = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(base, 'spark-runner', 'config.json');
}

function readConfigFile(file: string, required: boolean): z.infer<typeof ConfigFile> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CliError(
      `cannot read the config file ${file}: ${(err as Error).message}`,
      'fix or unset SPARK_RUNNER_CONFIG',
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new CliError(`the config file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ConfigFile.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    throw new CliError(
      `the config file ${file} is invalid: ${where}: ${issue.message}`,
      'expected { "url": "...", "token": "..." }',
    );
  }
  return parsed.data;
}

function normalizeUrl(url: string, source: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new CliError(`"${url}" (from ${source}) is not a URL`, 'expected something like http://localhost:8080');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new CliError(`"${url}" (from ${source}) is not an http(s) URL`);
  }
  return url.replace(/\/+$/, '');
}

/** Resolves the connection from flags, then the environment, then the config file, then the defaults. */
export function resolveConnection(flags: { url?: string; token?: string }, env: NodeJS.ProcessEnv): Connection {
  const file = configFilePath(env);
  const fromFile = readConfigFile(file, Boolean(env.SPARK_RUNNER_CONFIG));
  const pick = (...candidates: [string | undefined, string][]) => candidates.find(([value]) => value);

  const [url, urlSource] = pick(
    [flags.url, '--url'],
    [env.SPARK_RUNNER_URL, 'SPARK_RUNNER_URL'],
    [fromFile.url, file],
    [DEFAULT_URL, 'the default'],
  )!;
  const token = pick([flags.token, '--token'], [env.SPARK_RUNNER_TOKEN, 'SPARK_RUNNER_TOKEN'], [fromFile.token, file]);
  return {
    url: normalizeUrl(url!, urlSource),
    token: token?.[0],
    sources: { url: urlSource, token: token?.[1] },
  };
}
