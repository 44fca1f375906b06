/** Every route of the API but the OpenAPI document's own (api/openapi.ts), in the order they are matched. */
import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Config } from '../../config/index.js';
import type { SparkGateway } from '../../gateway/index.js';
import type { ExecutionStore } from '../../store/executions.js';
import type { TokenRegistry } from '../auth.js';
import type { ApiMetrics } from '../metrics.js';
import type { Route } from '../route.js';
import { executionRoutes } from './executions.js';
import { healthRoutes } from './health.js';
import { jobRoutes } from './jobs.js';
import { manifestRoutes } from './manifests.js';
import { scheduleRoutes } from './schedules.js';

export interface AppDeps {
  client: Client;
  store: ExecutionStore;
  gateway: SparkGateway;
  config: Config;
  /** The Spark the local backend runs; unset when it is disabled. */
  sparkHome?: string;
  logger: Logger;
  tokens: TokenRegistry;
}

export type RouteDeps = AppDeps & { metrics: ApiMetrics };

export function appRoutes(deps: RouteDeps): Route[] {
  return [
    ...healthRoutes(deps),
    ...jobRoutes(deps),
    ...executionRoutes(deps),
    ...manifestRoutes(deps),
    ...scheduleRoutes(deps),
  ];
}
