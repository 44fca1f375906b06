/**
 * One execution: its state and times, links out (Spark UI while it runs, the History Server after, the Temporal
 * workflow), its timeline of events, its attempts with their resources and failure class, the METRICS_SUMMARY
 * figures, the driver log (followed live, then the archived log), and cancel, behind a confirmation.
 * Another team's execution answers 404 from the API, and so reads "not found" here, as if it did not exist.
 */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { Event, EventList, Execution } from '../../../api/wire.js';
import { isTerminal } from '../../../schema/states.js';
import { ApiError, getJson, send } from '../api.js';
import { Cell, ConfirmDialog, DataTable, ErrorNote, StateBadge, StatusNote, Time, usePolling } from '../components.js';
import { executionDuration, formatDuration, formatMetric, formatResources, labelOf } from '../format.js';
import { settings } from '../settings.js';
import { LogTail } from './log-tail.js';

const REFRESH_MS = 2000;

export function ExecutionView({ id }: { id: string }) {
  const [execution, setExecution] = useState<Execution | undefined>();
  const [events, setEvents] = useState<Event[]>([]);
  const [error, setError] = useState<unknown>();
  const terminal = execution ? isTerminal(execution.status) : false;
  // One more read after the end, for the METRICS_SUMMARY written with TERMINAL.
  const [settled, setSettled] = useState(false);
  const base = `/api/v1/executions/${encodeURIComponent(id)}`;

  usePolling(
    (signal) =>
      Promise.all([getJson<Execution>(base, { signal }), getJson<EventList>(`${base}/events`, { signal })])
        .then(([e, list]) => {
          setExecution(e);
          setEvents(list.items);
          setError(undefined);
          if (isTerminal(e.status) && list.items.some((ev) => ev.event_type === 'METRICS_SUMMARY')) setSettled(true);
        })
        .catch((err: unknown) => signal.aborted || setError(err)),
    REFRESH_MS,
    !settled,
    [id],
  );

  if (error instanceof ApiError && error.status === 404) {
    return html`<section aria-labelledby="page-title">
      <h1 id="page-title" tabindex="-1">Execution not found</h1>
      <p>No execution <code>${id}</code> is visible to you: it does not exist, or it belongs to another team.</p>
    </section>`;
  }
  if (!execution) {
    return html`<section aria-labelledby="page-title">
      <h1 id="page-title" tabindex="-1">Execution</h1>
      ${error ? html`<${ErrorNote} error=${error} />` : html`<p>Loading…</p>`}
    </section>`;
  }
  return html`<section aria-labelledby="page-title" class="execution">
    <h1 id="page-title" tabindex="-1">${execution.job_path} <${StateBadge} state=${execution.status} /></h1>
    <${ErrorNote} error=${error} />
    <${Summary} e=${execution} />
    <${Actions} e=${execution} onChanged=${() => setSettled(false)} />
    <${Timeline} events=${events} />
    <${Attempts} e=${execution} events=${events} />
    <${Metrics} events=${events} />
    <${LogTail} key=${id} id=${id} terminal=${terminal} />
  </section>`;
}

function Summary({ e }: { e: Execution }) {
  const rows: [string, unknown][] = [
    ['Execution', html`<code>${e.execution_id}</code>`],
    ['Team', e.team],
    ['Trigger', e.trigger],
    ['Backend', e.backend ? `${e.backend}${e.cluster ? ` / ${e.cluster}` : ''}` : '—'],
    ['Attempts', String(e.attempts)],
    ['Submitted', html`<${Time} iso=${e.submit_time} />`],
    ['Started', html`<${Time} iso=${e.start_time} />`],
    ['Ended', html`<${Time} iso=${e.end_time} />`],
    ['Duration', executionDuration(e)],
    ['Resources', formatResources(e.resources)],
  ];
  if (e.error) rows.push(['Failure', `${e.error.class}${e.error.message ? `: ${e.error.message}` : ''}`]);
  if (e.pending_reason) rows.push(['Waiting', `${e.pending_reason.code}: ${e.pending_reason.message}`]);
  return html`<dl class="summary">
    ${rows.map(
      ([k, v]) =>
        html`<div>
          <dt>${k}</dt>
          <dd>${v}</dd>
        </div>`,
    )}
  </dl>`;
}

