/** What the API put in the page shell (api/console.ts): where the Temporal UI is, and the namespace. */
import type { ConsoleSettings } from '../../api/console.js';

function read(): ConsoleSettings {
  const text = document.getElementById('console-settings')?.textContent;
  const fallback = {
    temporalUiUrl: `${window.location.protocol}//${window.location.hostname}:8233`,
    temporalNamespace: 'default',
  };
  if (!text) return fallback;
  try {
    return { ...fallback, ...(JSON.parse(text) as Partial<ConsoleSettings>) };
  } catch {
    return fallback;
  }
}

export const settings: ConsoleSettings = read();
