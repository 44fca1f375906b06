/**
 * `spark-runner session create|list|get|delete`: interactive Spark Connect sessions (/api/v1/sessions).
 * `create --wait` waits until the session is READY and prints its `sc://` URL alone on stdout, so a script can take
 * it as is (`SPARK_REMOTE=$(spark-runner session create --wait)`); the URL holds the session's token and is shown
 * by create only.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Session, SessionCreated, SessionList } from '../../api/wire.js';
import { CliError, EXIT } from '../errors.js';
import { formatTime, json, keyValues, table } from '../format.js';
import type { ApiClient } from '../http.js';
import { outputOption, positiveInt, type OutputFormat, type Runtime } from './shared.js';

const path = (id?: string) => `/api/v1/sessions${id ? `/${encodeURIComponent(id)}` : ''}`;
const POLL_MS = 500;

function sparkVersion(value: string): string {
  if (!/^\d+\.\d+$/.test(value)) throw new InvalidArgumentError('expected a Spark version like 4.0');
  return value;
}

function render(s: Session, url?: string): string {
  return keyValues([
    ['Session', s.session_id],
    ['Team', s.team],
    [
      'State',
      s.ended_reason ? `${s.state} (${s.ended_reason}${s.ended_message ? `: ${s.ended_message}` : ''})` : s.state,
    ],
    ['Spark', s.spark_version],
    ['Pool', s.pool ?? '(cold start)'],
    ['Created', formatTime(s.created_at)],
    ['Ready', formatTime(s.ready_at)],
    ['Last activity', formatTime(s.last_activity_at)],
    ['Idle timeout', `${s.idle_timeout_s}s`],
    ['Expires', formatTime(s.expires_at)],
    ['Ended', formatTime(s.ended_at)],
    ['Connect URL', url],
  ]);
}

/** Polls the session until it is READY (or IDLE); a session that ended instead is an error. */
async function untilReady(api: ApiClient, id: string, signal: AbortSignal): Promise<Session> {
  for (;;) {
    const s = await api.json<Session>('GET', path(id));
    if (s.state === 'READY' || s.state === 'IDLE') return s;
    if (s.state === 'ENDED') {
      throw new CliError(
        `session ${id} ended before it was ready: ${s.ended_reason ?? 'ENDED'}${s.ended_message ? `: ${s.ended_message}` : ''}`,
        undefined,
        EXIT.failed,
      );
    }
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, POLL_MS);
      signal.addEventListener('abort', () => (clearTimeout(timer), reject(signal.reason as Error)), { once: true });
    });
  }
}

export function registerSession(program: Command, rt: Runtime): void {
  const session = program.command('session').description('interactive Spark Connect sessions for notebooks and SQL');
  const out = (format: OutputFormat, value: unknown, text: () => string) =>
    rt.ctx.stdout.write(format === 'json' ? json(value) : text());

  session
    .command('create')
    .description('create a session; --wait prints its sc:// URL once it is ready')
    .option('--team <team>', 'the team (required with an admin token)')
    .option('--wait', 'wait until the session is READY, then print only its sc:// URL')
    .option('--pool <name>', 'lease from this warm pool (default: the team’s pool for the Spark version)')
    .option('--spark <version>', 'Spark version (default 4.0)', sparkVersion)
    .option('--idle-timeout <seconds>', 'end the session after this long with no RPC', positiveInt)
    .option('--max-lifetime <seconds>', 'end the session this long after it was created', positiveInt)
    .addOption(outputOption())
    .action(
      async (
        opts: {
          team?: string;
          wait?: boolean;
          pool?: string;
          spark?: string;
          idleTimeout?: number;
          maxLifetime?: number;
          output: OutputFormat;
        },
        cmd: Command,
      ) => {
        const api = rt.api(cmd);
        const body = {
          ...(opts.team ? { team: opts.team } : {}),
          ...(opts.pool ? { pool: opts.pool } : {}),
          ...(opts.spark ? { spark_version: opts.spark } : {}),
          ...(opts.idleTimeout ? { idle_timeout_s: opts.idleTimeout } : {}),
          ...(opts.maxLifetime ? { max_lifetime_s: opts.maxLifetime } : {}),
        };
        const created = await api.json<SessionCreated>('POST', path(), { body });
        if (!opts.wait) {
          out(opts.output, created, () => render(created, created.connect_url));
          return;
        }
        const ready = await untilReady(api, created.session_id, rt.ctx.signal);
        if (opts.output === 'json') {
          rt.ctx.stdout.write(json({ ...ready, connect_url: created.connect_url }));
          return;
        }
        rt.ctx.stderr.write(
          `session ${ready.session_id} ${ready.state} (${ready.pool ? `pool ${ready.pool}` : 'cold start'}), ` +
            `expires ${formatTime(ready.expires_at)}\n`,
        );
        rt.ctx.stdout.write(`${created.connect_url}\n`);
      },
    );

  session
    .command('list')
    .description('sessions of your team (all teams with an admin token), newest first')
    .option('--team <team>', 'only this team')
    .option('--state <state>', 'only this state (REQUESTED, STARTING, LEASED, READY, IDLE, ENDED)')
    .option('--limit <n>', 'at most this many', positiveInt)
    .addOption(outputOption())
    .action(async (opts: { team?: string; state?: string; limit?: number; output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<SessionList>('GET', path(), {
        query: { team: opts.team, state: opts.state, limit: opts.limit },
      });
      out(opts.output, res, () =>
        table(
          ['SESSION', 'TEAM', 'STATE', 'SPARK', 'POOL', 'CREATED', 'EXPIRES'],
          res.items.map((s) => [
            s.session_id,
            s.team,
            s.ended_reason ? `${s.state} (${s.ended_reason})` : s.state,
            s.spark_version,
            s.pool ?? '-',
            formatTime(s.created_at),
            formatTime(s.expires_at),
          ]),
        ),
      );
    });

  session
    .command('get')
    .description('one session: state, pool, times and, once ended, why')
    .argument('<id>', 'session id')
    .addOption(outputOption())
    .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<Session>('GET', path(id));
      out(opts.output, res, () => render(res));
    });

  session
    .command('delete')
    .description('release a session: ends it and stops its server (idempotent)')
    .argument('<id>', 'session id')
    .addOption(outputOption())
    .action(async (id: string, opts: { output: OutputFormat }, cmd: Command) => {
      const res = await rt.api(cmd).json<Session>('DELETE', path(id));
      out(opts.output, res, () => `session ${res.session_id} ${res.state} (${res.ended_reason ?? ''})\n`);
    });
}