/** Links out, and cancel. After the run, spark_ui_url is the application's page on the History Server. */
function Actions({ e, onChanged }: { e: Execution; onChanged: () => void }) {
  const [confirming, setConfirming] = useState(false);
  const [status, setStatus] = useState<string | undefined>();
  const [error, setError] = useState<unknown>();
  const done = isTerminal(e.status);
  const temporal = `${settings.temporalUiUrl}/namespaces/${encodeURIComponent(settings.temporalNamespace)}/workflows/${encodeURIComponent(e.workflow_id)}`;
  const cancel = () => {
    setConfirming(false);
    setStatus('Cancelling…');
    send('DELETE', `/api/v1/executions/${encodeURIComponent(e.execution_id)}`)
      .then(() => {
        setStatus('Cancel requested; the run is being stopped.');
        setError(undefined);
        onChanged();
      })
      .catch((err: unknown) => {
        setStatus(undefined);
        setError(err);
      });
  };
  return html`<div class="actions-bar">
    <ul class="links" aria-label="Links">
      ${
        e.spark_ui_url
          ? html`<li>
              <a href=${e.spark_ui_url} target="_blank" rel="noopener noreferrer"
                >${done ? 'Spark History Server' : 'Spark UI'}</a
              >
            </li>`
          : html`<li class="muted">${done ? 'No History Server page' : 'No Spark UI yet'}</li>`
      }
      <li><a href=${temporal} target="_blank" rel="noopener noreferrer">Temporal workflow</a></li>
    </ul>
    ${done ? null : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Cancel execution</button>`}
    <${StatusNote} text=${status} />
    <${ErrorNote} error=${error} />
    <${ConfirmDialog}
      open=${confirming}
      title="Cancel this execution?"
      confirmLabel="Yes, cancel it"
      cancelLabel="Keep it running"
      onConfirm=${cancel}
      onClose=${() => setConfirming(false)}
    >
      <p>${e.job_path} (<code>${e.execution_id.slice(0, 8)}</code>) is stopped at its backend and ends CANCELLED. It is not retried.</p>
    </${ConfirmDialog}>
  </div>`;
}

/** What one event says, in a line. */
function describe(ev: Event): string {
  const p = ev.payload;
  const str = (v: unknown) => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
  switch (ev.event_type) {
    case 'SUBMIT': {
      const placement = (p.placement ?? {}) as Record<string, unknown>;
      const where = [str(p.backend), str(p.cluster)].filter(Boolean).join(' / ');
      return `Attempt ${ev.attempt} submitted to ${where || 'its backend'}${placement.reason ? ` (${str(placement.reason)})` : ''}`;
    }
    case 'RUNNING':
      return `Attempt ${ev.attempt} running${p.backendState ? ` (${str(p.backendState)})` : ''}`;
    case 'RETRY':
      return `Attempt ${ev.attempt} failed, ${str(p.failureClass)}: ${str(p.summary)}; attempt ${str(p.nextAttempt)} after ${formatDuration(Number(p.delayMs ?? 0))}${p.change ? ` with ${str(p.change)}` : ''}`;
    case 'CANCEL_REQUESTED':
      return `Cancel requested${p.requestedBy ? ` by ${str(p.requestedBy)}` : ''}${p.reason ? `: ${str(p.reason)}` : ''}`;
    case 'TERMINAL':
      return `${str(p.state)}${p.failureClass ? `, ${str(p.failureClass)}` : ''}${p.failureMessage ? `: ${str(p.failureMessage)}` : ''}`;
    case 'METRICS_SUMMARY':
      return 'Metrics recorded';
    default: {
      const unknown: never = ev.event_type;
      return String(unknown);
    }
  }
}

function Timeline({ events }: { events: Event[] }) {
  return html`<section aria-labelledby="timeline-title">
    <h2 id="timeline-title">Timeline</h2>
    ${
      events.length === 0
        ? html`<p class="empty">No events yet.</p>`
        : html`<ol class="timeline">
            ${events.map(
              (ev) =>
                html`<li key=${ev.event_id}>
                  <span class="event-type">${ev.event_type}</span>
                  <${Time} iso=${ev.timestamp} />
                  <span class="event-text">${describe(ev)}</span>
                </li>`,
            )}
          </ol>`
    }
  </section>`;
}

interface AttemptRow {
  attempt: number;
  where: string;
  resources: Execution['resources'] | undefined;
  started?: string;
  ended?: string;
  outcome: string;
}

/** Each attempt from its events: SUBMIT (where, with what), then RETRY or TERMINAL (how it ended). */
function attemptsOf(e: Execution, events: Event[]): AttemptRow[] {
  const rows = new Map<number, AttemptRow>();
  const row = (n: number) => {
    let r = rows.get(n);
    if (!r) rows.set(n, (r = { attempt: n, where: '—', resources: undefined, outcome: 'running' }));
    return r;
  };
  for (const ev of events) {
    const p = ev.payload;
    const text = (v: unknown) => (typeof v === 'string' ? v : '');
    if (ev.event_type === 'SUBMIT') {
      const r = row(ev.attempt);
      r.where = [p.backend, p.cluster].filter((v) => typeof v === 'string' && v).join(' / ') || '—';
      r.resources = p.resources as Execution['resources'];
      r.started = ev.timestamp;
    } else if (ev.event_type === 'RETRY') {
      const r = row(ev.attempt);
      r.ended = ev.timestamp;
      r.outcome = `failed: ${text(p.failureClass)}`;
    } else if (ev.event_type === 'TERMINAL' && ev.attempt > 0) {
      const r = row(ev.attempt);
      r.ended = ev.timestamp;
      r.outcome = `${text(p.state)}${p.failureClass ? `: ${text(p.failureClass)}` : ''}`;
    }
  }
  if (rows.size === 0 && e.attempts > 0) row(e.attempts).resources = e.resources;
  return [...rows.values()].sort((a, b) => a.attempt - b.attempt);
}

function Attempts({ e, events }: { e: Execution; events: Event[] }) {
  const rows = attemptsOf(e, events);
  return html`<section aria-labelledby="attempts-title">
    <h2 id="attempts-title">Attempts</h2>
    ${
      rows.length === 0
        ? html`<p class="empty">No attempt has started yet.</p>`
        : html`<${DataTable} caption="Attempts" columns=${['Attempt', 'Where', 'Resources', 'Started', 'Ended', 'Outcome']} hideCaption=${true}>
          ${rows.map(
            (r) => html`<tr key=${r.attempt}>
              <${Cell} label="Attempt">${r.attempt}</${Cell}>
              <${Cell} label="Where">${r.where}</${Cell}>
              <${Cell} label="Resources">${formatResources(r.resources)}</${Cell}>
              <${Cell} label="Started"><${Time} iso=${r.started} /></${Cell}>
              <${Cell} label="Ended"><${Time} iso=${r.ended} /></${Cell}>
              <${Cell} label="Outcome">${r.outcome}</${Cell}>
            </tr>`,
          )}
        </${DataTable}>`
    }
  </section>`;
}

/** Nested payload objects as dotted keys, so every figure is one row whatever the payload's version. */
function flatten(value: Record<string, unknown>, prefix = ''): [string, unknown][] {
  return Object.entries(value).flatMap(([k, v]): [string, unknown][] =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? flatten(v as Record<string, unknown>, `${prefix}${k}.`)
      : [[`${prefix}${k}`, v]],
  );
}

function Metrics({ events }: { events: Event[] }) {
  const summary = events.findLast((ev) => ev.event_type === 'METRICS_SUMMARY');
  return html`<section aria-labelledby="metrics-title">
    <h2 id="metrics-title">Metrics summary</h2>
    ${
      summary
        ? html`<dl class="summary metrics">
            ${flatten(summary.payload).map(
              ([k, v]) =>
                html`<div>
                  <dt>${labelOf(k)}</dt>
                  <dd>${formatMetric(k, v)}</dd>
                </div>`,
            )}
          </dl>`
        : html`<p class="empty">Written when the execution ends.</p>`
    }
  </section>`;
}
