/**
 * Where a profiled process's CPU went: reads a V8 .cpuprofile (`node --cpu-prof`), or the largest one in a
 * directory, and prints self time by area (a package, a folder of this project, the workflow sandbox, V8's own
 * buckets) and the functions with the most self time.
 *
 *   npx tsx bench/profile.ts <file.cpuprofile | directory> [--top 15]
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { printTable } from './stats.js';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const ROOT = path.resolve(import.meta.dirname, '..');

/** The area a function belongs to: `(garbage collector)`, `@temporalio/worker`, `workflows/`, `node:internal`, … */
function areaOf(frame: ProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  if (url.startsWith('node:')) return url.startsWith('node:internal') ? 'node:internal' : url;
  // The SDK evaluates the bundled workflow code in a vm context under a name of its own.
  if (!url.startsWith('file:') && !url.startsWith('/')) return `workflow sandbox (${url.split('/')[0]})`;
  const file = url.replace(/^file:\/\//, '');
  const modules = file.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const parts = file.slice(modules + '/node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  const rel = path.relative(ROOT, file);
  return rel.startsWith('..') ? file : `${rel.split(path.sep)[0]}/`;
}

function largestProfile(target: string): string {
  if (!fs.statSync(target).isDirectory()) return target;
  const files = fs
    .readdirSync(target)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(target, f));
  if (files.length === 0) throw new Error(`no .cpuprofile in ${target}`);
  return files.sort((a, b) => fs.statSync(b).size - fs.statSync(a).size)[0]!;
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '15' } },
  });
  const file = largestProfile(positionals[0] ?? '.');
  const top = Number(values.top);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    const area = areaOf(frame);
    areas.set(area, (areas.get(area) ?? 0) + us);
    // V8 names a compiled RegExp by its source, which can run to hundreds of characters.
    const fn = (frame.functionName || '(anonymous)').slice(0, 60);
    const name = `${fn} ${area}${frame.url ? `:${frame.lineNumber + 1}` : ''}`;
    functions.set(name, (functions.get(name) ?? 0) + us);
  }
  const rows = (m: Map<string, number>): [string, string][] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => [k, `${((100 * us) / total).toFixed(1)}%  ${(us / 1000).toFixed(0)} ms`]);
  console.log(`${path.basename(file)}: ${(total / 1e6).toFixed(1)} s of samples`);
  printTable('self time by area', rows(areas));
  printTable('self time by function', rows(functions));
}

main();
