/**
 * `npm run build [-- --out-dir DIR]`: the package the container image runs, in dist/ by default. It mirrors the
 * source tree with compiled JavaScript, so the image's /app/bin/{api,worker,watcher}.js sit where the sources'
 * bin/*.ts do, plus what those need at run time:
 * - package.json (ESM `type: module`, and the CLI's version);
 * - migrations/ (applied at start by the API and worker);
 * - coreetl/runtime.py and its JSON Schema (the builtin CoreETL runtime the local backend runs);
 * - workflows/bundle.js, the workflow code bundled ahead of time, so a worker does not run webpack at start;
 * - ui/dist/, the web console the API serves at /ui (ui/bundle.ts; UI_DIR's default in the image).
 * node_modules is not included: the image installs production dependencies beside it.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { bundleConsole } from '../ui/bundle.js';
import { WORKFLOWS_PATH } from '../worker/index.js';
import { runMain } from './main.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');

function outDir(argv: string[]): string {
  const i = argv.indexOf('--out-dir');
  if (i === -1) return path.join(root, 'dist');
  const value = argv[i + 1];
  if (!value) throw new Error('--out-dir needs a directory');
  return path.resolve(value);
}

runMain('build', async () => {
  const out = outDir(process.argv.slice(2));
  const started = Date.now();
  fs.rmSync(out, { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  await run(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out], {
    cwd: root,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((err: Error & { stdout?: string }) => {
    throw new Error(`tsc failed:\n${err.stdout || err.message}`);
  });
  fs.cpSync(path.join(root, 'package.json'), path.join(out, 'package.json'));
  fs.cpSync(path.join(root, 'migrations'), path.join(out, 'migrations'), { recursive: true });
  // The builtin CoreETL runtime and its schema, next to coreetl/index.js, which points at them.
  for (const file of ['runtime.py', 'job-spec.schema.json']) {
    fs.cpSync(path.join(root, 'coreetl', file), path.join(out, 'coreetl', file));
  }
  const { code } = await bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    logger: { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error },
  });
  fs.writeFileSync(path.join(out, 'workflows', 'bundle.js'), code);
  await bundleConsole(path.join(out, 'ui', 'dist'));
  console.log(`built ${path.relative(process.cwd(), out) || out} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
