/**
 * /api/v1/manifests: apply (POST), dry-run diff (POST ?dryRun=true) and delete (DELETE) of DCP manifests, plus
 * the jobs they define (GET /api/v1/manifests/jobs[/{team}/{name}]).
 *
 * Body: the YAML text with Content-Type application/yaml (or text/yaml, application/x-yaml), or JSON
 * `{ "manifest": "<yaml>", "file": "name shown in errors" }`. A manifest error is a 400 whose `errors` carry the
 * field path, line and column; a job of another team is a 403; an unsupported engine version a 422.
 */
import express, { Router, type Request } from 'express';
import { z } from 'zod';
import { ManifestError, parseManifest, type ManifestJob } from '../../dcp/manifest.js';
import {
  applyManifest,
  deleteManifest,
  diffManifest,
  getJobView,
  listJobViews,
  ManifestForbidden,
  type Actor,
  type ManifestDeps,
} from '../../service/manifests.js';
import { SubmitRejected } from '../../service/submit.js';
import type { Principal } from '../auth.js';
import { HttpProblem, validationProblem } from '../problem.js';

export type ManifestRoutesDeps = ManifestDeps & { config: ManifestDeps['config'] & { API_MAX_BODY_BYTES: number } };

export const YAML_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml', 'text/x-yaml'];

/** The JSON form of a manifest body (the YAML form is the manifest text itself). */
export const ManifestJsonBody = z.object({ manifest: z.string().min(1), file: z.string().min(1).optional() }).strict();
export const ManifestQuery = z.object({ dryRun: z.enum(['true', 'false']).optional() }).strict();
export const ManifestDeleteQuery = z.object({}).strict();

/** Turns a parse error into a 400 listing every issue with its location. */
export function manifestProblem(err: ManifestError): HttpProblem {
  return new HttpProblem(
    400,
    'Invalid manifest',
    `${err.issues.length} problem(s) in ${[...new Set(err.issues.map((i) => i.file))].join(', ')}`,
    err.issues.map((i) => ({
      path: i.field || '(document)',
      message: `${i.file}:${i.line}:${i.column}: ${i.message}`,
      line: i.line,
      column: i.column,
    })),
  );
}

function manifestOf(req: Request): ManifestJob[] {
  let text: string;
  let file = 'manifest.yaml';
  if (typeof req.body === 'string') {
    text = req.body;
  } else {
    const parsed = ManifestJsonBody.safeParse(req.body);
    if (!parsed.success) throw validationProblem(parsed.error);
    text = parsed.data.manifest;
    file = parsed.data.file ?? file;
  }
  try {
    return parseManifest(text, file);
  } catch (err) {
    if (err instanceof ManifestError) throw manifestProblem(err);
    throw err;
  }
}

const actorOf = (p: Principal): Actor => ({ team: p.team, role: p.role });

/** Domain errors as problems; anything else goes to the app's error handler. */
function rethrow(err: unknown): never {
  if (err instanceof ManifestForbidden) throw new HttpProblem(403, 'Forbidden', err.message);
  if (err instanceof SubmitRejected)
    throw new HttpProblem(err.status, err.status === 409 ? 'Conflict' : 'Unprocessable request', err.message);
  throw err;
}

export function manifestRoutes(deps: ManifestRoutesDeps): Router {
  const router = Router();
  // The two routes that take a manifest body; an unparsed body of another type would reach them as undefined.
  const manifestBody = [
    express.text({ type: YAML_TYPES, limit: deps.config.API_MAX_BODY_BYTES }),
    (req: Request, _res: unknown, next: () => void) => {
      if (req.body === undefined) {
        throw new HttpProblem(
          415,
          'Unsupported media type',
          `send the manifest as ${YAML_TYPES.join(', ')}, or as JSON {"manifest": "<yaml>"}`,
        );
      }
      next();
    },
  ];

  router.post('/api/v1/manifests', ...manifestBody, async (req, res) => {
    const query = ManifestQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(query.error, 'query');
    const jobs = manifestOf(req);
    const actor = actorOf(req.principal!);
    try {
      if (query.data.dryRun === 'true') {
        const plans = await diffManifest(deps, actor, jobs);
        res.json({ dry_run: true, changed: plans.some((p) => p.action !== 'unchanged'), jobs: plans });
        return;
      }
      const plans = await applyManifest(deps, actor, jobs);
      res.json({ dry_run: false, changed: plans.some((p) => p.action !== 'unchanged'), jobs: plans });
    } catch (err) {
      rethrow(err);
    }
  });

  router.delete('/api/v1/manifests', ...manifestBody, async (req, res) => {
    // Delete takes no options: `?dryRun=true` must not quietly delete for real.
    const query = ManifestDeleteQuery.safeParse(req.query);
    if (!query.success) throw validationProblem(query.error, 'query');
    const jobs = manifestOf(req);
    try {
      res.json({ jobs: await deleteManifest(deps, actorOf(req.principal!), jobs) });
    } catch (err) {
      rethrow(err);
    }
  });

  router.get('/api/v1/manifests/jobs', async (req, res) => {
    const principal = req.principal!;
    const team = principal.role === 'admin' ? undefined : principal.team;
    const paths = (await deps.store.listJobs(team)).map((job) => job.jobPath);
    res.json({ items: await listJobViews(deps, actorOf(principal), paths) });
  });

  router.get('/api/v1/manifests/jobs/:team/:name', async (req, res) => {
    const jobPath = `${req.params.team}/${req.params.name}`;
    const view = await getJobView(deps, actorOf(req.principal!), jobPath);
    if (!view) throw new HttpProblem(404, 'Not found', `no job "${jobPath}"`);
    res.json(view);
  });

  return router;
}
