/** Small pieces every view uses: links, state badges, times, notices, and a confirmation dialog. */
import { html } from 'htm/preact';
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { ExecutionState } from '../../schema/states.js';
import { formatTime } from './format.js';
import { followLink } from './router.js';

/** An in-console link (stays in the page); external links are plain anchors. */
export function Link(props: { href: string; children: ComponentChildren; class?: string; current?: boolean }) {
  return html`<a
    href=${props.href}
    class=${props.class}
    aria-current=${props.current ? 'page' : undefined}
    onClick=${followLink}
    >${props.children}</a
  >`;
}

/** A shape beside each state's name, so no state is told by its colour alone. */
const GLYPH: Record<ExecutionState, string> = {
  PENDING: '◷',
  SUBMITTED: '↑',
  RUNNING: '▶',
  SUCCEEDED: '✓',
  FAILED: '✕',
  CANCELLED: '⊘',
};

export function StateBadge({ state }: { state: ExecutionState }) {
  return html`<span class="badge badge-${state.toLowerCase()}"
    ><span aria-hidden="true">${GLYPH[state]}</span> ${state}</span
  >`;
}

/** A labelled badge for other states (a schedule's, a streaming loop's, a session's). */
export function TextBadge({ text, tone }: { text: string; tone: 'good' | 'bad' | 'busy' | 'idle' }) {
  const glyph = { good: '✓', bad: '✕', busy: '▶', idle: '⏸' }[tone];
  return html`<span class="badge badge-${tone}"><span aria-hidden="true">${glyph}</span> ${text}</span>`;
}

export function Time({ iso }: { iso: string | null | undefined }) {
  return iso ? html`<time datetime=${iso} title=${iso}>${formatTime(iso)}</time>` : html`<span>—</span>`;
}

/** An error, announced to screen readers as it appears. */
export function ErrorNote({ error }: { error: unknown }) {
  if (!error) return null;
  return html`<p class="notice notice-error" role="alert">
    ${error instanceof Error ? error.message : JSON.stringify(error)}
  </p>`;
}

/** The outcome of an action (announced politely). */
export function StatusNote({ text }: { text: string | undefined }) {
  return html`<p class="notice" role="status">${text ?? ''}</p>`;
}

/**
 * A modal confirmation on the native `<dialog>`: it traps focus, Escape closes it, and focus returns to the
 * button that opened it. `onConfirm` runs only on the confirm button.
 */
export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  children: ComponentChildren;
  confirmLabel: string;
  cancelLabel: string;
  onConfirm: () => void;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (props.open && !dialog.open) dialog.showModal();
    if (!props.open && dialog.open) dialog.close();
  }, [props.open]);
  const titleId = `dialog-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
  return html`<dialog ref=${ref} aria-labelledby=${titleId} onClose=${props.onClose}>
    <h2 id=${titleId}>${props.title}</h2>
    ${props.children}
    <div class="actions">
      <button type="button" class="danger" onClick=${props.onConfirm}>${props.confirmLabel}</button>
      <button type="button" onClick=${props.onClose} autofocus>${props.cancelLabel}</button>
    </div>
  </dialog>`;
}

/**
 * A button acting on one row's thing: it shows its verb, and its accessible name adds the thing ("Pause
 * data-infra/hourly"), so a screen reader can tell the rows' buttons apart and the visible label stays in the name.
 */
export function RowButton(props: {
  label: string;
  subject: string;
  onClick: () => void;
  disabled?: boolean;
  danger?: boolean;
}) {
  return html`<button
    type="button"
    class=${props.danger ? 'danger' : undefined}
    disabled=${props.disabled}
    onClick=${props.onClick}
  >
    ${props.label}<span class="visually-hidden"> ${props.subject}</span>
  </button>`;
}

/** A table that becomes a list of labelled cards on a narrow screen (each cell carries its column's label). */
export function DataTable(props: {
  caption: string;
  columns: string[];
  children: ComponentChildren;
  hideCaption?: boolean;
}) {
  return html`<div class="table">
    <table>
      <caption class=${props.hideCaption ? 'visually-hidden' : undefined}>
        ${props.caption}
      </caption>
      <thead>
        <tr>
          ${props.columns.map((c) => html`<th scope="col">${c}</th>`)}
        </tr>
      </thead>
      <tbody>
        ${props.children}
      </tbody>
    </table>
  </div>`;
}

/** A table cell; its content is one box, so on a narrow screen it sits beside the column's label. */
export function Cell(props: { label: string; children: ComponentChildren; class?: string }) {
  return html`<td data-label=${props.label}><div class=${props.class}>${props.children}</div></td>`;
}

/**
 * Runs `load` now, then `ms` after each run settles (never two at once, however slow the API) while `active`;
 * from the start again when a dependency changes. The signal given to `load` is aborted when the view moves on
 * (new filters, unmount), so an answer for the old view is dropped instead of shown.
 */
export function usePolling(
  load: (signal: AbortSignal) => Promise<unknown>,
  ms: number,
  active: boolean,
  deps: unknown[],
): void {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    const controller = new AbortController();
    let timer: number | undefined;
    const run = () => {
      void latest
        .current(controller.signal)
        .catch(() => undefined)
        .finally(() => {
          if (active && !controller.signal.aborted) timer = window.setTimeout(run, ms);
        });
    };
    run();
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [active, ms, ...deps]);
}
