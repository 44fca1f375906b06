/**
 * `spark-runner mcp`: the MCP debug server (mcp/) over stdio, for an assistant that starts it as a subprocess. Its
 * tools call the API with this CLI's own connection (--url/--token, SPARK_RUNNER_URL/SPARK_RUNNER_TOKEN, the config
 * file), so they see what that token sees. Stdout carries the protocol only; it runs until stdin closes.
 */
import type { Command } from 'commander';
import type { Writable } from 'node:stream';
import { createDebugServer, serveStdio } from '../../mcp/server.js';
import { CliError } from '../errors.js';
import type { Runtime } from './shared.js';

export function registerMcp(program: Command, rt: Runtime, version: string): void {
  program
    .command('mcp')
    .description('serve the MCP debug tools (why_failed, get_logs, …) over stdio, with this connection and token')
    .action(async (_opts: unknown, cmd: Command) => {
      const { stdin } = rt.ctx;
      if (!stdin) throw new CliError('spark-runner mcp needs a standard input to read MCP messages from');
      const server = createDebugServer(rt.api(cmd), version);
      await serveStdio(server, { stdin, stdout: rt.ctx.stdout as unknown as Writable }, rt.ctx.signal);
    });
}
