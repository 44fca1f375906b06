/** What every command gets from the program: the context, an API client, and a way to set the exit code. */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
import type { ApiClient } from '../http.js';

export interface Runtime {
  ctx: CliContext;
  /** A client for the connection described by --url/--token, the environment and the config file. */
  api(command: Command): ApiClient;
  /** Sets the process's exit code (0 unless a command says otherwise). */
  exit(code: number): void;
}

export type OutputFormat = 'table' | 'json';

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'table for people, json for the API answer as is')
    .choices(['table', 'json'])
    .default('table');
}

/** A commander parser for a positive integer option. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive whole number');
  return n;
}

/** A commander parser for a repeatable option: each occurrence adds one value. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** The path of one execution; ids are opaque to the CLI. */
export function jobPath(id: string, suffix = ''): string {
  return `/api/v1/jobs/${encodeURIComponent(id)}${suffix}`;
}

/** The id of a streaming job's continuous loop: `team/name` -> `continuous-team.name`. */
export function continuousId(jobPathValue: string): string {
  return `continuous-${jobPathValue.replace('/', '.')}`;
}
