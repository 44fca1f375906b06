/**
 * Routes declared once, as data (STYLE.md §17). A declaration gives the method, the path, the schemas of params,
 * query, body and every response, and the handler. From it, `mountRoutes` validates each request (400 with field
 * paths, before the handler runs), and api/openapi.ts generates the OpenAPI document; the tests derive their
 * route matrices from the same list, so none of them can drift from what is served.
 *
 * How to add a route: declare it with `defineRoute` in the routes file of its resource (api/routes/), listing
 * every response it gives; a domain error thrown by a service reaches the client through `problemOf`
 * (api/problem.ts), so a handler only returns its success.
 */
import type { Request, RequestHandler, Response, Router } from 'express';
import { z } from 'zod';
import type { Principal } from './auth.js';
import { HttpProblem, validationProblem } from './problem.js';

export const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;
export type Method = (typeof METHODS)[number];

/** A response body: JSON of a schema, text, a problem+json error, or none at all (`empty`, e.g. a 202 ack). */
export type ResponseSpec = z.ZodType | { text: string } | 'problem' | 'empty';

export interface BodySpec<B extends z.ZodType> {
  /** Named JSON schemas (OpenAPI components); several are a oneOf, left to the handler to tell apart. */
  json: Record<string, z.ZodType>;
  /** What the handler receives; with a single JSON schema, it is that schema, validated before the handler. */
  schema: B;
  /** The YAML media types the route also takes as text (manifests). */
  yaml?: readonly string[];
  required?: boolean;
  /** Middleware that reads this body (e.g. a YAML text parser), run before validation. */
  parsers?: RequestHandler[];
}

export interface RouteContext<P, Q, B> {
  params: P;
  query: Q;
  body: B;
  /** Undefined only on public routes. */
  principal: Principal;
  req: Request;
  res: Response;
}

/** What a handler answers: a status and a body for its JSON or text response, or `undefined` when it streamed. */
export type Reply = { status: number; body: unknown } | undefined;

export interface Route<P = unknown, Q = unknown, B = unknown> {
  method: Method;
  /** OpenAPI style, `/api/v1/jobs/{id}`. */
  path: string;
  summary: string;
  /** No token needed (health, metrics, this document). */
  public?: boolean;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: BodySpec<z.ZodType<B>>;
  /** Headers the route reads, for the document. */
  headers?: { name: string; description: string }[];
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<P, Q, B>): Promise<Reply>;
}

/** Declares a route; the types of params, query and body follow from its schemas. */
export function defineRoute<
  P extends z.ZodType = z.ZodType<Record<string, never>>,
  Q extends z.ZodType = z.ZodType<Record<string, never>>,
  B extends z.ZodType = z.ZodType<undefined>,
>(route: {
  method: Method;
  path: string;
  summary: string;
  public?: boolean;
  params?: P;
  query?: Q;
  body?: BodySpec<B>;
  headers?: { name: string; description: string }[];
  responses: Record<number, ResponseSpec>;
  handler(ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>>): Promise<Reply>;
}): Route<z.output<P>, z.output<Q>, z.output<B>> {
  return route as unknown as Route<z.output<P>, z.output<Q>, z.output<B>>;
}

/** A JSON reply, typed by the response schema it answers with. */
export function reply<S extends z.ZodType>(status: number, _schema: S, body: z.input<S>): Reply {
  return { status, body };
}

/** `/api/v1/jobs/{id}` -> `/api/v1/jobs/:id`. */
export function expressPath(path: string): string {
  return path.replace(/\{(\w+)\}/g, ':$1');
}

function parse<T>(schema: z.ZodType<T> | undefined, value: unknown, prefix: string): T {
  if (!schema) return undefined as T;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw validationProblem(parsed.error, prefix);
  return parsed.data;
}

/**
 * The answer to a declared path asked with a method it does not take: 405 with `Allow` listing the methods it
 * does (HEAD beside GET, which Express serves). Mount it after the routes; a path nobody declared falls through.
 */
export function methodNotAllowed(routes: readonly Route[]): RequestHandler {
  const byPath = new Map<string, { pattern: RegExp; methods: Set<string> }>();
  for (const route of routes) {
    const entry = byPath.get(route.path) ?? {
      pattern: new RegExp(`^${route.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{\w+\\?\}/g, '[^/]+')}/?$`),
      methods: new Set<string>(),
    };
    entry.methods.add(route.method.toUpperCase());
    if (route.method === 'get') entry.methods.add('HEAD');
    byPath.set(route.path, entry);
  }
  return (req, _res, next) => {
    const allowed = new Set<string>();
    for (const { pattern, methods } of byPath.values()) {
      if (pattern.test(req.path)) for (const m of methods) allowed.add(m);
    }
    if (allowed.size === 0 || allowed.has(req.method)) return next();
    const allow = [...allowed].sort().join(', ');
    throw new HttpProblem(405, 'Method not allowed', `${req.method} is not served here; use ${allow}`, undefined, {
      Allow: allow,
    });
  };
}

/** Registers every route on the router: its body parsers, then validation of params, query and body, then the handler. */
export function mountRoutes(router: Router, routes: readonly Route[]): void {
  for (const route of routes) {
    const handle: RequestHandler = async (req, res) => {
      const params = parse(route.params, req.params, 'path');
      const query = parse(route.query ?? z.object({}).strict(), req.query, 'query');
      let body: unknown = req.body;
      if (route.body) {
        if (route.body.required && (body === undefined || body === null)) {
          throw new HttpProblem(400, 'Invalid request', 'a request body is required', [
            { path: '(body)', message: 'required' },
          ]);
        }
        body = parse(route.body.schema, body ?? {}, '');
      }
      const answer = await route.handler({ params, query, body, principal: req.principal!, req, res });
      if (!answer) return;
      const spec = route.responses[answer.status];
      if (spec && typeof spec === 'object' && 'text' in spec) {
        if (!res.get('Content-Type')) res.type('text/plain; charset=utf-8');
        res.status(answer.status).send(answer.body);
      } else res.status(answer.status).json(answer.body);
    };
    router[route.method](expressPath(route.path), ...(route.body?.parsers ?? []), handle);
  }
}
