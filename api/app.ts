/**
 * The Express 5 application: JSON bodies with a size limit, unauthenticated service routes (health, metrics,
 * OpenAPI), bearer-token authentication on everything under /api/v1, and problem+json for every error.
 */
import express from 'express';
import type { Logger } from 'pino';
import { authenticate, type TokenRegistry } from './auth.js';
import { createMetrics } from './metrics.js';
import { openApiDocument } from './openapi.js';
import { HttpProblem, problemHandler, sendProblem } from './problem.js';
import { executionRoutes } from './routes/executions.js';
import { healthRoutes, type HealthDeps } from './routes/health.js';
import { jobRoutes, type JobRoutesDeps } from './routes/jobs.js';
import { manifestRoutes } from './routes/manifests.js';
import { scheduleRoutes } from './routes/schedules.js';
import { streamingRoutes } from './routes/streaming.js';

export type AppDeps = Omit<JobRoutesDeps, 'metrics'> & HealthDeps & { logger: Logger; tokens: TokenRegistry };

export function createApp(deps: AppDeps): express.Express {
  const app = express();
  const metrics = createMetrics(deps.store);
  const openapi = openApiDocument();
  app.disable('x-powered-by');
  app.use(metrics.middleware);
  app.use(
    express.json({
      limit: deps.config.API_MAX_BODY_BYTES,
      strict: true,
      type: ['application/json', 'application/*+json'],
    }),
  );
  app.use(healthRoutes(deps));
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  app.get('/api/v1/openapi.json', (_req, res) => {
    res.json(openapi);
  });
  app.use('/api/v1', authenticate(deps.tokens));
  app.use(jobRoutes({ ...deps, metrics }));
  app.use(streamingRoutes(deps));
  app.use(executionRoutes(deps));
  app.use(manifestRoutes(deps));
  app.use(scheduleRoutes(deps));
  app.use((req, res) => sendProblem(res, new HttpProblem(404, 'Not found', `no route ${req.method} ${req.path}`)));
  app.use(problemHandler((err) => deps.logger.error({ err }, 'request failed')));
  return app;
}
