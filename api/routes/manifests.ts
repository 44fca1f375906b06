/**
 * /api/v1/manifests: apply (POST), dry-run diff (POST ?dryRun=true) and delete (DELETE) of DCP manifests, plus
 * the jobs they define (GET /api/v1/manifests/jobs[/{team}/{name}]).
 *
 * Body: the YAML text with Content-Type application/yaml (or text/yaml, application/x-yaml), or JSON
 * `{ "manifest": "<yaml>", "file": "name shown in errors" }`. A manifest error is a 400 whose `errors` carry the
 * field path, line and column; a job of another team is a 403; an unsupported engine version a 422.
 */
import express, { type Request, type RequestHandler } from 'express';
import { z } from 'zod';
import { parseManifestFile, type ManifestJob, type ManifestPool } from '../../dcp/manifest.js';
import { Unavailable } from '../../service/errors.js';
import {
  applyManifest,
  applyPools,
  deleteManifest,
  deletePools,
  diffManifest,
  getJobView,
  listJobOverviews,
  planPools,
  type Actor,
  type ManifestDeps,
  type PoolManifestDeps,
} from '../../service/manifests.js';
import type { SessionStore } from '../../store/sessions.js';
import type { Principal } from '../auth.js';
import { HttpProblem, validationProblem } from '../problem.js';
import { defineRoute, reply, type Route } from '../route.js';
import { manifestJobView } from '../views.js';
import * as wire from '../wire.js';

export type ManifestRoutesDeps = ManifestDeps & {
  config: ManifestDeps['config'] & PoolManifestDeps['config'] & { API_MAX_BODY_BYTES: number };
  /** For `kind: SessionPool` documents; without it a manifest holding one answers 503. */
  sessions?: SessionStore;
};

export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml'];

/** The JSON form of a manifest body (the YAML form is the manifest text itself). */
export const ManifestJsonBody = z.object({ manifest: z.string().min(1), file: z.string().min(1).optional() }).strict();
export const ManifestQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() }).strict();
export const ManifestDeleteQuery = z.object({}).strict();

/** A manifest body as the handler gets it: its text and the file name errors name. */
const ManifestBody = z.union([z.string(), ManifestJsonBody]);

function manifestOf(body: z.output<typeof ManifestBody>): { jobs: ManifestJob[]; pools: ManifestPool[] } {
  return typeof body === 'string'
    ? parseManifestFile(body, 'manifest.yaml')
    : parseManifestFile(body.manifest, body.file ?? 'manifest.yaml');
}

const actorOf = (p: Principal): Actor => ({ team: p.team, role: p.role });

export function manifestRoutes(deps: ManifestRoutesDeps): Route[] {
  // The two routes that take a manifest body; an unparsed body of another type would reach them as undefined.
  const parsers: RequestHandler[] = [
    express.text({ type: YAML_TYPES, limit: deps.config.API_MAX_BODY_BYTES }),
    (req: Request, _res, next) => {
      if (req.body === undefined) {
        throw new HttpProblem(
          415,
          'Unsupported media type',
          `send the manifest as ${YAML_TYPES.join(', ')}, or as JSON {"manifest": "<yaml>"}`,
        );
      }
      // A JSON body is validated as the JSON form, so its errors name its fields.
      if (typeof req.body !== 'string') {
        const parsed = ManifestJsonBody.safeParse(req.body);
        if (!parsed.success) throw validationProblem(parsed.error);
      }
      next();
    },
  ];
  const body = { json: { ManifestJsonBody }, yaml: YAML_TYPES, schema: ManifestBody, required: true, parsers };
  const poolDeps = (): PoolManifestDeps => {
    if (!deps.sessions) throw new Unavailable('session pools are not served by this process');
    return { client: deps.client, sessions: deps.sessions, config: deps.config };
  };

  return [
    defineRoute({
      method: 'post',
      path: '/api/v1/manifests',
      summary: "Apply a manifest's jobs (an idempotent upsert); dryRun=true reports what would change",
      query: ManifestQuery,
      body,
      responses: {
        200: wire.ManifestApplied,
        400: 'problem',
        403: 'problem',
        413: 'problem',
        415: 'problem',
        422: 'problem',
        503: 'problem',
      },
      async handler({ query, body: manifest, principal }) {
        const { jobs, pools } = manifestOf(manifest);
        const dryRun = query.dryRun === 'true';
        const actor = actorOf(principal);
        // Pools are checked before any job is written, so a refused pool leaves the whole manifest unapplied.
        if (pools.length > 0) await planPools(poolDeps(), actor, pools);
        const plans = await (dryRun ? diffManifest : applyManifest)(deps, actor, jobs);
        const poolPlans = pools.length > 0 ? await (dryRun ? planPools : applyPools)(poolDeps(), actor, pools) : [];
        return reply(200, wire.ManifestApplied, {
          dry_run: dryRun,
          changed: [...plans, ...poolPlans].some((p) => p.action !== 'unchanged'),
          jobs: plans,
          ...(pools.length > 0 ? { pools: poolPlans } : {}),
        });
      },
    }),

    defineRoute({
      method: 'delete',
      path: '/api/v1/manifests',
      summary: "Remove a manifest's jobs' schedules and stop their streaming loops (jobs and executions stay)",
      // Delete takes no options: `?dryRun=true` must not quietly delete for real.
      query: ManifestDeleteQuery,
      body,
      responses: {
        200: wire.ManifestDeleted,
        400: 'problem',
        403: 'problem',
        413: 'problem',
        415: 'problem',
        503: 'problem',
      },
      async handler({ body: manifest, principal }) {
        const { jobs, pools } = manifestOf(manifest);
        const deleted = await deleteManifest(deps, actorOf(principal), jobs);
        return reply(200, wire.ManifestDeleted, {
          jobs: deleted,
          ...(pools.length > 0 ? { pools: await deletePools(poolDeps(), actorOf(principal), pools) } : {}),
        });
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/manifests/jobs',
      summary: 'The manifest jobs the caller may see (the manifest view; GET /api/v1/jobs is the job resource)',
      responses: { 200: wire.ManifestJobList },
      async handler({ principal }) {
        const jobs = await listJobOverviews(deps, actorOf(principal));
        return reply(200, wire.ManifestJobList, { items: jobs.map((job) => manifestJobView(job.view)) });
      },
    }),

    defineRoute({
      method: 'get',
      path: '/api/v1/manifests/jobs/{team}/{name}',
      summary: 'One manifest job, with its schedule and last execution (also GET /api/v1/jobs/{team}.{name})',
      params: z.object({ team: z.string(), name: z.string() }),
      responses: { 200: wire.ManifestJob, 404: 'problem' },
      async handler({ params, principal }) {
        const jobPath = `${params.team}/${params.name}`;
        const view = await getJobView(deps, actorOf(principal), jobPath);
        if (!view) throw new HttpProblem(404, 'Not found', `no job "${jobPath}"`);
        return reply(200, wire.ManifestJob, manifestJobView(view));
      },
    }),
  ];
}
