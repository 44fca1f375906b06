/**
 * The Express 5 application: JSON bodies with a size limit, bearer-token authentication on everything under
 * /api/v1 (but the OpenAPI document), the declared routes (api/routes/), the web console at /ui (api/console.ts),
 * and problem+json for every error.
 */
import express from 'express';
import { authenticate } from './auth.js';
import { consoleHandler } from './console.js';
import { requestSpans } from '../observability/telemetry.js';
import { createMetrics, type ApiMetrics } from './metrics.js';
import { openApiDocument, openApiRoute } from './openapi.js';
import { HttpProblem, problemHandler, sendProblem } from './problem.js';
import { methodNotAllowed, mountRoutes, type Route } from './route.js';
import { appRoutes, type AppDeps } from './routes/index.js';

export type { AppDeps } from './routes/index.js';

/** The app; `metrics` is its registry (startApiServer passes its own, which it also exports over OTLP). */
export function createApp(deps: AppDeps, metrics: ApiMetrics = createMetrics(deps.store)): express.Express {
  const app = express();
  const routes: Route[] = [...appRoutes({ ...deps, metrics }), openApiRoute(() => document)];
  const document = openApiDocument(routes);
  app.disable('x-powered-by');
  // Request spans only where they are exported (startTracing does nothing without the endpoint either).
  if (deps.config.OTEL_EXPORTER_OTLP_ENDPOINT) app.use(requestSpans());
  app.use(metrics.middleware);
  app.use(
    express.json({
      limit: deps.config.API_MAX_BODY_BYTES,
      strict: true,
      type: ['application/json', 'application/*+json'],
    }),
  );
  const open = express.Router();
  const guarded = express.Router();
  mountRoutes(
    open,
    routes.filter((r) => r.public),
  );
  mountRoutes(
    guarded,
    routes.filter((r) => !r.public),
  );
  app.use(open);
  // The web console's pages and assets are public; its data calls go through /api/v1 with the user's token.
  app.use('/ui', consoleHandler(deps.config));
  app.use('/api/v1', authenticate(deps.tokens));
  // The MCP debug server (api/routes/mcp.ts) takes the same tokens.
  app.use('/mcp', authenticate(deps.tokens));
  app.use(guarded);
  app.use(methodNotAllowed(routes));
  app.use((req, res) => sendProblem(res, new HttpProblem(404, 'Not found', `no route ${req.method} ${req.path}`)));
  app.use(problemHandler((err) => deps.logger.error({ err }, 'request failed')));
  return app;
}
