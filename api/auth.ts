/**
 * Bearer-token authentication. Each token maps to a principal: a team member (sees and cancels only its team's
 * executions) or a platform admin (sees everything). Tokens are kept only as SHA-256 hashes: API_TOKENS_FILE
 * holds hashes, and plaintext tokens from API_TOKENS are hashed at load and then forgotten.
 *
 *   API_TOKENS="ci-bot:data-infra:member:s3cret,ops:*:admin:0ther"      (name:team:role:token, comma-separated)
 *   API_TOKENS_FILE=tokens.json  ->  [{ "name": "ci-bot", "team": "data-infra", "role": "member",
 *                                       "sha256": "<hex of sha256(token)>" }]
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import { ConfigError, type Config } from '../config/index.js';
import { Forbidden, NotFound } from '../service/errors.js';
import { HttpProblem } from './problem.js';

export const ROLES = ['member', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface Principal {
  name: string;
  /** The user this token acts for (API_TOKENS_FILE's optional `user`): besides `name`, the owner it may name. */
  user?: string;
  /** The team a member belongs to; `*` for an admin. */
  team: string;
  role: Role;
}

const TokenEntry = z
  .object({
    name: z.string().min(1),
    team: z.string().min(1),
    role: z.enum(ROLES),
    user: z.string().min(1).optional(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the hex SHA-256 of the token'),
  })
  .strict();

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export class TokenRegistry {
  private readonly byHash = new Map<string, Principal>();

  constructor(entries: z.infer<typeof TokenEntry>[]) {
    for (const { sha256, ...principal } of entries) this.byHash.set(sha256, principal);
  }

  get size(): number {
    return this.byHash.size;
  }

  authenticate(token: string): Principal | undefined {
    return this.byHash.get(hashToken(token));
  }
}

/** Reads API_TOKENS and API_TOKENS_FILE. Throws ConfigError naming the variable on a malformed entry. */
export function loadTokens(config: Pick<Config, 'API_TOKENS' | 'API_TOKENS_FILE'>): TokenRegistry {
  const entries: z.infer<typeof TokenEntry>[] = [];
  for (const item of (config.API_TOKENS ?? '').split(',').filter((s) => s.trim())) {
    const [name, team, role, ...rest] = item.trim().split(':');
    const token = rest.join(':');
    const parsed = TokenEntry.safeParse({ name, team, role, sha256: token ? hashToken(token) : '' });
    if (!parsed.success) {
      throw new ConfigError(`API_TOKENS entry "${name ?? ''}" is invalid: expected name:team:member|admin:token`);
    }
    entries.push(parsed.data);
  }
  if (config.API_TOKENS_FILE) {
    let raw: unknown;
    try {
      raw = JSON.parse(fs.readFileSync(config.API_TOKENS_FILE, 'utf8'));
    } catch (err) {
      throw new ConfigError(
        `API_TOKENS_FILE=${config.API_TOKENS_FILE} cannot be read as JSON: ${(err as Error).message}`,
      );
    }
    const parsed = z.array(TokenEntry).safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new ConfigError(`API_TOKENS_FILE entry ${issue.path.join('.')}: ${issue.message}`);
    }
    entries.push(...parsed.data);
  }
  return new TokenRegistry(entries);
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

/** Requires a valid bearer token on every request it guards. */
export function authenticate(tokens: TokenRegistry): RequestHandler {
  return (req, res, next) => {
    const header = req.get('Authorization') ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const principal = match ? tokens.authenticate(match[1]!) : undefined;
    if (!principal) {
      res.set('WWW-Authenticate', 'Bearer');
      throw new HttpProblem(
        401,
        'Unauthorized',
        match ? 'the bearer token is not recognised' : 'send an API token: Authorization: Bearer <token>',
      );
    }
    req.principal = principal;
    next();
  };
}

/**
 * A user name as a body may give it (`user`, the execution's owner): printable, at most 254 characters. Control,
 * format and line-separator characters are refused, so the name can reach logs, labels and the console as is.
 */
export const USER_NAME = z
  .string()
  .min(1)
  .max(254)
  // Spelled out as ranges (C0/C1 controls, soft hyphen, bidi and zero-width marks, line and paragraph separators,
  // BOM), not `\p{…}`, so the OpenAPI document's pattern is one any client's regex engine can use.
  .regex(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point: they are refused
    /^[^\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]+$/,
    'must not contain control or invisible formatting characters',
  );

/**
 * The owner an execution is recorded with. An admin may name anyone; a member only itself (the token's name, or
 * its configured `user`), since the owner is what others read as "who ran this". Absent: the token's user or name.
 */
export function authorizeOwner(principal: Principal, requested: string | undefined): string {
  const own = principal.user ?? principal.name;
  if (requested === undefined) return own;
  if (principal.role === 'admin' || requested === principal.name || requested === principal.user) return requested;
  throw new Forbidden(`this token acts for "${own}"; it cannot submit as user "${requested}"`);
}

/** True when `principal` may see resources of `team`. */
export function canAccess(principal: Principal, team: string): boolean {
  return principal.role === 'admin' || principal.team === team;
}

/**
 * The one team access check of every route.
 * - `read` (see, cancel, control a thing of `team`): the team, or NotFound, so another team's thing looks as if it
 *   did not exist.
 * - `submit` (create something for a team): a member's own team (naming another is 403); an admin must name one.
 */
export function authorizeTeam(
  principal: Principal,
  access: { read: string; what: string } | { submit: string | undefined },
): string {
  if ('read' in access) {
    if (!canAccess(principal, access.read)) throw new NotFound(`no ${access.what}`);
    return access.read;
  }
  const requested = access.submit;
  if (principal.role === 'admin') {
    if (!requested) {
      throw new HttpProblem(400, 'Invalid request', 'team is required when submitting with an admin token', [
        { path: 'team', message: 'required' },
      ]);
    }
    return requested;
  }
  if (requested && requested !== principal.team) {
    throw new Forbidden(`this token belongs to team "${principal.team}"; it cannot submit for team "${requested}"`);
  }
  return principal.team;
}
