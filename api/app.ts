/** The Express 5 application: JSON in with a size limit, routes, and problem+json for every error. */
import express from 'express';
import type { Logger } from 'pino';
import { problemHandler, HttpProblem, sendProblem } from './problem.js';
import { healthRoutes, type HealthDeps } from './routes/health.js';
import { jobRoutes, type JobRoutesDeps } from './routes/jobs.js';

export type AppDeps = JobRoutesDeps & HealthDeps & { logger: Logger };

export const MAX_BODY_BYTES = 256 * 1024;

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: MAX_BODY_BYTES, strict: true, type: ['application/json', 'application/*+json'] }));
  app.use(healthRoutes(deps));
  app.use(jobRoutes(deps));
  app.use((req, res) => sendProblem(res, new HttpProblem(404, 'Not found', `no route ${req.method} ${req.path}`)));
  app.use(problemHandler((err) => deps.logger.error({ err }, 'request failed')));
  return app;
}
