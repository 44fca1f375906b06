/**
 * Interactive Spark Connect sessions and their warm pools, as use cases: called by the REST routes, the manifest
 * apply and the worker's start-up alike.
 *
 * create: checks the Spark version, picks the pool (the one asked for, else the team's for that version, else the
 * default pool when it serves the team), mints the session token (32 random bytes; only its SHA-256 is stored, the
 * token itself is in this one answer), writes the row (REQUESTED) and starts the session workflow
 * `session-<id>`. Nothing is half-created: a rejected request writes nothing.
 *
 * release: the session workflow's `release` Update, which answers once the session is ENDED and its server
 * stopped. Idempotent: releasing an ended session answers its state again.
 *
 * Pools: a pool's desired state is its `session_pools` row; every change (apply, delete, the default pool's size)
 * writes the row and then wakes the pool workflow `pool-<name>` with signal-with-start, which starts it if needed.
 */
import { randomUUID } from 'node:crypto';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import type { Config } from '../config/index.js';
import { ANY_TEAM, DEFAULT_POOL, type ConnectBackendName, type SessionState } from '../schema/session-states.js';
import { poolWorkflowId, searchAttributes, sessionWorkflowId } from '../schema/vocabulary.js';
import {
  mintSessionToken,
  hashSessionToken,
  type PoolRow,
  type SessionRow,
  type SessionStore,
} from '../store/sessions.js';
import {
  POOL_WORKFLOW,
  SESSION_WORKFLOW,
  refillSignal,
  releaseUpdate,
  type PoolInput,
  type SessionInput,
} from '../workflows/session-definitions.js';
import { NotFound } from './errors.js';
import { SubmitRejected } from './submit.js';

export type SessionConfig = Pick<
  Config,
  | 'TEMPORAL_TASK_QUEUE'
  | 'SESSION_SPARK_VERSIONS'
  | 'SESSION_IDLE_TIMEOUT_S'
  | 'SESSION_MAX_LIFETIME_S'
  | 'SESSION_DRIVER_MEMORY_MB'
  | 'SESSION_DEFAULT_POOL_SIZE'
>;

export interface SessionDeps {
  client: Client;
  sessions: SessionStore;
  config: SessionConfig;
  /**
   * Which teams the default-domain pools (team `*`) serve: those whose domain is the default one. Without
   * Kubernetes clusters every team is of the default domain.
   */
  domains?: { teamDomains: Readonly<Record<string, string>>; defaultDomain: string };
}

export interface CreateSessionRequest {
  team: string;
  owner?: string;
  sparkVersion?: string;
  pool?: string;
  idleTimeoutS?: number;
  maxLifetimeS?: number;
}

export interface CreatedSession {
  row: SessionRow;
  /** The session token, shown once. */
  token: string;
}

/** The default Spark version of a session: the first of SESSION_SPARK_VERSIONS (4.0, matching the client). */
export function defaultSparkVersion(config: Pick<Config, 'SESSION_SPARK_VERSIONS'>): string {
  return config.SESSION_SPARK_VERSIONS[0] ?? '4.0';
}

/** Rejects a Spark version sessions cannot have here, saying why. */
export function assertSessionVersion(config: Pick<Config, 'SESSION_SPARK_VERSIONS'>, version: string): void {
  if (config.SESSION_SPARK_VERSIONS.includes(version)) return;
  const offered = config.SESSION_SPARK_VERSIONS.join(', ');
  if (version.startsWith('3.')) {
    throw new SubmitRejected(
      `Spark ${version} has no Spark Connect server here (pip pyspark 3.5 ships none): use ${offered}`,
      422,
      'spark_version',
    );
  }
  throw new SubmitRejected(`Spark ${version} is not offered for sessions (offered: ${offered})`, 422, 'spark_version');
}

/** Whether a pool serves sessions of `team`: its own team's, or a default-domain pool and a team of that domain. */
export function poolServes(deps: Pick<SessionDeps, 'domains'>, pool: PoolRow, team: string): boolean {
  if (pool.deletedAt) return false;
  if (pool.team === team) return true;
  if (pool.team !== ANY_TEAM) return false;
  const domains = deps.domains;
  if (!domains) return true;
  const domain = Object.hasOwn(domains.teamDomains, team) ? domains.teamDomains[team] : domains.defaultDomain;
  return domain === domains.defaultDomain;
}

