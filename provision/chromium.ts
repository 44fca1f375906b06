/**
 * A Chromium for the console's browser tests (test/integration/console.test.ts), driven headless by
 * playwright-core. It exists only for tests; no product process needs a browser, and nothing downloads a browser
 * build at run time (`npx playwright install` cannot reach its download host here anyway).
 *
 * Binary: CHROMIUM when given, else `chromium` (Debian's package) or `chromium-browser` on PATH, else Debian's
 * `chromium` installed with apt-get when running as root. Not root and none found: one line saying how.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);
const NAMES = ['chromium', 'chromium-browser'];
const HOW = "install Debian's chromium as root (apt-get install chromium), or set CHROMIUM to a Chromium binary";

export interface ChromiumOptions {
  /** Cache root (SPARK_RUNNER_CACHE); holds only the install lock. */
  cacheDir: string;
  /** A Chromium or Chrome binary to use instead of Debian's. */
  CHROMIUM?: string | undefined;
}

/** The version line a browser binary prints (`Chromium 156.0.8078.114 built on Debian …`), or undefined. */
async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 60_000 });
    return /\d+\.\d+\.\d+\.\d+/.test(stdout) ? stdout.trim() : undefined;
  } catch {
    return undefined;
  }
}

function onPath(): string | undefined {
  const dirs = (process.env.PATH ?? '/usr/bin:/bin').split(path.delimiter).filter(Boolean);
  for (const name of NAMES) {
    for (const dir of dirs) if (fs.existsSync(path.join(dir, name))) return path.join(dir, name);
  }
  return undefined;
}

/**
 * Returns the path of a working Chromium: CHROMIUM, else one on PATH, else Debian's package installed with
 * apt-get (as root, under a cross-process lock). Throws a one-line ProvisionError naming the fix.
 */
export async function ensureChromium(options: ChromiumOptions, log: (line: string) => void): Promise<string> {
  if (options.CHROMIUM) {
    const binary = path.resolve(options.CHROMIUM);
    if (!(await versionOf(binary))) {
      throw new ProvisionError(`CHROMIUM=${options.CHROMIUM} does not run (\`--version\` failed): fix it, or unset it`);
    }
    return binary;
  }
  const found = onPath();
  if (found && (await versionOf(found))) return found;
  if (process.getuid?.() !== 0 || !fs.existsSync('/usr/bin/apt-get')) {
    throw new ProvisionError(`no Chromium for the console's browser tests: ${HOW}`);
  }
  return withLock(
    path.join(options.cacheDir, 'chromium', '.lock'),
    () => log('another process is installing chromium; waiting for it...'),
    async () => {
      const again = onPath();
      if (again && (await versionOf(again))) return again;
      return installChromium(log);
    },
  );
}

async function installChromium(log: (line: string) => void): Promise<string> {
  const started = Date.now();
  log("installing Debian's chromium with apt-get (first run only; about 1 min)...");
  const apt = {
    timeout: 900_000,
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  };
  try {
    await run('apt-get', ['update', '-qq'], apt);
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], apt);
  } catch (err) {
    throw new ProvisionError(`apt-get install chromium failed (${failureDetail(err, 2)}): ${HOW}`);
  }
  const binary = onPath();
  const version = binary && (await versionOf(binary));
  if (!binary || !version) throw new ProvisionError(`chromium was installed but does not run: ${HOW}`);
  log(`installed ${version} in ${Math.round((Date.now() - started) / 1000)} s`);
  return binary;
}
