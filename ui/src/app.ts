/**
 * The console's frame: a skip link, the header with the views and who is signed in, and the current view. The
 * view follows the address bar (router.ts); focus moves to its heading on every navigation, so keyboard and
 * screen-reader users land on the new page rather than on the link they left.
 */
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Principal } from '../../api/wire.js';
import { auth, signOut } from './auth.js';
import { Link } from './components.js';
import { BASE, route, type Route } from './router.js';
import { ExecutionView } from './views/execution.js';
import { ExecutionsView } from './views/executions.js';
import { JobsView } from './views/jobs.js';
import { SessionsView } from './views/sessions.js';
import { SignInView } from './views/sign-in.js';

const NAV = [
  { href: `${BASE}/executions`, label: 'Executions', views: ['executions', 'execution'] },
  { href: `${BASE}/jobs`, label: 'Jobs', views: ['jobs'] },
  { href: `${BASE}/sessions`, label: 'Sessions', views: ['sessions'] },
] as const;

function titleOf(r: Route): string {
  switch (r.view) {
    case 'executions':
      return 'Executions';
    case 'execution':
      return `Execution ${r.id.slice(0, 8)}`;
    case 'jobs':
      return 'Jobs';
    case 'sessions':
      return 'Sessions';
    case 'not-found':
      return 'Page not found';
    default: {
      const unknown: never = r;
      return String(unknown);
    }
  }
}

function View({ r }: { r: Route }) {
  switch (r.view) {
    case 'executions':
      return html`<${ExecutionsView} query=${r.query} />`;
    case 'execution':
      return html`<${ExecutionView} key=${r.id} id=${r.id} />`;
    case 'jobs':
      return html`<${JobsView} />`;
    case 'sessions':
      return html`<${SessionsView} />`;
    case 'not-found':
      return html`<section aria-labelledby="page-title">
        <h1 id="page-title" tabindex="-1">Page not found</h1>
        <p>Nothing lives at <code>${r.path}</code>. <${Link} href=${`${BASE}/executions`}>See the executions</${Link}>.</p>
      </section>`;
    default: {
      const unknown: never = r;
      return String(unknown);
    }
  }
}

/** "ci-bot · team data-infra", or "root · admin, every team". */
function whoIs(p: Principal): string {
  return `${p.name} · ${p.role === 'admin' ? 'admin, every team' : `team ${p.team}`}`;
}

export function App() {
  const state = auth.value;
  const r = route.value;
  const signedIn = state.kind === 'signed-in';
  const view = r.view;
  const page = `${state.kind} ${r.view === 'execution' ? r.id : view}`;
  const shown = useRef<string | undefined>(undefined);
  useEffect(() => {
    document.title = `${signedIn ? titleOf(r) : 'Sign in'} · Spark Runner`;
    // Not when the page opens (or a kept session is restored): focus starts where the browser puts it.
    const opened = shown.current === undefined || shown.current.startsWith('loading');
    if (!opened && shown.current !== page) document.getElementById('page-title')?.focus();
    shown.current = page;
  }, [page]);

  return html`<a class="skip-link" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">Spark Runner</span>
      ${
        signedIn
          ? html`<nav aria-label="Views">
                <ul>
                  ${NAV.map(
                    (n) => html`<li>
                    <${Link} href=${n.href} current=${(n.views as readonly string[]).includes(view)}>${n.label}</${Link}>
                  </li>`,
                  )}
                </ul>
              </nav>
              <div class="who">
                <span>${whoIs(state.principal)}</span>
                <button type="button" class="link-button" onClick=${() => signOut()}>Sign out</button>
              </div>`
          : null
      }
    </header>
    <main id="main" tabindex="-1">
      ${
        state.kind === 'loading'
          ? html`<p>Loading…</p>`
          : state.kind === 'signed-out'
            ? html`<${SignInView} message=${state.message} />`
            : html`<${View} r=${r} />`
      }
    </main>`;
}