/** The pool a session leases from: the one asked for, else the team's for the version, else a default-domain one. */
async function choosePool(
  deps: SessionDeps,
  team: string,
  request: CreateSessionRequest,
): Promise<{ pool?: PoolRow; sparkVersion: string }> {
  if (request.pool) {
    const pool = await deps.sessions.getPool(request.pool);
    if (!pool || !poolServes(deps, pool, team))
      throw new NotFound(`no session pool "${request.pool}" for team ${team}`);
    if (request.sparkVersion && request.sparkVersion !== pool.sparkVersion) {
      throw new SubmitRejected(
        `pool "${pool.name}" runs Spark ${pool.sparkVersion}, not ${request.sparkVersion}`,
        422,
        'spark_version',
      );
    }
    return { pool, sparkVersion: pool.sparkVersion };
  }
  const sparkVersion = request.sparkVersion ?? defaultSparkVersion(deps.config);
  const candidates = (await deps.sessions.listPools([team, ANY_TEAM])).filter(
    (p) => p.sparkVersion === sparkVersion && p.size > 0 && poolServes(deps, p, team),
  );
  // The team's own pools before the shared ones.
  candidates.sort((a, b) => Number(b.team === team) - Number(a.team === team) || a.name.localeCompare(b.name));
  return { ...(candidates[0] ? { pool: candidates[0] } : {}), sparkVersion };
}

/** Creates a session and starts its workflow; the token is in the answer only. */
export async function createSession(deps: SessionDeps, request: CreateSessionRequest): Promise<CreatedSession> {
  const { config } = deps;
  if (request.sparkVersion) assertSessionVersion(config, request.sparkVersion);
  if (request.maxLifetimeS !== undefined && request.maxLifetimeS > config.SESSION_MAX_LIFETIME_S) {
    throw new SubmitRejected(
      `max_lifetime_s may be at most ${config.SESSION_MAX_LIFETIME_S} here (SESSION_MAX_LIFETIME_S)`,
      422,
      'max_lifetime_s',
    );
  }
  const { pool, sparkVersion } = await choosePool(deps, request.team, request);
  assertSessionVersion(config, sparkVersion);
  const sessionId = randomUUID();
  const token = mintSessionToken();
  const idleTimeoutS = request.idleTimeoutS ?? pool?.idleTimeoutS ?? config.SESSION_IDLE_TIMEOUT_S;
  const maxLifetimeS = request.maxLifetimeS ?? config.SESSION_MAX_LIFETIME_S;
  const createdAt = new Date();
  const expiresAt = new Date(createdAt.getTime() + maxLifetimeS * 1000);
  const row = await deps.sessions.createSession({
    sessionId,
    team: request.team,
    owner: request.owner ?? null,
    sparkVersion,
    pool: pool?.name ?? null,
    tokenHash: hashSessionToken(token),
    idleTimeoutS,
    maxLifetimeS,
    expiresAt,
    workflowId: sessionWorkflowId(sessionId),
    createdAt,
  });
  const input: SessionInput = {
    sessionId,
    team: request.team,
    sparkVersion,
    ...(pool ? { pool: pool.name } : {}),
    idleTimeoutMs: idleTimeoutS * 1000,
    expiresAt: expiresAt.toISOString(),
    driverMemoryMb: pool?.driverMemoryMb ?? config.SESSION_DRIVER_MEMORY_MB,
    backend: pool?.backend ?? 'auto',
  };
  await deps.client.workflow.start(SESSION_WORKFLOW, {
    workflowId: sessionWorkflowId(sessionId),
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    args: [input],
    workflowIdConflictPolicy: 'FAIL',
    typedSearchAttributes: searchAttributes({ team: request.team }),
    memo: { summary: `Spark Connect session of ${request.team}: REQUESTED` },
  });
  return { row, token };
}

