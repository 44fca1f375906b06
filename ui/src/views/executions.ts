/**
 * Executions: the API's list (`GET /api/v1/executions`) with its filters in the address bar, newest first, paged
 * with the API's cursor, refreshed every few seconds while auto-refresh is on.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { ExecutionPage } from '../../../api/wire.js';
import { BACKENDS, EXECUTION_STATES, TRIGGERS } from '../../../schema/states.js';
import { getJson } from '../api.js';
import { isAdmin } from '../auth.js';
import { Cell, DataTable, ErrorNote, Link, StateBadge, Time, usePolling } from '../components.js';
import { executionDuration } from '../format.js';
import { BASE, executionHref, navigate } from '../router.js';

const REFRESH_MS = 5000;
/** The time filter: executions submitted within the last … */
const WITHIN = {
  '': 'Any time',
  '1h': 'Last hour',
  '24h': 'Last 24 hours',
  '7d': 'Last 7 days',
  '30d': 'Last 30 days',
};
const WITHIN_MS: Record<string, number> = {
  '1h': 3_600_000,
  '24h': 86_400_000,
  '7d': 7 * 86_400_000,
  '30d': 30 * 86_400_000,
};
type Filter = 'state' | 'job' | 'trigger' | 'backend' | 'team' | 'within';

/** Rows per page: `?limit=` in the address bar (1-100), else 25. */
function pageSize(query: URLSearchParams): number {
  const n = Number(query.get('limit'));
  return Number.isInteger(n) && n >= 1 && n <= 100 ? n : 25;
}

/** The API query for the filters in the address bar and the page's cursor. */
function listPath(query: URLSearchParams, cursor: string | undefined): string {
  const api = new URLSearchParams({ limit: String(pageSize(query)) });
  for (const key of ['state', 'job', 'trigger', 'backend', 'team'] as const) {
    const value = query.get(key);
    if (value) api.set(key, value);
  }
  const within = WITHIN_MS[query.get('within') ?? ''];
  if (within) api.set('since', new Date(Date.now() - within).toISOString());
  if (cursor) api.set('cursor', cursor);
  return `/api/v1/executions?${api.toString()}`;
}

function Select(props: { name: Filter; label: string; value: string; options: Record<string, string> }) {
  const id = `filter-${props.name}`;
  return html`<div class="field">
    <label for=${id}>${props.label}</label>
    <select id=${id} name=${props.name} value=${props.value}>
      ${Object.entries(props.options).map(([value, text]) => html`<option value=${value}>${text}</option>`)}
    </select>
  </div>`;
}

const options = (values: readonly string[], any: string) =>
  Object.fromEntries([['', any], ...values.map((v) => [v, v])]) as Record<string, string>;

