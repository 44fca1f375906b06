/**
 * Client-side routes under /ui, in the address bar (the API serves the shell for any /ui path), so every view
 * and every filter can be bookmarked, shared and reloaded:
 *
 *   /ui/executions?state=FAILED&…   the executions list and its filters
 *   /ui/executions/<id>             one execution
 *   /ui/jobs                        manifest-defined jobs: schedules and streaming loops
 *   /ui/sessions                    Spark Connect sessions
 */
import { signal } from '@preact/signals';

export const BASE = '/ui';

export type Route =
  | { view: 'executions'; query: URLSearchParams }
  | { view: 'execution'; id: string }
  | { view: 'jobs' }
  | { view: 'sessions' }
  | { view: 'not-found'; path: string };

export function parseRoute(pathname: string, search: string): Route {
  const rest = pathname.startsWith(BASE) ? pathname.slice(BASE.length) : pathname;
  const parts = rest.split('/').filter(Boolean).map(decodeURIComponent);
  const [view, id, ...more] = parts;
  if (more.length > 0) return { view: 'not-found', path: pathname };
  if (view === undefined || (view === 'executions' && id === undefined)) {
    return { view: 'executions', query: new URLSearchParams(search) };
  }
  if (view === 'executions' && id !== undefined) return { view: 'execution', id };
  if (view === 'jobs' && id === undefined) return { view: 'jobs' };
  if (view === 'sessions' && id === undefined) return { view: 'sessions' };
  return { view: 'not-found', path: pathname };
}

const current = () => parseRoute(window.location.pathname, window.location.search);

export const route = signal<Route>(current());

window.addEventListener('popstate', () => {
  route.value = current();
});

/** Goes to `href` (a path under /ui) without reloading the page. */
export function navigate(href: string, options: { replace?: boolean } = {}): void {
  if (options.replace) window.history.replaceState(null, '', href);
  else window.history.pushState(null, '', href);
  route.value = current();
}

/** An `<a>` click handler that keeps plain left clicks in the page and leaves the rest (new tab…) to the browser. */
export function followLink(event: MouseEvent): void {
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(anchor.getAttribute('href')!);
}

export function executionHref(id: string): string {
  return `${BASE}/executions/${encodeURIComponent(id)}`;
}
