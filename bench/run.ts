/**
 * `npm run bench -- <name> [options]`: runs one benchmark, or all of them with no name. Each prints its own
 * figures; nothing here asserts timings (performance goals are measured, not tested).
 */
import { runMain } from '../bin/main.js';
import { apiBench } from './api.js';
import { apsBench } from './aps.js';
import { drillBench } from './drill.js';
import { kubernetesBench } from './kubernetes.js';
import { lifecycleBench } from './lifecycle.js';
import { logArchiveBench } from './log-archive.js';
import { sessionsBench } from './sessions.js';

const BENCHES: Record<string, (argv: string[]) => Promise<void>> = {
  lifecycle: lifecycleBench,
  api: apiBench,
  'log-archive': logArchiveBench,
  sessions: sessionsBench,
  kubernetes: kubernetesBench,
  aps: apsBench,
  drill: drillBench,
};

/** What a bench gets when all of them run (no name): the Kubernetes one at its first step, not at 2,000 apps. */
const ALL_ARGS: Record<string, string[]> = { kubernetes: ['--apps', '200'] };

runMain('bench', async () => {
  const [name, ...rest] = process.argv.slice(2);
  const selected = name ? { [name]: BENCHES[name] } : BENCHES;
  for (const [benchName, bench] of Object.entries(selected)) {
    if (!bench) throw new Error(`unknown benchmark "${benchName}"; known: ${Object.keys(BENCHES).join(', ')}`);
    await bench(name ? rest : (ALL_ARGS[benchName] ?? []));
  }
  process.exit(0);
});
