/**
 * The OpenAPI document cannot drift from the app: the (method, path) pairs the real Express app registers must
 * be exactly the ones documented, every documented request body must be the zod schema its handler validates
 * with, and each body schema (the zod schema, and the JSON Schema the document publishes for it) must accept a
 * known-good body and reject bad ones, as the running handler does.
 */
import crypto from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createApp } from '../../api/app.js';
import { TokenRegistry } from '../../api/auth.js';
import { openApiDocument, REQUEST_BODY_SCHEMAS } from '../../api/openapi.js';
import { ReferenceSubmitBody } from '../../api/reference-body.js';
import { SubmitBody } from '../../api/routes/jobs.js';
import { ManifestJsonBody, YAML_TYPES } from '../../api/routes/manifests.js';
import { McpMessage } from '../../api/routes/mcp.js';
import { ScheduleBackfill, ScheduleNote, ScheduleTrigger } from '../../api/routes/schedules.js';
import { CreateSessionBody } from '../../api/routes/sessions.js';
import { ResourcesPatch } from '../../service/continuous.js';
import { composeGateway } from '../../gateway/compose.js';
import { scheduleIdOf as scheduleIdFor } from '../../schema/vocabulary.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { openTestStack, type TestStack } from '../helpers/stack.js';

type Json = Record<string, unknown>;
interface Operation {
  summary?: string;
  security?: unknown[];
  parameters?: { name: string; in: string; required?: boolean }[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Json }> };
  responses: Record<string, unknown>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Json> };
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

let stack: TestStack;
let api: TestApi;
let doc: Document;
let registered: string[];

/** Express 5 (router 2): route layers carry route.path and route.methods; a mounted router has handle.stack. */
interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: unknown };
  rawPath?: unknown;
}

function routesOf(layers: Layer[], prefix = ''): string[] {
  return layers.flatMap((layer) => {
    if (layer.route) {
      const { path, methods } = layer.route;
      if (typeof path !== 'string' || !/^[\w\-/.:]+$/.test(path)) {
        throw new Error(`route path ${String(path)} cannot be mapped to OpenAPI; extend this test`);
      }
      return Object.keys(methods).map((method) => {
        if (!HTTP_METHODS.includes(method)) throw new Error(`route ${path} handles "${method}"; document it`);
        return `${method.toUpperCase()} ${prefix}${path.replace(/:(\w+)/g, '{$1}')}`;
      });
    }
    const nested = layer.handle?.stack;
    if (!Array.isArray(nested)) return [];
    const mount = layer.rawPath ?? '/';
    if (typeof mount !== 'string') throw new Error('a router mounted at a non-string path; extend this test');
    return routesOf(nested as Layer[], mount === '/' ? prefix : prefix + mount.replace(/\/$/, ''));
  });
}

const operations = () =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.includes(method))
      .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, op })),
  );

beforeAll(async () => {
  stack = await openTestStack();
  api = await startTestApi(stack);
  // The app as test/helpers/api.ts builds it, not listening: only its router is inspected.
  const logger = pino({ level: 'warn' });
  const spark = { sparkHome: stack.config.SPARK_HOME!, python: stack.config.SPARK_PYTHON };
  const app = createApp({
    client: stack.client,
    store: stack.store,
    gateway: (await composeGateway({ role: 'api', config: stack.config, logger, store: stack.store, spark })).gateway!,
    config: stack.config,
    sparkHome: spark.sparkHome,
    logger,
    tokens: new TokenRegistry([]),
  });
  registered = [...new Set(routesOf((app as unknown as { router: { stack: Layer[] } }).router.stack))].sort();
  doc = (await (await fetch(`${api.url}/api/v1/openapi.json`)).json()) as Document;
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
});

