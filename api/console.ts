/**
 * The web console at /ui: a single-page app (ui/src/, bundled by ui/bundle.ts into UI_DIR) served by the API
 * itself. The page shell and its assets are public; every piece of data the page shows comes from /api/v1 with
 * the token given at sign-in, so the console sees exactly what that token may see.
 *
 * It is one middleware mounted at /ui, not declared routes: these are pages, not API operations, so they stay out
 * of the OpenAPI document (whose route walk in test/integration/openapi.test.ts passes over plain middleware).
 *
 *   GET /ui, /ui/, /ui/<view>[/<id>]   the shell (index.html), whatever the view: the page routes in the browser
 *   GET /ui/assets/<name>-<hash>.js    the bundle; content-hashed names, so cached for a year
 */
import fs from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import { temporalUiUrl, type Config } from '../config/index.js';
import { HttpProblem } from './problem.js';

/** What the page needs to know before its first API call; public, like the shell that carries it. */
export interface ConsoleSettings {
  /** The Temporal Web UI, for each execution's workflow link. */
  temporalUiUrl: string;
  temporalNamespace: string;
}

/** The placeholder in ui/index.html that the settings replace. */
export const SETTINGS_PLACEHOLDER = '<!--console-settings-->';

const ASSET = /^[\w.-]+$/;
const SECURITY_HEADERS = {
  // Scripts and styles only from here (htm needs no eval); data only from this API; no framing.
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

/** The settings as an inert JSON script element; `<` is escaped so no value can close the element. */
function settingsElement(settings: ConsoleSettings): string {
  const json = JSON.stringify(settings).replace(/</g, '\\u003c');
  return `<script id="console-settings" type="application/json">${json}</script>`;
}

/** Serves the console from `config.UI_DIR`; 503 with one line saying how to build it when it is not there. */
export function consoleHandler(
  config: Pick<Config, 'UI_DIR' | 'TEMPORAL_UI_URL' | 'TEMPORAL_UI_PORT' | 'TEMPORAL_NAMESPACE'>,
): RequestHandler {
  const dir = path.resolve(config.UI_DIR);
  const settings = settingsElement({
    temporalUiUrl: temporalUiUrl(config),
    temporalNamespace: config.TEMPORAL_NAMESPACE,
  });
  let shell: { mtimeMs: number; html: string } | undefined;

  /** index.html with the settings in; re-read when the bundle is rebuilt under a running API. */
  const readShell = (): string => {
    const file = path.join(dir, 'index.html');
    let stat: fs.Stats;
    try {
      stat = fs.statSync(file);
    } catch {
      throw new HttpProblem(
        503,
        'Console not built',
        `the web console is not built in UI_DIR=${dir}: run npm run build (or npm run dev), or point UI_DIR at a built console`,
      );
    }
    if (shell?.mtimeMs !== stat.mtimeMs) {
      shell = { mtimeMs: stat.mtimeMs, html: fs.readFileSync(file, 'utf8').replace(SETTINGS_PLACEHOLDER, settings) };
    }
    return shell.html;
  };

  return (req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    res.set(SECURITY_HEADERS);
    const asset = /^\/assets\/(.+)$/.exec(req.path)?.[1];
    if (asset === undefined) {
      res.set('Cache-Control', 'no-cache').type('html').send(readShell());
      return;
    }
    if (!ASSET.test(asset) || asset.startsWith('.')) return next();
    res.sendFile(path.join(dir, 'assets', asset), { immutable: true, maxAge: '365d', dotfiles: 'deny' }, (err) => {
      // A missing asset falls through to the API's problem+json 404.
      if (err && !res.headersSent) next();
    });
  };
}
