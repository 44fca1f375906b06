/**
 * An in-process API on a free loopback port, wired to the file's test stack, with three tokens: an admin, a
 * member of team `data-infra`, and a member of team `other-team`.
 */
import type { Client } from '@temporalio/client';
import pino from 'pino';
import { TokenRegistry, hashToken } from '../../api/auth.js';
import { startApiServer } from '../../api/server.js';
import type { Backend } from '../../gateway/backend.js';
import { findLocalSparks } from '../../gateway/backends/local/spark-install.js';
import { composeGateway } from '../../gateway/compose.js';
import type { ConnectEndpoint } from '../../gateway/connect/endpoint.js';
import type { BackendName } from '../../schema/states.js';
import type { SessionStore } from '../../store/sessions.js';
import type { TestStack } from './stack.js';

export const TEST_TOKENS = { admin: 'admin-token-1', dataInfra: 'data-infra-token-1', other: 'other-team-token-1' };

export interface TestApi {
  url: string;
  tokens: typeof TEST_TOKENS;
  close(): Promise<void>;
}

export async function startTestApi(
  stack: TestStack,
  options: {
    backends?: Partial<Record<BackendName, Backend>>;
    adminTokens?: string[];
    /** Extra member tokens, team -> token (e.g. a team no other test file uses). */
    teamTokens?: Record<string, string>;
    /** Spark Connect sessions (the session routes answer 503 without), and where their connect_url points. */
    sessions?: SessionStore;
    connect?: ConnectEndpoint;
    /** The Temporal client the API uses (default: the stack's), e.g. one with tracing interceptors. */
    client?: Client;
  } = {},
): Promise<TestApi> {
  const logger = pino({ level: 'warn' });
  const tokens = new TokenRegistry([
    { name: 'root', team: '*', role: 'admin', sha256: hashToken(TEST_TOKENS.admin) },
    { name: 'ci-bot', team: 'data-infra', role: 'member', sha256: hashToken(TEST_TOKENS.dataInfra) },
    { name: 'other-bot', team: 'other-team', role: 'member', sha256: hashToken(TEST_TOKENS.other) },
    ...(options.adminTokens ?? []).map((t) => ({
      name: 'extra-admin',
      team: '*',
      role: 'admin' as const,
      sha256: hashToken(t),
    })),
    ...Object.entries(options.teamTokens ?? {}).map(([team, t]) => ({
      name: `${team}-bot`,
      team,
      role: 'member' as const,
      sha256: hashToken(t),
    })),
  ]);
  const spark = await findLocalSparks(stack.config);
  const { gateway } = await composeGateway({
    role: 'api',
    config: stack.config,
    logger,
    store: stack.store,
    spark,
    ...(options.backends ? { extra: options.backends } : {}),
  });
  const server = await startApiServer(
    {
      client: options.client ?? stack.client,
      store: stack.store,
      gateway: gateway!,
      config: stack.config,
      sparkHome: spark[0]!.sparkHome,
      logger,
      tokens,
      ...(options.sessions ? { sessions: options.sessions } : {}),
      ...(options.connect ? { connect: options.connect } : {}),
    },
    '127.0.0.1',
    0,
  );
  return { url: server.url, tokens: TEST_TOKENS, close: () => server.close() };
}
