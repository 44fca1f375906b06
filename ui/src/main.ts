/** The console's entry point (bundled by ui/bundle.ts): its styles, the app, and the kept session checked again. */
import './console.css';
import { html } from 'htm/preact';
import { render } from 'preact';
import { App } from './app.js';
import { restoreSession } from './auth.js';

render(html`<${App} />`, document.getElementById('app')!);
void restoreSession();
