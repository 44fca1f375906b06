/**
 * POST /mcp: the MCP debug server (mcp/) over streamable HTTP, stateless (a fresh server and transport per
 * request, JSON answers, no session id), behind the same bearer check as /api/v1 (api/app.ts). Its tools call this
 * same API over loopback with the caller's own token, so they see exactly what that token sees over REST.
 * GET and DELETE (a stateful server's event stream and session end) are not served: there are no sessions.
 */
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Request } from 'express';
import { z } from 'zod';
import { ApiClient } from '../../cli/http.js';
import { createDebugServer } from '../../mcp/server.js';
import { defineRoute, type Route } from '../route.js';

const RequestId = z.union([z.string(), z.number().int()]);
const Params = z.record(z.string(), z.unknown());
/**
 * The four shapes JSON-RPC 2.0 allows, as the SDK's transport checks them (a request, a notification, a result, an
 * error), so a message it would refuse is refused here first, as a problem+json 400 with the field.
 */
const JsonRpcMessage = z.union([
  z.object({ jsonrpc: z.literal('2.0'), id: RequestId, method: z.string().min(1), params: Params.optional() }).strict(),
  z.object({ jsonrpc: z.literal('2.0'), method: z.string().min(1), params: Params.optional() }).strict(),
  z.object({ jsonrpc: z.literal('2.0'), id: RequestId, result: Params }).strict(),
  z
    .object({
      jsonrpc: z.literal('2.0'),
      id: RequestId.optional(),
      error: z.object({ code: z.number().int(), message: z.string(), data: z.unknown().optional() }).strict(),
    })
    .strict(),
]);

/** A JSON-RPC 2.0 message or a batch of them, as MCP's streamable HTTP transport takes them. */
export const McpMessage = z.union([JsonRpcMessage, z.array(JsonRpcMessage).min(1).max(100)]);

// One answer per request, or an array of them for a batch.
const McpAnswer = z
  .union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))])
  .describe('the JSON-RPC answer');

/** This API as seen from inside its own process: the address and port the request came in on. */
function loopbackUrl(req: Request): string {
  const address = (req.socket.localAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${req.socket.localPort}`;
}

export function mcpRoutes(deps: { version?: string } = {}): Route[] {
  return [
    defineRoute({
      method: 'post',
      path: '/mcp',
      summary: 'The MCP debug server (streamable HTTP, stateless): list_executions, why_failed, get_logs, …',
      body: { json: { McpMessage }, schema: McpMessage, required: true },
      // 202: the transport's acknowledgement of notifications and responses, which has no body.
      responses: { 200: McpAnswer, 202: 'empty', 400: 'problem', 406: McpAnswer },
      async handler({ req, res, body }) {
        const token = /^Bearer\s+(\S+)$/i.exec(req.get('Authorization') ?? '')![1]!;
        const abort = new AbortController();
        res.on('close', () => abort.abort());
        const api = new ApiClient(
          { url: loopbackUrl(req), token, sources: { url: 'the API itself', token: 'the MCP request' } },
          abort.signal,
        );
        const server = createDebugServer(api, deps.version ?? '1');
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          enableJsonResponse: true,
        });
        res.on('close', () => {
          void transport.close();
          void server.close();
        });
        await server.connect(transport);
        await transport.handleRequest(req, res, body);
        return undefined;
      },
    }),
  ];
}
