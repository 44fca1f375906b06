/** Sign-in: an API token, checked against the API and then kept for this browser tab's session only. */
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { signIn } from '../auth.js';
import { ErrorNote } from '../components.js';

export function SignInView({ message }: { message?: string }) {
  const [token, setToken] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = (e: SubmitEvent) => {
    e.preventDefault();
    setBusy(true);
    signIn(token.trim())
      .catch((err: unknown) => setError(err))
      .finally(() => setBusy(false));
  };
  return html`<section class="sign-in" aria-labelledby="page-title">
    <h1 id="page-title" tabindex="-1">Sign in to Spark Runner</h1>
    ${message ? html`<p class="notice">${message}</p>` : null}
    <form onSubmit=${submit}>
      <div class="field">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          required
          autocomplete="off"
          aria-describedby="token-help"
          value=${token}
          onInput=${(e: Event) => setToken((e.currentTarget as HTMLInputElement).value)}
        />
        <p id="token-help" class="muted">
          The bearer token you use with the API and the CLI. It is kept in this tab's session only, and you see what it
          may see: your team's jobs, or every team's with an admin token.
        </p>
      </div>
      <${ErrorNote} error=${error} />
      <button type="submit" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
    </form>
  </section>`;
}
