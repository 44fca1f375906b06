/**
 * The web console at /ui, driven in a real browser: Debian's Chromium, headless, through playwright-core (the
 * global setup provides it; nothing downloads a browser). Behind it: the real API, Temporal, Postgres and real
 * Spark (a PySpark job that raises, and SparkPi cancelled mid-run); the sim backend stands in only for runs whose
 * content does not matter (another team's execution, a schedule's and a streaming job's runs).
 *
 * CONSOLE_SCREENSHOTS=docs/console also writes the screenshots the README shows.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { AxeResults } from 'axe-core';
import express from 'express';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleHandler } from '../../api/console.js';
import { problemHandler } from '../../api/problem.js';
import { createSimBackend } from '../../gateway/backends/sim/index.js';
import { bundleConsole } from '../../ui/bundle.js';
import { startTestApi, type TestApi } from '../helpers/api.js';
import { eventually, openTestStack, type TestStack } from '../helpers/stack.js';

type Json = Record<string, unknown>;

const run = crypto.randomUUID().slice(0, 6);
const SCHEDULED = `console-hourly-${run}`;
const STREAMING = `console-stream-${run}`;
const SCREENSHOTS = process.env.CONSOLE_SCREENSHOTS;
// Test files share Postgres: the paging test counts executions of a team only this file uses.
const PAGING_TEAM = `console-${run}`;
const PAGING_TOKEN = crypto.randomUUID();
const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

let stack: TestStack;
let api: TestApi;
let browser: Browser;
let work: string;
let failedId: string;
let otherTeamId: string;
const contexts: BrowserContext[] = [];
const sim = createSimBackend();

async function call(method: string, urlPath: string, token: string | undefined, body?: unknown) {
  const headers: Record<string, string> = {};
  if (token) headers.Authorization = `Bearer ${token}`;
  if (typeof body === 'string') headers['Content-Type'] = 'application/yaml';
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(`${api.url}${urlPath}`, {
    method,
    headers,
    body: typeof body === 'string' || body === undefined ? body : JSON.stringify(body),
  });
  const text = await res.text();
  const type = res.headers.get('content-type') ?? '';
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: (type.includes('json') ? JSON.parse(text) : {}) as Json,
  };
}

async function submit(token: string, spec: Json): Promise<string> {
  const res = await call('POST', '/api/v1/jobs', token, { engineVersion: '4.0', ...spec });
  expect(res.status, res.text).toBe(202);
  return res.json.execution_id as string;
}

const finished = (id: string) =>
  eventually(
    `execution ${id} to end`,
    async () => {
      const { json } = await call('GET', `/api/v1/executions/${id}`, api.tokens.admin);
      return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(json.status as string) ? json : undefined;
    },
    120_000,
  );

const manifest = `apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata: { name: ${SCHEDULED}, team: data-infra }
spec:
  engineVersion: "4.0"
  backend: sim
  application: { type: python, file: job.py }
  orchestration: { schedule: "@yearly", timezone: Europe/Paris }
---
apiVersion: dcp.pedregal.doordash.com/v1
kind: SparkJob
metadata: { name: ${STREAMING}, team: data-infra }
spec:
  engineVersion: "4.0"
  backend: sim
  jobType: streaming
  application: { type: python, file: stream.py }
  sim: { attempts: [{ runningAfterMs: 100, endAfterMs: 3600000 }] }
`;

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(process.env.SPARK_RUNNER_TEST_TMP!, 'console-'));
  const bundle = await bundleConsole(path.join(work, 'ui'));
  stack = await openTestStack({ UI_DIR: bundle.dir });
  await stack.startWorker({ sim });
  api = await startTestApi(stack, { backends: { sim }, teamTokens: { [PAGING_TEAM]: PAGING_TOKEN } });
  const executablePath = process.env.CHROMIUM;
  if (!executablePath) throw new Error('the vitest global setup did not provide CHROMIUM');
  browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  // A PySpark job that fails the way user code does: a Python exception, and a non-zero exit.
  const failing = path.join(work, 'fail.py');
  fs.writeFileSync(failing, 'raise RuntimeError("console test: the input table is missing")\n');
  failedId = await submit(api.tokens.dataInfra, {
    name: 'console-fail',
    backend: 'local',
    application: { type: 'python', file: failing },
  });
  otherTeamId = await submit(api.tokens.other, {
    name: 'console-other',
    backend: 'sim',
    application: { type: 'python', file: 'job.py' },
    sim: { attempts: [{ runningAfterMs: 50, endAfterMs: 300 }] },
  });
  const applied = await call('POST', '/api/v1/manifests', api.tokens.dataInfra, manifest);
  expect(applied.status, applied.text).toBe(200);
}, 300_000);

afterAll(async () => {
  if (api) await call('DELETE', '/api/v1/manifests', api.tokens.dataInfra, manifest);
  await Promise.allSettled(contexts.map((c) => c.close()));
  await browser?.close();
  await api?.close();
  await stack?.close();
});

/** A fresh browser tab (its own session storage) at `width` px, signed in with `token` through the form. */
async function signedIn(token: string, width = 1280): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height: 900 } });
  contexts.push(context);
  const page = await context.newPage();
  await page.goto(`${api.url}/ui`);
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

