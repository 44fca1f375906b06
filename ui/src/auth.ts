/**
 * Who is signed in. The token is checked against `GET /api/v1/me` before it is kept; a kept token is checked
 * again when the page loads, and dropped as soon as the API stops accepting it.
 */
import { signal } from '@preact/signals';
import type { Principal } from '../../api/wire.js';
import { ApiError, onUnauthorized, storedToken, storeToken, whoIs } from './api.js';

/** `loading` while a kept token is being checked at page load. */
export type AuthState =
  { kind: 'loading' } | { kind: 'signed-out'; message?: string } | { kind: 'signed-in'; principal: Principal };

export const auth = signal<AuthState>(storedToken() ? { kind: 'loading' } : { kind: 'signed-out' });

export function signOut(message?: string): void {
  storeToken(undefined);
  auth.value = { kind: 'signed-out', ...(message ? { message } : {}) };
}

onUnauthorized(() => signOut('The API no longer accepts that token; sign in again.'));

/** Checks the token and keeps it for this tab's session; rejects with a message for the sign-in form. */
export async function signIn(token: string): Promise<void> {
  try {
    const principal = await whoIs(token);
    storeToken(token);
    auth.value = { kind: 'signed-in', principal };
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) throw new Error('That token is not recognised.');
    throw err;
  }
}

/** At page load: a token kept from earlier in this session is checked again. */
export async function restoreSession(): Promise<void> {
  const token = storedToken();
  if (!token) return;
  try {
    auth.value = { kind: 'signed-in', principal: await whoIs(token) };
  } catch (err) {
    signOut(
      err instanceof ApiError && err.status === 401
        ? 'Your session has ended; sign in again.'
        : `The API did not answer (${(err as Error).message}); sign in again.`,
    );
  }
}

/** Whether the signed-in token sees every team (an admin's) or one. */
export function isAdmin(): boolean {
  return auth.value.kind === 'signed-in' && auth.value.principal.role === 'admin';
}
