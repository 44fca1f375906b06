/**
 * An in-process API on a free loopback port, wired to the file's test stack, with three tokens: an admin, a
 * member of team `data-infra`, and a member of team `other-team`.
 */
import pino from 'pino';
import { TokenRegistry, hashToken } from '../../api/auth.js';
import { startApiServer } from '../../api/server.js';
import type { Backend } from '../../gateway/backend.js';
import { composeGateway } from '../../gateway/compose.js';
import type { BackendName } from '../../schema/states.js';
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
  const spark = { sparkHome: stack.config.SPARK_HOME!, python: stack.config.SPARK_PYTHON };
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
      client: stack.client,
      store: stack.store,
      gateway: gateway!,
      config: stack.config,
      sparkHome: spark.sparkHome,
      logger,
      tokens,
    },
    '127.0.0.1',
    0,
  );
  return { url: server.url, tokens: TEST_TOKENS, close: () => server.close() };
}