/** Evaluates `js` in the page. A string, since this file is typed for Node, not for the DOM. */
function inPage<T = unknown>(page: Page, js: string): Promise<T> {
  return page.evaluate<T>(js);
}

/** How far the page scrolls sideways; 0 or less: it does not. */
const SIDEWAYS = 'document.documentElement.scrollWidth - window.innerWidth';

/** axe-core's serious and critical violations on the page as it is now (rule id: the offending elements). */
async function seriousViolations(page: Page): Promise<Record<string, string[]>> {
  await page.evaluate(axeSource);
  const results = await inPage<AxeResults>(page, 'axe.run()');
  return Object.fromEntries(
    results.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => [v.id, v.nodes.map((n) => n.target.join(' '))]),
  );
}

async function screenshot(page: Page, name: string): Promise<void> {
  if (!SCREENSHOTS) return;
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

const heading = (page: Page) => page.getByRole('heading', { level: 1 });

describe('the page shell', () => {
  it('answers 200 at /ui and /ui/ with no token, and serves its content-hashed assets cached for good', async () => {
    for (const at of ['/ui', '/ui/', '/ui/executions/some-id?state=FAILED']) {
      const res = await call('GET', at, undefined);
      expect(res.status, at).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(res.text).toContain('<div id="app">');
      expect(res.text).toContain('"temporalNamespace"');
    }
    const shell = (await call('GET', '/ui', undefined)).text;
    const script = /src="(\/ui\/assets\/app-\w+\.js)"/.exec(shell)?.[1];
    expect(script).toBeDefined();
    const asset = await call('GET', script!, undefined);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await call('GET', '/ui/assets/app-MISSING.js', undefined)).status).toBe(404);
    // The data behind it still needs a token.
    expect((await call('GET', '/api/v1/executions', undefined)).status).toBe(401);
  });

  it('answers 503 saying how to build the console when UI_DIR holds none', async () => {
    const app = express();
    app.use('/ui', consoleHandler({ ...stack.config, UI_DIR: path.join(work, 'never-built') }));
    app.use(problemHandler(() => {}));
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/ui`);
      expect(res.status).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(((await res.json()) as Json).detail).toMatch(/not built in UI_DIR=.*never-built: run npm run build/);
    } finally {
      server.close();
    }
  });
});

describe('in a real browser', () => {
  it('signs in with a team token, refuses an unknown one, and keeps the token in the tab session only', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${api.url}/ui`);
    await page.getByLabel('API token').fill('not-a-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('That token is not recognised');

    await page.getByLabel('API token').fill(api.tokens.dataInfra);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    expect(await page.getByRole('banner').textContent()).toContain('team data-infra');
    expect(await heading(page).textContent()).toBe('Executions');
    const storage = await inPage<{ session: Json; local: Json }>(
      page,
      '({ session: { ...sessionStorage }, local: { ...localStorage } })',
    );
    expect(Object.values(storage.session)).toEqual([api.tokens.dataInfra]);
    expect(storage.local).toEqual({});
    // A reload keeps the session; signing out forgets the token.
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API token').waitFor();
    expect(await inPage(page, 'sessionStorage.length')).toBe(0);
  });

  it("shows a member only its team's executions, and an admin every team's", async () => {
    await finished(otherTeamId);
    const member = await signedIn(api.tokens.dataInfra);
    await member.getByRole('link', { name: failedId.slice(0, 8) }).waitFor();
    expect(await member.getByRole('link', { name: otherTeamId.slice(0, 8) }).count()).toBe(0);
    expect(await member.getByRole('columnheader', { name: 'Team' }).count()).toBe(0);

    const admin = await signedIn(api.tokens.admin);
    await admin.getByRole('link', { name: otherTeamId.slice(0, 8) }).waitFor();
    expect(await admin.getByRole('banner').textContent()).toContain('admin, every team');
    await admin.getByLabel('Team').fill('other-team');
    await admin.getByRole('button', { name: 'Apply filters' }).click();
    await admin.waitForURL(/team=other-team/);
    await expect.poll(() => admin.getByRole('link', { name: failedId.slice(0, 8) }).count()).toBe(0);
    await admin.getByRole('link', { name: otherTeamId.slice(0, 8) }).waitFor();
  });

  it('filters the list by trigger and backend, in the API and from the form', async () => {
    await finished(otherTeamId);
    const list = async (query: string) =>
      ((await call('GET', `/api/v1/executions?${query}`, api.tokens.admin)).json.items as Json[]) ?? [];
    const sim = await list('backend=sim');
    expect(sim.map((e) => e.execution_id)).toContain(otherTeamId);
    expect(sim.every((e) => e.backend === 'sim')).toBe(true);
    const local = await list('backend=local&trigger=api');
    expect(local.map((e) => e.execution_id)).toContain(failedId);
    expect(local.every((e) => e.backend === 'local' && e.trigger === 'api')).toBe(true);
    expect((await list('trigger=continuous')).every((e) => e.trigger === 'continuous')).toBe(true);
    expect((await call('GET', '/api/v1/executions?trigger=cron', api.tokens.admin)).status).toBe(400);

    const page = await signedIn(api.tokens.admin);
    await page.getByLabel('Backend').selectOption('sim');
    await page.waitForURL(/backend=sim/);
    // Other test files add sim executions to the same database, so the page holds the newest sim rows, not
    // necessarily this file's: what must hold is that every row shown is a sim one, once the filtered page is in.
    const onlySim = async () => {
      const cells = await page.locator('td[data-label="Backend"]').allTextContents();
      return cells.length > 0 && cells.every((c) => c === 'sim');
    };
    await expect.poll(onlySim, { timeout: 60_000, message: 'the list shows only sim executions' }).toBe(true);
    expect(await page.getByRole('link', { name: failedId.slice(0, 8) }).count()).toBe(0);
    await page.getByLabel('Trigger').selectOption('api');
    await page.waitForURL(/backend=sim.*trigger=api|trigger=api.*backend=sim/);
    await expect.poll(onlySim, { timeout: 60_000, message: 'the list shows only sim executions' }).toBe(true);
    const triggers = await page.locator('td[data-label="Trigger"]').allTextContents();
    expect(triggers.every((t) => t === 'api')).toBe(true);
  });

  it("pages with the API's cursor: older, then newer again", async () => {
    const ids: string[] = [];
    for (const n of [1, 2, 3]) {
      ids.unshift(
        await submit(PAGING_TOKEN, {
          name: `paged-${n}`,
          backend: 'sim',
          application: { type: 'python', file: 'job.py' },
          sim: { attempts: [{ runningAfterMs: 20, endAfterMs: 100 }] },
        }),
      );
    }
    const newest = ids.map((id) => id.slice(0, 8));
    const page = await signedIn(PAGING_TOKEN);
    await page.goto(`${api.url}/ui/executions?limit=2`);
    const shown = async () =>
      (await page.locator('td[data-label="Execution"]').allTextContents()).map((t) => t.trim()).join(',');
    await expect.poll(shown).toBe(newest.slice(0, 2).join(','));
    expect(await page.getByRole('button', { name: '← Newer' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'Older →' }).click();
    await expect.poll(shown).toBe(newest[2]);
    expect(await page.getByRole('navigation', { name: 'Pages' }).textContent()).toContain('Page 2');
    expect(await page.getByRole('button', { name: 'Older →' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: '← Newer' }).click();
    await expect.poll(shown).toBe(newest.slice(0, 2).join(','));
  });

  it('filters to FAILED, opens a failed run, and its log tail shows the Python exception', async () => {
    const failed = await finished(failedId);
    expect(failed).toMatchObject({ status: 'FAILED', error: { class: 'USER_ERROR' } });
    const page = await signedIn(api.tokens.dataInfra);
    await page.getByLabel('State').selectOption('FAILED');
    await page.waitForURL(/state=FAILED/);
    const link = page.getByRole('link', { name: failedId.slice(0, 8) });
    await link.waitFor();
    const states = await page.locator('td[data-label="State"]').allTextContents();
    expect(states.length).toBeGreaterThan(0);
    expect(states.every((s) => s.includes('FAILED'))).toBe(true);

    await link.click();
    await page.waitForURL(new RegExp(`/ui/executions/${failedId}$`));
    await expect.poll(() => heading(page).textContent()).toContain('data-infra/console-fail');
    expect(await heading(page).textContent()).toContain('FAILED');
    const log = page.getByRole('log', { name: 'Driver log' });
    await expect
      .poll(() => log.textContent(), { timeout: 30_000 })
      .toContain('RuntimeError: console test: the input table is missing');
    expect(await log.textContent()).toContain('Traceback');
    // Timeline, attempts with their failure class, and the METRICS_SUMMARY figures.
    const timeline = await page.locator('.timeline .event-type').allTextContents();
    expect(timeline).toEqual(expect.arrayContaining(['SUBMIT', 'TERMINAL', 'METRICS_SUMMARY']));
    expect(await page.locator('td[data-label="Outcome"]').textContent()).toContain('FAILED: USER_ERROR');
    expect(await page.locator('td[data-label="Resources"]').textContent()).toContain('driver 1 core');
    await page.locator('.metrics').getByText('Duration').waitFor();
    const temporal = await page.getByRole('link', { name: 'Temporal workflow' }).getAttribute('href');
    expect(temporal).toMatch(new RegExp(`/namespaces/default/workflows/exec-${failedId}$`));
    // Finished: there is nothing to cancel.
    expect(await page.getByRole('button', { name: 'Cancel execution' }).count()).toBe(0);
    await screenshot(page, 'execution');
  });

  it('cancels a running SparkPi from its page after a confirmation, and then shows CANCELLED', async () => {
    const id = await submit(api.tokens.dataInfra, {
      name: 'console-pi',
      backend: 'local',
      application: { type: 'python', file: path.resolve('examples/pi.py') },
      args: ['5000'],
    });
    const page = await signedIn(api.tokens.dataInfra);
    await page.goto(`${api.url}/ui/executions/${id}`);
    await expect.poll(() => heading(page).textContent(), { timeout: 90_000 }).toContain('RUNNING');
    await expect
      .poll(() => page.getByRole('log', { name: 'Driver log' }).textContent(), { timeout: 60_000 })
      .toMatch(/\S/);

    // Backing out of the confirmation cancels nothing.
    await page.getByRole('button', { name: 'Cancel execution' }).click();
    const dialog = page.getByRole('dialog', { name: 'Cancel this execution?' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Keep it running' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await call('GET', `/api/v1/executions/${id}`, api.tokens.dataInfra)).json.status).toBe('RUNNING');

    await page.getByRole('button', { name: 'Cancel execution' }).click();
    await dialog.getByRole('button', { name: 'Yes, cancel it' }).click();
    await expect.poll(() => heading(page).textContent(), { timeout: 60_000 }).toContain('CANCELLED');
    expect(await page.getByRole('button', { name: 'Cancel execution' }).count()).toBe(0);
    expect(await page.locator('.timeline .event-type').allTextContents()).toContain('CANCEL_REQUESTED');
    expect((await call('GET', `/api/v1/executions/${id}`, api.tokens.dataInfra)).json.status).toBe('CANCELLED');
  });

  it('pauses and resumes a schedule, and runs it now, from the Jobs view', async () => {
    const scheduleId = `sched-data-infra.${SCHEDULED}`;
    const paused = async () =>
      (await call('GET', `/api/v1/schedules/${scheduleId}`, api.tokens.dataInfra)).json.paused as boolean;
    expect(await paused()).toBe(false);
    const page = await signedIn(api.tokens.dataInfra);
    await page.getByRole('navigation', { name: 'Views' }).getByRole('link', { name: 'Jobs' }).click();
    await page.waitForURL(/\/ui\/jobs$/);
    const row = page.getByRole('row').filter({ hasText: `data-infra/${SCHEDULED}` });
    const state = () => row.locator('td[data-label="State"]').textContent();
    await expect.poll(state).toContain('Active');
    expect(await row.textContent()).toContain('0 0 1 1 * (Europe/Paris)');

    await row.getByRole('button', { name: `Pause data-infra/${SCHEDULED}` }).click();
    await expect.poll(state).toContain('Paused');
    expect(await paused()).toBe(true);
    await row.getByRole('button', { name: `Resume data-infra/${SCHEDULED}` }).click();
    await expect.poll(state).toContain('Active');
    expect(await paused()).toBe(false);

    // Run now: the schedule starts an execution, which becomes the job's last one.
    await row.getByRole('button', { name: `Run now data-infra/${SCHEDULED}` }).click();
    await expect
      .poll(() => row.locator('td[data-label="Last execution"]').textContent(), { timeout: 30_000 })
      .toMatch(/SUCCEEDED/);
    await screenshot(page, 'jobs');
  });

  it('stops a streaming job after a confirmation and resumes it, from the Jobs view', async () => {
    const page = await signedIn(api.tokens.dataInfra);
    await page.goto(`${api.url}/ui/jobs`);
    const stream = page.getByRole('row').filter({ hasText: `data-infra/${STREAMING}` });
    const state = () => stream.locator('td[data-label="State"]').textContent();
    await expect.poll(state, { timeout: 30_000 }).toContain('RUNNING');
    await stream.getByRole('button', { name: `Stop data-infra/${STREAMING}` }).click();
    await page
      .getByRole('dialog', { name: `Stop data-infra/${STREAMING}?` })
      .getByRole('button', { name: 'Yes, stop it' })
      .click();
    await expect.poll(state, { timeout: 30_000 }).toContain('STOPPED');
    const loop = async () =>
      (await call('GET', `/api/v1/jobs/data-infra.${STREAMING}`, api.tokens.dataInfra)).json.streaming as Json;
    expect((await loop()).status).toBe('STOPPED');
    await stream.getByRole('button', { name: `Resume data-infra/${STREAMING}` }).click();
    await expect.poll(state, { timeout: 30_000 }).toMatch(/STARTING|RUNNING/);
    await expect.poll(async () => (await loop()).status, { timeout: 30_000 }).toBe('RUNNING');
  });

  it('shows "no loop" for a streaming job whose loop workflow is gone, instead of loading for ever', async () => {
    // A jobs row whose loop Temporal no longer has (closed past the namespace's retention, or never deployed).
    const gone = `console-gone-${run}`;
    const { spec } = (await stack.store.getJob(`data-infra/${STREAMING}`))!;
    await stack.store.upsertJob({ jobPath: `data-infra/${gone}`, team: 'data-infra', name: gone, spec });
    const page = await signedIn(api.tokens.dataInfra);
    await page.goto(`${api.url}/ui/jobs`);
    const row = page.getByRole('row').filter({ hasText: `data-infra/${gone}` });
    await expect.poll(() => row.locator('td[data-label="State"]').textContent(), { timeout: 30_000 }).toBe('no loop');
    expect(await row.getByRole('button', { name: `Resume data-infra/${gone}` }).isDisabled()).toBe(true);
  });

  it('reads "not found" for another team\'s execution id in the address bar, which an admin can open', async () => {
    const page = await signedIn(api.tokens.dataInfra);
    await page.goto(`${api.url}/ui/executions/${otherTeamId}`);
    await expect.poll(() => heading(page).textContent()).toBe('Execution not found');
    expect(await page.textContent('main')).toContain(otherTeamId);

    const admin = await signedIn(api.tokens.admin);
    await admin.goto(`${api.url}/ui/executions/${otherTeamId}`);
    await expect.poll(() => heading(admin).textContent()).toContain('other-team/console-other');
  });

  it('lists live sessions, or says sessions are not available where the API does not serve them', async () => {
    const sessionsRoute = await call('GET', '/api/v1/sessions', api.tokens.dataInfra);
    const page = await signedIn(api.tokens.dataInfra);
    await page.goto(`${api.url}/ui/sessions`);
    if (sessionsRoute.status === 404 || sessionsRoute.status === 503) {
      // No sessions routes (404), or an API process without the sessions store (503): a sentence, not an error.
      await page.getByText('Spark Connect sessions are not available from this API.').waitFor();
      expect(await page.getByRole('alert').count()).toBe(0);
    } else {
      expect(sessionsRoute.status).toBe(200);
      await page.getByRole('button', { name: 'Start a session' }).waitFor();
    }
  });

  it('moves through a view by keyboard: the skip link, then the filters and the list', async () => {
    const page = await signedIn(api.tokens.dataInfra);
    await page.reload();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await inPage(page, 'document.activeElement.textContent')).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await page.keyboard.press('Tab');
    expect(await inPage(page, 'document.activeElement.id')).toBe('filter-state');
    await page.keyboard.press('Tab');
    expect(await inPage(page, 'document.activeElement.id')).toBe('filter-job');
  });

  it('has no serious or critical axe-core violations on any view, and no horizontal scroll at 375 px', async () => {
    const views = ['/ui/executions', `/ui/executions/${failedId}`, '/ui/jobs', '/ui/sessions', '/ui/nowhere'];
    for (const width of [1280, 375]) {
      const page = await signedIn(api.tokens.admin, width);
      for (const view of views) {
        await page.goto(`${api.url}${view}`);
        await heading(page).waitFor();
        // Wait for the view's data, not only its frame.
        await expect
          .poll(() => page.getByText('Loading…', { exact: true }).count(), {
            timeout: 90_000,
            message: `${view} still loading`,
          })
          .toBe(0);
        expect(await seriousViolations(page), `${view} at ${width} px`).toEqual({});
        const overflow = await inPage<number>(page, SIDEWAYS);
        expect(overflow, `${view} at ${width} px scrolls sideways`).toBeLessThanOrEqual(0);
        if (width === 1280 && view === '/ui/executions') await screenshot(page, 'executions');
        if (width === 375 && view === `/ui/executions/${failedId}`) await screenshot(page, 'execution-375px');
      }
    }
    // The sign-in page, signed out.
    const context = await browser.newContext({ viewport: { width: 375, height: 800 } });
    contexts.push(context);
    const page = await context.newPage();
    await page.goto(`${api.url}/ui`);
    await page.getByLabel('API token').waitFor();
    expect(await seriousViolations(page)).toEqual({});
    expect(await inPage<number>(page, SIDEWAYS)).toBeLessThanOrEqual(0);
  });
});
