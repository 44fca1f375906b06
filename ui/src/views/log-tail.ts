/**
 * The driver log of an execution. While it runs: `GET …/logs?follow=true` streamed into the page as it is
 * written, moving on to a retry's attempt (the API does that). Once the stream ends (the execution has ended),
 * or when the page opens on a finished execution: the kept log, read again, so what is shown is the archived
 * copy rather than what happened to arrive live.
 */
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { getText, streamText } from '../api.js';
import { ErrorNote } from '../components.js';

/** Lines shown: the tail, so a huge log never fills the page's memory. */
const TAIL_LINES = 1000;
const MAX_CHARS = 512 * 1024;

type Phase = 'live' | 'archived' | 'loading';

export function LogTail({ id, terminal }: { id: string; terminal: boolean }) {
  const [text, setText] = useState('');
  const [phase, setPhase] = useState<Phase>('loading');
  const [error, setError] = useState<unknown>();
  const [stick, setStick] = useState(true);
  const pre = useRef<HTMLPreElement>(null);
  // Decided once, when the page opens: a finished run's log is read; a live one is followed to its end.
  const startedLive = useRef(!terminal);

  useEffect(() => {
    const abort = new AbortController();
    const path = `/api/v1/executions/${encodeURIComponent(id)}/logs`;
    const archived = () =>
      getText(`${path}?tail=${TAIL_LINES}`, abort.signal).then((t) => {
        setText(t);
        setPhase('archived');
      });
    const run = async () => {
      if (startedLive.current) {
        setPhase('live');
        await streamText(
          `${path}?follow=true&tail=${TAIL_LINES}`,
          (chunk) => setText((t) => (t + chunk).slice(-MAX_CHARS)),
          abort.signal,
        );
      }
      await archived();
    };
    run().catch((err: unknown) => {
      if (!abort.signal.aborted) setError(err);
    });
    return () => abort.abort();
  }, [id]);

  useEffect(() => {
    if (stick && pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text, stick]);

  const status = {
    loading: 'Loading the log…',
    live: 'Following the live log; it switches to the kept log when the run ends.',
    archived: `The kept log (its last ${TAIL_LINES} lines).`,
  }[phase];
  return html`<section aria-labelledby="log-title">
    <h2 id="log-title">Driver log</h2>
    <div class="toolbar">
      <span class="muted" role="status">${status}</span>
      <label class="check">
        <input
          type="checkbox"
          checked=${stick}
          onChange=${(e: Event) => setStick((e.currentTarget as HTMLInputElement).checked)}
        />
        Keep scrolled to the end
      </label>
    </div>
    <${ErrorNote} error=${error} />
    <pre class="log" ref=${pre} tabindex="0" role="log" aria-live="off" aria-label="Driver log">
${text || (phase === 'loading' ? '' : '(empty)')}</pre>
  </section>`;
}
