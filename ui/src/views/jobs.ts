/**
 * Jobs: the team's jobs from `GET /api/v1/jobs`. Scheduled jobs (a manifest's `orchestration.schedule`) can be
 * paused, resumed, run now and backfilled; streaming jobs show their continuous loop's state (read one by one
 * from `GET /api/v1/jobs/{id}`, since the list does not ask each loop) and can be stopped and resumed.
 */
import { html } from 'htm/preact';
import { useEffect, useState } from 'preact/hooks';
import type { Job, StreamingJob } from '../../../api/wire.js';
import { getJson, send } from '../api.js';
import {
  Cell,
  ConfirmDialog,
  DataTable,
  ErrorNote,
  Link,
  RowButton,
  StateBadge,
  StatusNote,
  TextBadge,
  Time,
  usePolling,
} from '../components.js';
import { formatDuration } from '../format.js';
import { executionHref } from '../router.js';

const REFRESH_MS = 10_000;

type Notify = (text: string | undefined, error?: unknown) => void;

export function JobsView() {
  const [jobs, setJobs] = useState<Job[] | undefined>();
  const [error, setError] = useState<unknown>();
  const [status, setStatus] = useState<string | undefined>();
  const [actionError, setActionError] = useState<unknown>();
  const [tick, setTick] = useState(0);
  const load = (signal: AbortSignal) =>
    getJson<{ items: Job[] }>('/api/v1/jobs', { signal })
      .then((r) => {
        setJobs(r.items);
        setError(undefined);
      })
      .catch((err: unknown) => signal.aborted || setError(err));
  usePolling(load, REFRESH_MS, true, [tick]);
  const notify: Notify = (text, err) => {
    setStatus(text);
    setActionError(err);
    setTick((t) => t + 1);
  };

  const scheduled = (jobs ?? []).filter((j) => j.schedule);
  const streaming = (jobs ?? []).filter((j) => j.job_type === 'streaming');
  const other = (jobs ?? []).filter((j) => !j.schedule && j.job_type !== 'streaming');
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title" tabindex="-1">Jobs</h1>
    <${ErrorNote} error=${error} />
    <${StatusNote} text=${status} />
    <${ErrorNote} error=${actionError} />
    ${jobs === undefined && !error ? html`<p>Loading…</p>` : null}
    <section aria-labelledby="scheduled-title">
      <h2 id="scheduled-title">Scheduled jobs</h2>
      ${
        scheduled.length === 0
          ? html`<p class="empty">No scheduled jobs. A manifest with <code>orchestration.schedule</code> makes one.</p>`
          : html`<${DataTable} caption="Scheduled jobs" hideCaption=${true} columns=${['Job', 'Schedule', 'State', 'Next run', 'Last execution', 'Actions']}>
            ${scheduled.map((j) => html`<${ScheduleRow} key=${j.job_id} job=${j} notify=${notify} />`)}
          </${DataTable}>`
      }
    </section>
    <section aria-labelledby="streaming-title">
      <h2 id="streaming-title">Streaming jobs</h2>
      ${
        streaming.length === 0
          ? html`<p class="empty">No streaming jobs. A manifest with <code>jobType: streaming</code> makes one.</p>`
          : html`<${DataTable} caption="Streaming jobs" hideCaption=${true} columns=${['Job', 'State', 'Current execution', 'Restarts', 'Actions']}>
            ${streaming.map((j) => html`<${StreamingRow} key=${j.job_id} job=${j} notify=${notify} tick=${tick} />`)}
          </${DataTable}>`
      }
    </section>
    ${
      other.length > 0
        ? html`<section aria-labelledby="other-title">
          <h2 id="other-title">Other jobs</h2>
          <${DataTable} caption="Jobs submitted without a schedule" hideCaption=${true} columns=${['Job', 'Last execution', 'Submitted']}>
            ${other.map(
              (j) => html`<tr key=${j.job_id}>
                <${Cell} label="Job">${j.job_path}</${Cell}>
                <${Cell} label="Last execution"><${LastExecution} job=${j} /></${Cell}>
                <${Cell} label="Submitted"><${Time} iso=${j.last_execution?.submit_time} /></${Cell}>
              </tr>`,
            )}
          </${DataTable}>
        </section>`
        : null
    }
  </section>`;
}

function LastExecution({ job }: { job: Job }) {
  const last = job.last_execution;
  if (!last) return html`<span class="muted">none yet</span>`;
  return html`<${Link} href=${executionHref(last.execution_id)}
    ><${StateBadge} state=${last.status} /> <span class="visually-hidden">execution</span>
    <span class="mono">${last.execution_id.slice(0, 8)}</span></${Link}
  >`;
}

function scheduleText(job: Job): string {
  const config = job.schedule?.config;
  if (!config) return '—';
  const when = config.cron ?? (config.everyMs ? `every ${formatDuration(config.everyMs)}` : '—');
  return `${when} (${config.timezone})`;
}

/** Runs an action and reports its outcome in the view's status line. */
function act(notify: Notify, done: string, call: () => Promise<unknown>) {
  notify('Working…');
  call().then(
    () => notify(done),
    (err: unknown) => notify(undefined, err),
  );
}

function ScheduleRow({ job, notify }: { job: Job; notify: Notify }) {
  const schedule = job.schedule!;
  const id = encodeURIComponent(schedule.scheduleId);
  const [backfilling, setBackfilling] = useState(false);
  const name = job.job_path;
  return html`<tr>
    <${Cell} label="Job">${name}</${Cell}>
    <${Cell} label="Schedule"><code>${scheduleText(job)}</code></${Cell}>
    <${Cell} label="State"
      >${schedule.paused ? html`<${TextBadge} text="Paused" tone="idle" />` : html`<${TextBadge} text="Active" tone="good" />`}</${Cell}
    >
    <${Cell} label="Next run">${schedule.paused ? html`<span class="muted">paused</span>` : html`<${Time} iso=${schedule.nextRunTime} />`}</${Cell}>
    <${Cell} label="Last execution"><${LastExecution} job=${job} /></${Cell}>
    <${Cell} label="Actions" class="row-actions">
      ${
        schedule.paused
          ? html`<${RowButton}
              label="Resume"
              subject=${name}
              onClick=${() => act(notify, `Resumed the schedule of ${name}`, () => send('POST', `/api/v1/schedules/${id}/unpause`, { note: 'resumed from the console' }))}
            />`
          : html`<${RowButton}
              label="Pause"
              subject=${name}
              onClick=${() => act(notify, `Paused the schedule of ${name}`, () => send('POST', `/api/v1/schedules/${id}/pause`, { note: 'paused from the console' }))}
            />`
      }
      <${RowButton} label="Run now" subject=${name} onClick=${() => act(notify, `Triggered ${name}`, () => send('POST', `/api/v1/schedules/${id}/trigger`))} />
      <${RowButton} label="Backfill…" subject=${name} onClick=${() => setBackfilling(true)} />
      <${BackfillDialog}
        open=${backfilling}
        name=${name}
        onClose=${() => setBackfilling(false)}
        onSubmit=${(start: string, end: string) => {
          setBackfilling(false);
          act(notify, `Started a backfill of ${name}`, () =>
            send('POST', `/api/v1/schedules/${id}/backfill`, { start, end }),
          );
        }}
      />
    </${Cell}>
  </tr>`;
}

/** `<input type="datetime-local">` holds local time without an offset; the API wants RFC 3339 with one. */
const toIso = (local: string) => new Date(local).toISOString();

function BackfillDialog(props: {
  open: boolean;
  name: string;
  onClose: () => void;
  onSubmit: (start: string, end: string) => void;
}) {
  const [start, setStart] = useState('');
  const [end, setEnd] = useState('');
  const base = `backfill-${props.name.replace(/\W+/g, '-')}`;
  return html`<${ConfirmDialog}
    open=${props.open}
    title=${`Backfill ${props.name}`}
    confirmLabel="Start backfill"
    cancelLabel="Close"
    onClose=${props.onClose}
    onConfirm=${() => start && end && props.onSubmit(toIso(start), toIso(end))}
  >
    <p>Runs the job once for every time its schedule would have fired between these times (your local time).</p>
    <div class="field">
      <label for=${`${base}-start`}>From</label>
      <input id=${`${base}-start`} type="datetime-local" required value=${start} onInput=${(e: Event) => setStart((e.currentTarget as HTMLInputElement).value)} />
    </div>
    <div class="field">
      <label for=${`${base}-end`}>Until</label>
      <input id=${`${base}-end`} type="datetime-local" required value=${end} onInput=${(e: Event) => setEnd((e.currentTarget as HTMLInputElement).value)} />
    </div>
  </${ConfirmDialog}>`;
}

const LOOP_TONE: Record<StreamingJob['status'], 'good' | 'bad' | 'busy' | 'idle'> = {
  STARTING: 'busy',
  RUNNING: 'good',
  BACKOFF: 'busy',
  DEGRADED: 'bad',
  STOPPED: 'idle',
};

function StreamingRow({ job, notify, tick }: { job: Job; notify: Notify; tick: number }) {
  // undefined until read; null when Temporal has no loop for the job (never deployed, or past retention).
  const [loop, setLoop] = useState<StreamingJob | null | undefined>();
  const [error, setError] = useState<unknown>();
  useEffect(() => {
    getJson<Job>(`/api/v1/jobs/${encodeURIComponent(job.job_id)}`)
      .then((j) => {
        setLoop(j.streaming);
        setError(undefined);
      })
      .catch(setError);
  }, [job.job_id, tick]);
  const name = job.job_path;
  const control = (action: 'stop' | 'resume', done: string) =>
    act(notify, done, () => send('POST', `/api/v1/jobs/${encodeURIComponent(job.job_id)}/${action}`));
  const [confirmStop, setConfirmStop] = useState(false);
  const running = loop && loop.status !== 'STOPPED' && !loop.degraded;
  return html`<tr>
    <${Cell} label="Job">${name}</${Cell}>
    <${Cell} label="State"
      >${
        loop
          ? html`<${TextBadge} text=${loop.status} tone=${LOOP_TONE[loop.status]} />`
          : html`<span class="muted">${loop === null ? 'no loop' : error ? 'unknown' : 'loading…'}</span>`
      }</${Cell}
    >
    <${Cell} label="Current execution"
      >${
        loop?.current_execution_id
          ? html`<${Link} href=${executionHref(loop.current_execution_id)}><span class="mono">${loop.current_execution_id.slice(0, 8)}</span></${Link}>`
          : html`<span class="muted">none</span>`
      }</${Cell}
    >
    <${Cell} label="Restarts">${loop ? String(loop.restart_count) : '—'}</${Cell}>
    <${Cell} label="Actions" class="row-actions">
      ${
        running
          ? html`<${RowButton} label="Stop" subject=${name} onClick=${() => setConfirmStop(true)} />`
          : html`<${RowButton}
              label="Resume"
              subject=${name}
              disabled=${!loop}
              onClick=${() => control('resume', `Resumed ${name}`)}
            />`
      }
      <${ConfirmDialog}
        open=${confirmStop}
        title=${`Stop ${name}?`}
        confirmLabel="Yes, stop it"
        cancelLabel="Keep it running"
        onClose=${() => setConfirmStop(false)}
        onConfirm=${() => {
          setConfirmStop(false);
          control('stop', `Stopped ${name}`);
        }}
      >
        <p>Its current run ends, and the loop idles in STOPPED until it is resumed from its checkpoint.</p>
      </${ConfirmDialog}>
    </${Cell}>
  </tr>`;
}
