/**
 * Sessions: live Spark Connect sessions from `GET /api/v1/sessions`, with how long each has been idle and when it
 * expires, and release (`DELETE /api/v1/sessions/{id}`), behind a confirmation. A session's connect URL carries
 * its token, which the API hands out once, when the session is created: "Start a session" shows it then, and
 * only then. An API without the sessions routes (404), or a process that does not serve them (503), gets a
 * sentence instead of the list.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { Session, SessionCreated, SessionList } from '../../../api/wire.js';
import { ApiError, getJson, send } from '../api.js';
import { isAdmin } from '../auth.js';
import {
  Cell,
  ConfirmDialog,
  DataTable,
  ErrorNote,
  RowButton,
  StatusNote,
  TextBadge,
  Time,
  usePolling,
} from '../components.js';
import { formatDuration } from '../format.js';

const REFRESH_MS = 5000;

function tone(state: Session['state']): 'good' | 'bad' | 'busy' | 'idle' {
  switch (state) {
    case 'READY':
      return 'good';
    case 'IDLE':
      return 'idle';
    case 'ENDED':
      return 'bad';
    case 'REQUESTED':
    case 'STARTING':
    case 'LEASED':
      return 'busy';
    default: {
      const unknown: never = state;
      return unknown;
    }
  }
}

/** Idle for how long: since its last RPC (or since it became ready) while no RPC is open. */
function idleFor(s: Session, now: number): string {
  if (s.state === 'READY') return 'active';
  const since = s.state === 'IDLE' ? (s.last_activity_at ?? s.ready_at) : undefined;
  return since ? formatDuration(Math.max(0, now - Date.parse(since))) : '—';
}

export function SessionsView() {
  const [sessions, setSessions] = useState<Session[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [unavailable, setUnavailable] = useState<string | undefined>();
  const [status, setStatus] = useState<string | undefined>();
  const [releasing, setReleasing] = useState<Session | undefined>();
  const [created, setCreated] = useState<SessionCreated | undefined>();
  const [tick, setTick] = useState(0);
  usePolling(
    (signal) =>
      getJson<SessionList>('/api/v1/sessions', { signal })
        .then((r) => {
          setSessions(r.items);
          setError(undefined);
        })
        .catch((err: unknown) => {
          if (signal.aborted) return;
          if (err instanceof ApiError && (err.status === 404 || err.status === 503)) setUnavailable(err.message);
          else setError(err);
        }),
    REFRESH_MS,
    unavailable === undefined,
    [tick],
  );
  const release = (s: Session) => {
    setReleasing(undefined);
    setStatus(`Releasing ${s.session_id.slice(0, 8)}…`);
    send('DELETE', `/api/v1/sessions/${encodeURIComponent(s.session_id)}`)
      .then(() => setStatus(`Released ${s.session_id.slice(0, 8)}; its server is stopped.`))
      .catch((err: unknown) => {
        setStatus(undefined);
        setError(err);
      })
      .finally(() => setTick((t) => t + 1));
  };
  const now = Date.now();
  const live = (sessions ?? []).filter((s) => s.state !== 'ENDED');
  const admin = isAdmin();
  const columns = ['Session', ...(admin ? ['Team'] : []), 'State', 'Spark', 'Pool', 'Idle for', 'Expires', 'Actions'];

  return html`<section aria-labelledby="page-title">
    <h1 id="page-title" tabindex="-1">Sessions</h1>
    <p class="muted">Interactive Spark Connect sessions: <code>SparkSession.builder.remote(connect_url)</code>.</p>
    <${StatusNote} text=${status} />
    <${ErrorNote} error=${error} />
    ${
      unavailable !== undefined
        ? html`<p class="empty">
            Spark Connect sessions are not available from this API. <span class="muted">(${unavailable})</span>
          </p>`
        : html`<${StartSession}
              admin=${admin}
              created=${created}
              onCreated=${(s: SessionCreated) => {
                setCreated(s);
                setTick((t) => t + 1);
              }}
            />
            ${
              sessions === undefined
                ? html`<p>Loading…</p>`
                : live.length === 0
                  ? html`<p class="empty">No live sessions.</p>`
                  : html`<${DataTable} caption="Live sessions" hideCaption=${true} columns=${columns}>
                  ${live.map(
                    (s) => html`<tr key=${s.session_id}>
                      <${Cell} label="Session" class="mono">${s.session_id.slice(0, 8)}</${Cell}>
                      ${admin ? html`<${Cell} label="Team">${s.team}</${Cell}>` : null}
                      <${Cell} label="State"><${TextBadge} text=${s.state} tone=${tone(s.state)} /></${Cell}>
                      <${Cell} label="Spark">${s.spark_version}</${Cell}>
                      <${Cell} label="Pool">${s.pool ?? 'cold start'}</${Cell}>
                      <${Cell} label="Idle for">${idleFor(s, now)}</${Cell}>
                      <${Cell} label="Expires"><${Time} iso=${s.expires_at} /></${Cell}>
                      <${Cell} label="Actions" class="row-actions">
                        <${RowButton}
                          label="Release"
                          subject=${`session ${s.session_id.slice(0, 8)}`}
                          danger=${true}
                          onClick=${() => setReleasing(s)}
                        />
                      </${Cell}>
                    </tr>`,
                  )}
                </${DataTable}>`
            }`
    }
    <${ConfirmDialog}
      open=${releasing !== undefined}
      title="Release this session?"
      confirmLabel="Yes, release it"
      cancelLabel="Keep it"
      onClose=${() => setReleasing(undefined)}
      onConfirm=${() => releasing && release(releasing)}
    >
      <p>Its Spark Connect server is stopped; what the session held (temporary views, cached data) is gone.</p>
    </${ConfirmDialog}>
  </section>`;
}

/** Creates a session and shows its connect URL, the one time the API gives out its token. */
function StartSession(props: {
  admin: boolean;
  created: SessionCreated | undefined;
  onCreated: (s: SessionCreated) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    const team = new FormData(e.currentTarget as HTMLFormElement).get('team');
    setBusy(true);
    setError(undefined);
    send<SessionCreated>('POST', '/api/v1/sessions', typeof team === 'string' && team ? { team } : {})
      .then(props.onCreated)
      .catch(setError)
      .finally(() => setBusy(false));
  };
  return html`<form class="filters" aria-label="Start a session" onSubmit=${submit}>
      ${
        props.admin
          ? html`<div class="field">
              <label for="session-team">Team</label>
              <input id="session-team" name="team" required autocomplete="off" />
            </div>`
          : null
      }
      <div class="field field-actions">
        <button type="submit" disabled=${busy}>${busy ? 'Starting…' : 'Start a session'}</button>
      </div>
    </form>
    <${ErrorNote} error=${error} />
    ${
      props.created
        ? html`<div class="notice notice-created">
            <label for="connect-url">Connect URL of session ${props.created.session_id.slice(0, 8)}</label>
            <input
              id="connect-url"
              readonly
              value=${props.created.connect_url}
              onFocus=${(e: FocusEvent) => (e.currentTarget as HTMLInputElement).select()}
            />
            <p class="muted">It holds the session's token, shown this once: copy it now.</p>
          </div>`
        : null
    }`;
}
