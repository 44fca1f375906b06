/** Every route of the API but the OpenAPI document's own (api/openapi.ts), in the order they are matched. */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { SparkGateway } from '../../gateway/index.js';
import type { ExecutionStore } from '../../store/executions.js';
import type { ConnectEndpoint } from '../../gateway/connect/endpoint.js';
import type { SessionStore } from '../../store/sessions.js';
import type { TokenRegistry } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';
import type { Route } from '../route.js';
import { executionRoutes } from './executions.js';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { manifestRoutes } from './manifests.js';
import { mcpRoutes } from './mcp.js';
import { meRoutes } from './me.js';
import { scheduleRoutes } from './schedules.js';
import { sessionRoutes } from './sessions.js';

export interface AppDeps {
  client: Client;
  store: ExecutionStore;
  gateway: SparkGateway;
  config: Config;
  /** The Spark the local backend runs; unset when it is disabled. */
  sparkHome?: string;
  logger: Logger;
  tokens: TokenRegistry;
  /** Spark Connect sessions and pools; without it the session routes answer 503. */
  sessions?: SessionStore;
  /** Where notebooks reach the Connect proxy (its listening ports); default: from the configuration. */
  connect?: ConnectEndpoint;
}

export type RouteDeps = AppDeps & { metrics: ApiMetrics };

export function appRoutes(deps: RouteDeps): Route[] {
  return [
    ...healthRoutes(deps),
    ...jobRoutes(deps),
    ...executionRoutes(deps),
    ...manifestRoutes(deps),
    ...scheduleRoutes(deps),
    ...sessionRoutes(deps),
    ...meRoutes(),
    ...mcpRoutes(),
  ];
}
