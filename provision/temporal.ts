/**
 * The Temporal CLI, whose `server start-dev` is the embedded Temporal server for dev and tests.
 *
 * Resolution order: TEMPORAL_CLI, then `temporal` on PATH, then a binary cached under
 * ~/.cache/spark-runner/temporal/<version>/, and finally a build from Go modules. The build uses the wrapper
 * module in provision/temporal-cli/: a plain `go install github.com/temporalio/cli/cmd/temporal@v1.8.2` is
 * refused because the CLI's go.mod has a `replace ./cliext` directive, so the wrapper restates that replace
 * with cliext's pseudo-version (temporal-notes.md §1.3, route C). Its committed go.sum pins the build list.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Config } from '../config/index.js';
import { ProvisionError } from './errors.js';
import { buildFromWrapper } from './go-build.js';
import { startProcess, waitFor, type ManagedProcess, type StartOptions } from './process.js';
import { SEARCH_ATTRIBUTES } from '../schema/vocabulary.js';
import { temporalReachable } from '../config/temporal.js';

const run = promisify(execFile);

export const TEMPORAL_CLI_VERSION = '1.8.2';
/** Go version the CLI's go.mod requires. */
const GO_MIN = [1, 26, 4];
const WRAPPER_MODULE = path.join(import.meta.dirname, 'temporal-cli');

/** The CLI's spelling of a search attribute type (`--search-attribute Name=Keyword`). */
const CLI_TYPES: Record<string, string> = { KEYWORD: 'Keyword', TEXT: 'Text', INT: 'Int', DATETIME: 'Datetime' };

export interface TemporalCli {
  path: string;
  version: string;
}

async function versionOf(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['--version'], { timeout: 30_000 });
  return stdout.trim();
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Finds or builds the Temporal CLI. `log` receives progress lines for the (slow) first build. */
export async function ensureTemporalCli(config: Config, log: (line: string) => void): Promise<TemporalCli> {
  if (config.TEMPORAL_CLI) {
    const binary = path.resolve(config.TEMPORAL_CLI);
    try {
      fs.accessSync(binary, fs.constants.X_OK);
    } catch {
      throw new ProvisionError(
        `TEMPORAL_CLI=${config.TEMPORAL_CLI} is not an executable file: point it at a Temporal CLI binary, or unset it to build one from Go modules`,
      );
    }
    return { path: binary, version: await versionOf(binary) };
  }
  const fromPath = onPath('temporal');
  if (fromPath) return { path: fromPath, version: await versionOf(fromPath) };

  const dir = path.join(config.SPARK_RUNNER_CACHE, 'temporal', TEMPORAL_CLI_VERSION);
  const binary = path.join(dir, 'temporal');
  await buildFromWrapper(
    {
      name: 'Temporal CLI',
      version: TEMPORAL_CLI_VERSION,
      wrapper: WRAPPER_MODULE,
      pkg: 'github.com/temporalio/cli/cmd/temporal',
      ldflags: `-s -w -X github.com/temporalio/cli/internal/temporalcli.Version=${TEMPORAL_CLI_VERSION}`,
      goMin: GO_MIN,
      estimate: '~4-10 min',
      overrideVariable: 'TEMPORAL_CLI to a temporal binary',
    },
    binary,
    log,
  );
  return { path: binary, version: await versionOf(binary) };
}

export interface DevServerOptions {
  cli: string;
  port: number;
  /** Web UI port; `undefined` runs headless. */
  uiPort?: number;
  /** SQLite file; `undefined` keeps everything in memory. */
  dbFile?: string;
  namespace: string;
  onLine?: StartOptions['onLine'];
}

/** Starts `temporal server start-dev` with the project's search attributes, and waits until it answers. */
export async function startTemporalDevServer(options: DevServerOptions): Promise<ManagedProcess> {
  const args = ['server', 'start-dev', '--ip', '127.0.0.1', '--port', String(options.port)];
  args.push('--namespace', options.namespace, '--log-level', 'warn');
  if (options.uiPort === undefined) args.push('--headless');
  else args.push('--ui-port', String(options.uiPort));
  if (options.dbFile) {
    fs.mkdirSync(path.dirname(options.dbFile), { recursive: true });
    args.push('--db-filename', options.dbFile);
  }
  for (const { name, type } of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${name}=${CLI_TYPES[type]}`);
  // Updates (Cancel) and fast visibility for tests and the UI.
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true');
  args.push('--dynamic-config-value', 'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true');
  const server = startProcess('temporal', options.cli, args, { onLine: options.onLine, stopSignal: 'SIGTERM' });
  const address = `127.0.0.1:${options.port}`;
  try {
    await waitFor(() => temporalReachable(address), {
      timeoutMs: 60_000,
      message: `Temporal dev server did not come up on ${address}`,
      exited: server.exited,
    });
  } catch (err) {
    await server.stop('SIGKILL');
    throw err;
  }
  return server;
}
