/**
 * `npm run bench -- <name> [options]`: runs one benchmark, or all of them with no name. Each prints its own
 * figures; nothing here asserts timings (performance goals are measured, not tested).
 */
import { runMain } from '../bin/main.js';
import { apiBench } from './api.js';
import { lifecycleBench } from './lifecycle.js';

const BENCHES: Record<string, (argv: string[]) => Promise<void>> = {
  lifecycle: lifecycleBench,
  api: apiBench,
};

runMain('bench', async () => {
  const [name, ...rest] = process.argv.slice(2);
  const selected = name ? { [name]: BENCHES[name] } : BENCHES;
  for (const [benchName, bench] of Object.entries(selected)) {
    if (!bench) throw new Error(`unknown benchmark "${benchName}"; known: ${Object.keys(BENCHES).join(', ')}`);
    await bench(name ? rest : []);
  }
  process.exit(0);
});
