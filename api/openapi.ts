/**
 * GET /api/v1/openapi.json, generated from the route declarations (api/route.ts): each route's path, summary,
 * params, query, headers, request body and every response come from the zod schemas it validates with and
 * answers with (zod 4's JSON Schema output). Nothing here is written by hand per route, so the document cannot
 * drift from what the server serves; test/integration/openapi.test.ts checks that every registered route was
 * declared, and that each body schema accepts and rejects what its handler does.
 */
import { z } from 'zod';
import { loadConfig } from '../config/index.js';
import { defineRoute, reply, type Route, type ResponseSpec } from './route.js';
import { appRoutes, type RouteDeps } from './routes/index.js';
import type { ReferenceSubmitBody } from './reference-body.js';
import type { SubmitBody } from './routes/jobs.js';
import type { ManifestJsonBody } from './routes/manifests.js';
import type { McpMessage } from './routes/mcp.js';
import type { ScheduleBackfill, ScheduleNote, ScheduleTrigger } from './routes/schedules.js';
import type { CreateSessionBody } from './routes/sessions.js';
import type { ResourcesPatch } from '../service/continuous.js';
import * as wire from './wire.js';

const toJson = (s: z.ZodType, io: 'input' | 'output') =>
  z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>;

/** Named response shapes: each published once as `#/components/schemas/<name>`. */
const NAMED = new Map<z.ZodType, string>(
  Object.entries(wire as Record<string, unknown>).flatMap(([name, schema]) =>
    schema instanceof z.ZodType ? [[schema, name] as const] : [],
  ),
);

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

/** GET /api/v1/openapi.json itself, serving the document `document()` returns. */
export function openApiRoute(document: () => object): Route {
  return defineRoute({
    method: 'get',
    path: '/api/v1/openapi.json',
    summary: 'This document',
    public: true,
    responses: { 200: z.record(z.string(), z.unknown()) },
    handler: () =>
      Promise.resolve(reply(200, z.record(z.string(), z.unknown()), document() as Record<string, unknown>)),
  });
}

/** The routes as declared, for the document: built with the default config; no handler is called. */
export function declaredRoutes(): Route[] {
  return [...appRoutes({ config: loadConfig({}) } as RouteDeps), openApiRoute(() => ({}))];
}

/** The request body schemas, by component name: the very objects the route validation and handlers use. */
export function requestBodySchemas(routes: readonly Route[] = declaredRoutes()): Record<string, z.ZodType> {
  return Object.fromEntries(routes.flatMap((r) => Object.entries(r.body?.json ?? {})));
}

/** The request body schemas of the app's routes (kept as a constant for the drift tests). */
export const REQUEST_BODY_SCHEMAS = requestBodySchemas() as {
  SubmitBody: typeof SubmitBody;
  ReferenceSubmitBody: typeof ReferenceSubmitBody;
  ManifestJsonBody: typeof ManifestJsonBody;
  ScheduleNote: typeof ScheduleNote;
  ScheduleTrigger: typeof ScheduleTrigger;
  ScheduleBackfill: typeof ScheduleBackfill;
  CreateSessionBody: typeof CreateSessionBody;
  McpMessage: typeof McpMessage;
  ResourcesPatch: typeof ResourcesPatch;
};

function responseSchema(schema: z.ZodType, used: Set<string>): object {
  const name = NAMED.get(schema);
  if (name) {
    used.add(name);
    return ref(name);
  }
  if (schema instanceof z.ZodUnion && schema.options.every((o) => NAMED.has(o as z.ZodType))) {
    return { oneOf: (schema.options as z.ZodType[]).map((o) => responseSchema(o, used)) };
  }
  return toJson(schema, 'output');
}

function response(status: number, spec: ResponseSpec, used: Set<string>): object {
  if (spec === 'empty') return { description: 'no body' };
  if (spec === 'problem') {
    used.add('Problem');
    return { description: 'problem details', content: { 'application/problem+json': { schema: ref('Problem') } } };
  }
  if (!(spec instanceof z.ZodType)) {
    return { description: spec.text, content: { 'text/plain': { schema: { type: 'string' } } } };
  }
  const description = status >= 200 && status < 300 ? 'success' : 'answer';
  return { description, content: { 'application/json': { schema: responseSchema(spec, used) } } };
}

function parameters(route: Route): object[] {
  const fromObject = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
    if (!schema) return [];
    const json = toJson(schema, 'input') as { properties?: Record<string, object>; required?: string[] };
    return Object.entries(json.properties ?? {}).map(([name, prop]) => ({
      name,
      in: where,
      required: where === 'path' || (json.required ?? []).includes(name),
      schema: prop,
    }));
  };
  return [
    ...fromObject(route.params, 'path'),
    ...fromObject(route.query, 'query'),
    ...(route.headers ?? []).map((h) => ({
      name: h.name,
      in: 'header',
      required: false,
      description: h.description,
      schema: { type: 'string' },
    })),
  ];
}

function requestBody(route: Route): object | undefined {
  const body = route.body;
  if (!body) return undefined;
  const names = Object.keys(body.json);
  const json = names.length === 1 ? ref(names[0]!) : { oneOf: names.map(ref) };
  return {
    required: body.required ?? false,
    content: {
      ...Object.fromEntries(
        (body.yaml ?? []).map((t) => [t, { schema: { type: 'string', description: 'manifest YAML' } }]),
      ),
      'application/json': { schema: json },
    },
  };
}

const RETRY_AFTER = {
  'Retry-After': {
    description: 'seconds to wait before retrying (with the same Idempotency-Key)',
    schema: { type: 'integer' },
  },
};

/** The OpenAPI 3.1 document of the given routes (by default, the app's). */
export function openApiDocument(routes: readonly Route[] = declaredRoutes()): object {
  const used = new Set<string>();
  const paths: Record<string, Record<string, object>> = {};
  for (const route of routes) {
    const responses = Object.fromEntries(
      Object.entries(route.responses).map(([status, spec]) => [status, response(Number(status), spec, used)]),
    );
    // Everything that needs a token answers 401 without a valid one.
    if (!route.public) responses[401] = response(401, 'problem', used);
    // ...and 503 with Retry-After while Postgres or Temporal does not answer, or the pool is exhausted (problem.ts).
    if (!route.public) responses[503] = { ...response(503, 'problem', used), headers: RETRY_AFTER };
    const params = parameters(route);
    const body = requestBody(route);
    (paths[route.path] ??= {})[route.method] = {
      summary: route.summary,
      ...(params.length ? { parameters: params } : {}),
      ...(body ? { requestBody: body } : {}),
      ...(route.public ? { security: [] } : {}),
      responses,
    };
  }
  const bodies = requestBodySchemas(routes);
  return {
    openapi: '3.1.0',
    info: { title: 'Spark Runner API', version: '1' },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        ...Object.fromEntries(Object.entries(bodies).map(([name, s]) => [name, toJson(s, 'input')])),
        ...Object.fromEntries(
          [...used].sort().map((name) => [name, toJson(wire[name as keyof typeof wire] as z.ZodType, 'output')]),
        ),
      },
    },
    security: [{ bearer: [] }],
    paths,
  };
}
