import { setTimeout as sleep } from 'node:timers/promises';

/** Waits `ms`; false if the signal aborted instead (the only way this sleep rejects). */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