export function ExecutionsView({ query }: { query: URLSearchParams }) {
  // The page with the filters and cursor it was read for: a page for other filters is never shown as this one.
  const [read, setRead] = useState<{ for: string; page: ExecutionPage } | undefined>();
  const [error, setError] = useState<unknown>();
  // Cursors of the pages before this one; the last is this page's (undefined: the first page).
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [autoRefresh, setAutoRefresh] = useState(true);
  const [updated, setUpdated] = useState<Date | undefined>();
  const cursor = cursors.at(-1);
  const key = query.toString();
  const current = `${key}#${cursor ?? ''}`;
  const page = read?.for === current ? read.page : undefined;

  usePolling(
    (signal) =>
      getJson<ExecutionPage>(listPath(query, cursor), { signal })
        .then((p) => {
          setRead({ for: current, page: p });
          setError(undefined);
          setUpdated(new Date());
        })
        .catch((err: unknown) => signal.aborted || setError(err)),
    REFRESH_MS,
    autoRefresh,
    [key, cursor],
  );

  /** Applies the form's filters: they go to the address bar, and paging starts again from the newest. */
  const apply = (form: HTMLFormElement) => {
    const next = new URLSearchParams();
    if (query.has('limit')) next.set('limit', String(pageSize(query)));
    for (const [name, value] of new FormData(form))
      if (typeof value === 'string' && value.trim()) next.set(name, value.trim());
    setCursors([undefined]);
    navigate(`${BASE}/executions${next.size ? `?${next.toString()}` : ''}`, { replace: true });
  };
  const value = (name: Filter) => query.get(name) ?? '';
  const admin = isAdmin();

  return html`<section aria-labelledby="page-title">
    <h1 id="page-title" tabindex="-1">Executions</h1>
    <form
      class="filters"
      aria-label="Filter executions"
      onSubmit=${(e: SubmitEvent) => {
        e.preventDefault();
        apply(e.currentTarget as HTMLFormElement);
      }}
      onChange=${(e: Event) => {
        if ((e.target as HTMLElement).tagName === 'SELECT') apply(e.currentTarget as HTMLFormElement);
      }}
    >
      <${Select} name="state" label="State" value=${value('state')} options=${options(EXECUTION_STATES, 'Any state')} />
      <div class="field">
        <label for="filter-job">Job</label>
        <input id="filter-job" name="job" value=${value('job')} placeholder="team/name" autocomplete="off" />
      </div>
      <${Select} name="trigger" label="Trigger" value=${value('trigger')} options=${options(TRIGGERS, 'Any trigger')} />
      <${Select} name="backend" label="Backend" value=${value('backend')} options=${options(BACKENDS, 'Any backend')} />
      <${Select} name="within" label="Submitted" value=${value('within')} options=${WITHIN} />
      ${
        admin
          ? html`<div class="field">
              <label for="filter-team">Team</label>
              <input id="filter-team" name="team" value=${value('team')} placeholder="every team" autocomplete="off" />
            </div>`
          : null
      }
      <div class="field field-actions">
        <button type="submit">Apply filters</button>
      </div>
    </form>
    <div class="toolbar">
      <label class="check">
        <input
          type="checkbox"
          checked=${autoRefresh}
          onChange=${(e: Event) => setAutoRefresh((e.currentTarget as HTMLInputElement).checked)}
        />
        Auto-refresh every ${REFRESH_MS / 1000} s
      </label>
      <span class="muted">${page && updated ? `Updated ${updated.toLocaleTimeString()}` : 'Loading…'}</span>
    </div>
    <${ErrorNote} error=${error} />
    ${page ? html`<${ExecutionTable} page=${page} showTeam=${admin} />` : null}
    <nav class="pager" aria-label="Pages">
      <button type="button" disabled=${cursors.length < 2} onClick=${() => setCursors(cursors.slice(0, -1))}>
        ← Newer
      </button>
      <span class="muted">Page ${cursors.length}</span>
      <button
        type="button"
        disabled=${!page?.next_cursor}
        onClick=${() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}
      >
        Older →
      </button>
    </nav>
  </section>`;
}

function ExecutionTable({ page, showTeam }: { page: ExecutionPage; showTeam: boolean }) {
  if (page.items.length === 0) return html`<p class="empty">No executions match these filters.</p>`;
  const columns = [
    'Execution',
    'Job',
    ...(showTeam ? ['Team'] : []),
    'State',
    'Trigger',
    'Backend',
    'Submitted',
    'Duration',
  ];
  return html`<${DataTable} caption="Executions, newest first" columns=${columns} hideCaption=${true}>
    ${page.items.map(
      (e) => html`<tr key=${e.execution_id}>
        <${Cell} label="Execution" class="mono"
          ><${Link} href=${executionHref(e.execution_id)}>${e.execution_id.slice(0, 8)}</${Link}></${Cell}
        >
        <${Cell} label="Job">${e.job_path}</${Cell}>
        ${showTeam ? html`<${Cell} label="Team">${e.team}</${Cell}>` : null}
        <${Cell} label="State"><${StateBadge} state=${e.status} /></${Cell}>
        <${Cell} label="Trigger">${e.trigger}</${Cell}>
        <${Cell} label="Backend">${e.backend ?? '—'}</${Cell}>
        <${Cell} label="Submitted"><${Time} iso=${e.submit_time} /></${Cell}>
        <${Cell} label="Duration">${executionDuration(e)}</${Cell}>
      </tr>`,
    )}
  </${DataTable}>`;
}