describe('routes', () => {
  it('documents exactly the (method, path) pairs the app registers', () => {
    expect(registered).toEqual(expect.arrayContaining(['POST /api/v1/jobs', 'GET /api/v1/schedules/{id}']));
    expect(
      operations()
        .map((o) => o.key)
        .sort(),
    ).toEqual(registered);
  });

  it('serves the document openApiDocument() builds', () => {
    expect(doc).toEqual(JSON.parse(JSON.stringify(openApiDocument())));
  });

  it('gives each operation a summary, its path parameters, a success response, and 401 and 503 with Retry-After where a token is needed', () => {
    for (const { key, path, op } of operations()) {
      expect(op.summary, key).toMatch(/\S/);
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (op.parameters ?? []).filter((p) => p.in === 'path');
      expect(declared.map((p) => p.name).sort(), key).toEqual(inPath);
      expect(declared.every((p) => p.required)).toBe(true);
      expect(
        Object.keys(op.responses).some((s) => /^2\d\d$/.test(s)),
        key,
      ).toBe(true);
      const open = Array.isArray(op.security) && op.security.length === 0;
      expect(open || '401' in op.responses, key).toBe(true);
      // An outage or an exhausted pool (hostile-input.test.ts makes one) is a documented 503 that says when to retry.
      const unavailable = op.responses['503'] as { headers?: Record<string, unknown> } | undefined;
      expect(open || unavailable?.headers?.['Retry-After'] !== undefined, key).toBe(true);
      // /mcp (the MCP debug server) takes the API's tokens too.
      expect(open, key).toBe(!(path.startsWith('/api/v1/') || path === '/mcp') || path === '/api/v1/openapi.json');
    }
  });
});

// A good body and bad ones for every request body schema (a new schema without examples does not compile).
// `zodOnly` bodies are rejected by a refinement that JSON Schema cannot express.
const EXAMPLES: Record<keyof typeof REQUEST_BODY_SCHEMAS, { good: unknown; bad: unknown[]; zodOnly?: unknown[] }> = {
  SubmitBody: {
    good: { name: 'openapi-ex', engineVersion: '4.0', application: { type: 'python', file: 'job.py' } },
    bad: [
      { name: 'openapi-ex', application: { type: 'python', file: 'job.py' } },
      { name: 'openapi-ex', engineVersion: '4.0', application: { type: 'python', file: 'job.py' }, bogus: 1 },
      { name: 'openapi-ex', engineVersion: '4.0', application: { type: 'cobol', file: 'job.cbl' } },
      { name: 'openapi-ex', engineVersion: '4.0', application: { type: 'python', file: 'job.py' }, sizing: 'always' },
    ],
  },
  ReferenceSubmitBody: {
    good: {
      name: 'openapi-ex',
      team: 'data-infra',
      config: {
        spark_version: '4.0',
        core_etl: {
          version: '1.2.3',
          job_spec: { sources: [{ type: 'parquet', path: '/in' }], sinks: [{ type: 'console' }] },
        },
      },
    },
    bad: [
      { name: 'openapi-ex', config: { spark_version: '4.0' } },
      { name: 'openapi-ex', config: { spark_version: '4.0', core_etl: { version: '1', job_spec: {}, x: 1 } } },
    ],
  },
  ManifestJsonBody: {
    good: { manifest: 'apiVersion: dcp.pedregal.doordash.com/v1\n', file: 'jobs.yaml' },
    bad: [{}, { manifest: '' }, { yaml: 'kind: SparkJob' }, { manifest: 42 }],
  },
  ScheduleNote: { good: { note: 'maintenance window' }, bad: [{ note: 'x'.repeat(501) }, { reason: 'why' }] },
  ScheduleTrigger: { good: { overlap: 'SKIP' }, bad: [{ overlap: 'NEVER' }, { overlap: 'SKIP', now: true }] },
  ScheduleBackfill: {
    good: { start: '2024-01-01T00:00:00Z', end: '2024-01-02T00:00:00+02:00', overlap: 'BUFFER_ALL' },
    bad: [
      { start: '2024-01-01T00:00:00Z' },
      { start: '2024-01-01T00:00:00Z', end: 'tomorrow' },
      { start: '2024-01-01T00:00:00', end: '2024-01-02T00:00:00Z' },
    ],
    zodOnly: [{ start: '2024-01-02T00:00:00Z', end: '2024-01-01T00:00:00Z' }],
  },
  CreateSessionBody: {
    good: { team: 'data-infra', spark_version: '4.0', idle_timeout_s: 600 },
    bad: [{ idle_timeout_s: 0 }, { team: 'data-infra', colour: 'blue' }, { max_lifetime_s: 'long' }],
  },
  ResourcesPatch: {
    good: { executor: { instances: 3, memory: '2g' } },
    bad: [{ executors: { instances: 3 } }, { driver: { memory: '2g', gpus: 1 } }, { executor: { cores: 'two' } }],
    zodOnly: [{}],
  },
  McpMessage: {
    good: { jsonrpc: '2.0', id: 1, method: 'tools/list' },
    bad: [{ jsonrpc: '1.0', id: 1, method: 'tools/list' }, { jsonrpc: '2.0', id: 1, method: 'x', extra: true }, []],
  },
};

