/**
 * The MCP debug server (DESIGN.md "Debug utilities, MCP"): the tools of tools.ts on an McpServer, over stdio
 * (`spark-runner mcp`, with the CLI's URL and token) or streamable HTTP (POST /mcp on the API, api/routes/mcp.ts).
 * Either way the tools call the REST API with the caller's token, so they are team-scoped exactly as it is.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Readable, Writable } from 'node:stream';
import { registerDebugTools, type DebugApi } from './tools.js';

export const MCP_SERVER_NAME = 'spark-runner-debug';

/** A server with every debug tool, acting with `api`'s token. */
export function createDebugServer(api: DebugApi, version: string): McpServer {
  const server = new McpServer(
    { name: MCP_SERVER_NAME, version },
    {
      instructions:
        'Spark Runner debug tools: list and inspect executions, explain failures from their archived driver ' +
        'logs, read logs, compare a run with the last success of its job. cancel_execution needs confirm: true.',
    },
  );
  registerDebugTools(server, api);
  return server;
}

/** Serves `server` over stdio until the client closes its end (or `signal` aborts). */
export async function serveStdio(
  server: McpServer,
  io: { stdin: Readable; stdout: Writable },
  signal?: AbortSignal,
): Promise<void> {
  const transport = new StdioServerTransport(io.stdin, io.stdout);
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    io.stdin.once('end', () => resolve());
    signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  await server.connect(transport);
  await closed;
  await server.close();
}
