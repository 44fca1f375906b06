/**
 * The `spark-runner` program: global connection flags, the commands, and one place where every error
 * becomes a message and an exit code (see errors.ts for the codes).
 */
import fs from 'node:fs';
import { Command, CommanderError } from 'commander';
import { registerAdmin } from './commands/admin.js';
import { registerApply } from './commands/apply.js';
import { registerCancel } from './commands/cancel.js';
import { registerCatalog } from './commands/catalog.js';
import { registerEvents } from './commands/events.js';
import { registerJobs } from './commands/jobs.js';
import { registerList } from './commands/list.js';
import { registerMcp } from './commands/mcp.js';
import { registerLogs } from './commands/logs.js';
import { registerSchedules } from './commands/schedules.js';
import { registerSession } from './commands/session.js';
import type { Runtime } from './commands/shared.js';
import { registerStatus } from './commands/status.js';
import { registerStreaming } from './commands/streaming.js';
import { registerSubmit } from './commands/submit.js';
import { configFilePath, DEFAULT_URL, resolveConnection, type Connection } from './config.js';
import type { CliContext } from './context.js';
import { EXIT } from './errors.js';
import { ApiClient } from './http.js';
import { reportError } from './report.js';

const HELP = `
Connection, first match wins for each setting:
  1. --url, --token
  2. SPARK_RUNNER_URL, SPARK_RUNNER_TOKEN
  3. the config file { "url": "...", "token": "..." }: SPARK_RUNNER_CONFIG, else
     \${XDG_CONFIG_HOME:-~/.config}/spark-runner/config.json (here: CONFIG_PATH)
  4. ${DEFAULT_URL}, no token

Exit codes: 0 ok (submit --wait: SUCCEEDED), 1 FAILED, 2 CANCELLED, 3 usage, connection or API error,
130 interrupted.`;

/** The package version; package.json is one folder up from cli/ (two from dist/cli/ after `npm run build`). */
function version(): string {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(fs.readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}

/** Runs the CLI on `argv` (user arguments only, without node and the script) and returns the exit code. */
export async function run(argv: string[], ctx: CliContext): Promise<number> {
  let exitCode: number = EXIT.ok;
  let connection: Connection | undefined;
  const rt: Runtime = {
    ctx,
    api(command) {
      const flags = command.optsWithGlobals<{ url?: string; token?: string }>();
      connection = resolveConnection(flags, ctx.env);
      return new ApiClient(connection, ctx.signal);
    },
    exit(code) {
      exitCode = code;
    },
  };

  const program = new Command('spark-runner')
    .description('Submit, follow and manage Spark jobs on a Spark Runner API.')
    .version(version())
    .option('--url <url>', `API base URL (env SPARK_RUNNER_URL; default ${DEFAULT_URL})`)
    .option('--token <token>', 'API token (env SPARK_RUNNER_TOKEN)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => ctx.stdout.write(s), writeErr: (s) => ctx.stderr.write(s) })
    .showHelpAfterError('(add --help for usage)')
    .addHelpText('after', HELP.replace('CONFIG_PATH', configFilePath(ctx.env)));
  // Subcommands created with .command() inherit exitOverride and the output settings above.
  registerSubmit(program, rt);
  registerStatus(program, rt);
  registerCancel(program, rt);
  registerLogs(program, rt);
  registerList(program, rt);
  registerEvents(program, rt);
  registerApply(program, rt);
  registerSchedules(program, rt);
  registerJobs(program, rt);
  registerStreaming(program, rt);
  registerSession(program, rt);
  registerCatalog(program, rt);
  registerAdmin(program, rt);
  registerMcp(program, rt, version());

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    // Commander has already printed its own message (or the help) through configureOutput.
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.error;
    if (ctx.signal.aborted) return EXIT.interrupted;
    return reportError(err, ctx.stderr, connection);
  }
}