/** The component names a media type's schema refers to (a $ref, or a oneOf of $refs). */
function componentsOf(schema: Json): string[] | undefined {
  const refs = (schema.oneOf as Json[] | undefined) ?? [schema];
  const names = refs.map((s) =>
    typeof s.$ref === 'string' ? /^#\/components\/schemas\/(\w+)$/.exec(s.$ref)?.[1] : undefined,
  );
  return names.every((n) => n !== undefined) ? names.filter((n) => n !== undefined) : undefined;
}

describe('request bodies', () => {
  it('publishes the very zod schemas the route handlers validate with', () => {
    expect(REQUEST_BODY_SCHEMAS).toStrictEqual({
      SubmitBody,
      ReferenceSubmitBody,
      ManifestJsonBody,
      ScheduleNote,
      ScheduleTrigger,
      ScheduleBackfill,
      CreateSessionBody,
      McpMessage,
      ResourcesPatch,
    });
    for (const [name, s] of Object.entries(REQUEST_BODY_SCHEMAS)) {
      expect(doc.components.schemas[name], name).toEqual(
        JSON.parse(JSON.stringify(z.toJSONSchema(s, { io: 'input', unrepresentable: 'any' }))),
      );
    }
  });

  it('documents every body as a zod component, or (manifests only) as YAML text', () => {
    const used = new Set<string>();
    for (const { key, op } of operations()) {
      for (const [type, { schema }] of Object.entries(op.requestBody?.content ?? {})) {
        const names = componentsOf(schema);
        if (names) {
          expect(type, key).toBe('application/json');
          for (const n of names) {
            expect(Object.keys(REQUEST_BODY_SCHEMAS), `${key} ${n}`).toContain(n);
            used.add(n);
          }
        } else {
          expect(key).toMatch(/^(POST|DELETE) \/api\/v1\/manifests$/);
          expect(YAML_TYPES).toContain(type);
          expect(schema.type).toBe('string');
        }
      }
    }
    expect([...used].sort()).toEqual(Object.keys(REQUEST_BODY_SCHEMAS).sort());
  });

  for (const [name, ex] of Object.entries(EXAMPLES)) {
    it(`${name}: the zod schema and the published JSON Schema accept the good body and reject the bad ones`, () => {
      const zodSchema = REQUEST_BODY_SCHEMAS[name as keyof typeof REQUEST_BODY_SCHEMAS] as z.ZodType;
      const fromDoc = z.fromJSONSchema(doc.components.schemas[name] as Parameters<typeof z.fromJSONSchema>[0]);
      for (const s of [zodSchema, fromDoc]) {
        expect(s.safeParse(ex.good).error, name).toBeUndefined();
        for (const bad of [...ex.bad, 42, 'text', null])
          expect(s.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
      }
      for (const bad of ex.zodOnly ?? []) expect(zodSchema.safeParse(bad).success).toBe(false);
    });
  }

  // Each documented body, sent to the running handler: the good one passes validation, the bad ones are 400.
  const run = crypto.randomUUID().slice(0, 6);
  const absentSchedule = scheduleIdFor(`data-infra/openapi-none-${run}`);
  const manifestYaml = `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata:
  name: openapi-${run}
  team: data-infra
spec:
  engineVersion: "4.0"
  application: { type: python, file: job.py }
`;
  const RECIPES: Record<string, { url: string; okStatus: number; good?: Record<string, unknown> }> = {
    'POST /api/v1/jobs': { url: '/api/v1/jobs?dryRun=true', okStatus: 200 },
    'POST /api/v1/manifests': {
      url: '/api/v1/manifests?dryRun=true',
      okStatus: 200,
      good: { ManifestJsonBody: { manifest: manifestYaml } },
    },
    // Deleting a job that was never applied removes nothing.
    'DELETE /api/v1/manifests': {
      url: '/api/v1/manifests',
      okStatus: 200,
      good: { ManifestJsonBody: { manifest: manifestYaml } },
    },
    // The body is validated before the schedule is looked up: a good body reaches the 404.
    'POST /api/v1/schedules/{id}/pause': { url: `/api/v1/schedules/${absentSchedule}/pause`, okStatus: 404 },
    'POST /api/v1/schedules/{id}/unpause': { url: `/api/v1/schedules/${absentSchedule}/unpause`, okStatus: 404 },
    'POST /api/v1/schedules/{id}/trigger': { url: `/api/v1/schedules/${absentSchedule}/trigger`, okStatus: 404 },
    'POST /api/v1/schedules/{id}/backfill': { url: `/api/v1/schedules/${absentSchedule}/backfill`, okStatus: 404 },
    // This file's API serves no sessions (no sessions store): a good body passes validation and reaches the 503.
    'POST /api/v1/sessions': { url: '/api/v1/sessions', okStatus: 503 },
    // A good JSON-RPC body passes validation and reaches the MCP transport, which answers 406 to a client that
    // does not accept both application/json and text/event-stream (this recipe sends no Accept).
    'POST /mcp': { url: '/mcp', okStatus: 406 },
    // The body is validated before the job is looked up: a good body reaches the 404 of a job never applied.
    'PATCH /api/v1/jobs/{id}/resources': {
      url: `/api/v1/jobs/continuous-data-infra.none-${run}/resources`,
      okStatus: 404,
    },
  };

  const send = async (method: string, url: string, type: string, body: string) => {
    const res = await fetch(api.url + url, {
      method,
      headers: { Authorization: `Bearer ${api.tokens.dataInfra}`, 'Content-Type': type },
      body,
    });
    return { status: res.status, body: (await res.json()) as Json };
  };

  it('has a live recipe for every operation that takes a body', () => {
    const withBody = operations()
      .filter((o) => o.op.requestBody)
      .map((o) => o.key);
    expect(withBody.sort()).toEqual(Object.keys(RECIPES).sort());
  });

  it('the running handlers accept the good bodies and answer 400 to the bad ones', async () => {
    for (const { key, op } of operations().filter((o) => o.op.requestBody)) {
      const recipe = RECIPES[key]!;
      const method = key.split(' ')[0]!;
      for (const [type, { schema }] of Object.entries(op.requestBody!.content)) {
        const names = componentsOf(schema);
        if (!names) {
          const good = await send(method, recipe.url, type, manifestYaml);
          expect(good.status, `${key} ${type}: ${JSON.stringify(good.body)}`).toBe(recipe.okStatus);
          const bad = await send(method, recipe.url, type, 'kind: SparkJob\nspec: [\n');
          expect(bad.status, `${key} ${type}`).toBe(400);
          continue;
        }
        for (const name of names) {
          const ex = EXAMPLES[name as keyof typeof EXAMPLES];
          const good = await send(method, recipe.url, type, JSON.stringify(recipe.good?.[name] ?? ex.good));
          expect(good.status, `${key} ${name}: ${JSON.stringify(good.body)}`).toBe(recipe.okStatus);
          for (const bad of [...ex.bad, ...(ex.zodOnly ?? [])]) {
            const res = await send(method, recipe.url, type, JSON.stringify(bad));
            expect(res.status, `${key} ${name} ${JSON.stringify(bad)}`).toBe(400);
            expect(res.body.errors, `${key} ${name} ${JSON.stringify(bad)}`).toBeDefined();
          }
        }
      }
    }
  });
});