/** Polls until the session is READY (or IDLE, or ENDED), for at most `timeoutMs`; the row as it is then. */
export async function waitForSession(deps: SessionDeps, sessionId: string, timeoutMs: number): Promise<SessionRow> {
  const deadline = Date.now() + timeoutMs;
  const settled: SessionState[] = ['READY', 'IDLE', 'ENDED'];
  for (;;) {
    const row = await deps.sessions.getSession(sessionId);
    if (!row) throw new NotFound(`no session ${sessionId}`);
    if (settled.includes(row.state) || Date.now() >= deadline) return row;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Ends the session (its server stopped) and answers its row; an ended session answers as it is. */
export async function releaseSession(
  deps: SessionDeps,
  row: SessionRow,
  request: { requestedBy?: string; reason?: string },
): Promise<SessionRow> {
  if (row.state !== 'ENDED') {
    try {
      await deps.client.workflow
        .getHandle(sessionWorkflowId(row.sessionId))
        .executeUpdate(releaseUpdate, { args: [request] });
    } catch (err) {
      // The workflow has ended (or was never there): the row says how it ended.
      if (!(err instanceof WorkflowNotFoundError || err instanceof WorkflowUpdateFailedError)) throw err;
    }
  }
  return (await deps.sessions.getSession(row.sessionId)) ?? row;
}

/** The pool workflow's wake-up, starting it when it is not running. */
export async function wakePool(deps: Pick<SessionDeps, 'client' | 'config'>, pool: string): Promise<void> {
  const input: PoolInput = { pool };
  try {
    await deps.client.workflow.signalWithStart(POOL_WORKFLOW, {
      workflowId: poolWorkflowId(pool),
      taskQueue: deps.config.TEMPORAL_TASK_QUEUE,
      args: [input],
      signal: refillSignal,
      signalArgs: [],
      memo: { summary: `pool ${pool}` },
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
  }
}

/** A pool as a manifest or the configuration declares it. */
export interface PoolDeclaration {
  name: string;
  team: string;
  sparkVersion: string;
  size: number;
  driverMemoryMb: number;
  backend?: ConnectBackendName | 'auto';
  idleTimeoutS?: number;
  source: 'manifest' | 'config';
}

/** Records the pool's desired state and wakes its workflow. */
export async function applyPool(deps: Pick<SessionDeps, 'client' | 'config' | 'sessions'>, pool: PoolDeclaration) {
  assertSessionVersion(deps.config, pool.sparkVersion);
  const row = await deps.sessions.upsertPool(pool);
  await wakePool(deps, pool.name);
  return row;
}

/** Drains and deletes a pool (its warm servers are stopped); false when there was none. */
export async function deletePool(deps: Pick<SessionDeps, 'client' | 'config' | 'sessions'>, name: string) {
  const deleted = await deps.sessions.deletePool(name);
  if (deleted) await wakePool(deps, name);
  return deleted;
}

/**
 * The `default` pool follows SESSION_DEFAULT_POOL_SIZE: created or resized when the size is above 0, drained when
 * it is 0 and the pool exists (a previous `npm run dev`). Serves every team of the default domain.
 */
export async function reconcileDefaultPool(deps: Pick<SessionDeps, 'client' | 'config' | 'sessions'>): Promise<void> {
  const { config } = deps;
  const existing = await deps.sessions.getPool(DEFAULT_POOL);
  if (config.SESSION_DEFAULT_POOL_SIZE > 0) {
    const desired: PoolDeclaration = {
      name: DEFAULT_POOL,
      team: ANY_TEAM,
      sparkVersion: defaultSparkVersion(config),
      size: config.SESSION_DEFAULT_POOL_SIZE,
      driverMemoryMb: config.SESSION_DRIVER_MEMORY_MB,
      source: 'config',
    };
    const same =
      existing &&
      !existing.deletedAt &&
      existing.size === desired.size &&
      existing.driverMemoryMb === desired.driverMemoryMb &&
      existing.sparkVersion === desired.sparkVersion;
    if (same) await wakePool(deps, DEFAULT_POOL);
    else await applyPool(deps, desired);
  } else if (existing && !existing.deletedAt && existing.source === 'config') {
    await deletePool(deps, DEFAULT_POOL);
  }
}
