/**
 * Bundles the web console (ui/src/, Preact + htm + signals) with esbuild into a directory the API serves at /ui
 * (UI_DIR): `index.html` (the shell, from ui/index.html) and `assets/` with content-hashed names, so a browser
 * may cache an asset for good and a rebuilt console is never mixed with an old one. Tooling: `npm run build`
 * (bin/build.ts), `npm run dev` (bin/dev.ts) and the console's browser test call it; no product process does.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const UI = import.meta.dirname;

export interface ConsoleBundle {
  dir: string;
  /** The asset files written, relative to `dir` (the script, the stylesheet, their source maps and licences). */
  assets: string[];
  /** Size of the script and the stylesheet, as a browser downloads them (uncompressed). */
  bytes: number;
}

/** Writes the console into `outDir`, replacing whatever was there. */
export async function bundleConsole(outDir: string): Promise<ConsoleBundle> {
  const dir = path.resolve(outDir);
  // Built beside the target and swapped in, so a running API never serves a half-written console.
  const work = `${dir}.build-${process.pid}`;
  fs.rmSync(work, { recursive: true, force: true });
  const result = await build({
    entryPoints: { app: path.join(UI, 'src', 'main.ts') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome120', 'firefox120', 'safari17'],
    minify: true,
    sourcemap: 'linked',
    legalComments: 'linked',
    outdir: path.join(work, 'assets'),
    entryNames: '[name]-[hash]',
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = Object.keys(result.metafile.outputs).map((file) => path.relative(work, path.resolve(file)));
  const script = outputs.find((f) => f.endsWith('.js'));
  const style = outputs.find((f) => f.endsWith('.css'));
  if (!script || !style) throw new Error(`esbuild wrote no script or stylesheet: ${outputs.join(', ')}`);
  const shell = fs
    .readFileSync(path.join(UI, 'index.html'), 'utf8')
    .replace('%APP_JS%', `/ui/${script}`)
    .replace('%APP_CSS%', `/ui/${style}`);
  fs.writeFileSync(path.join(work, 'index.html'), shell);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(dir), { recursive: true });
  fs.renameSync(work, dir);
  const bytes = [script, style].reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
  return { dir, assets: outputs, bytes };
}
