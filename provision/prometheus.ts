/**
 * A Prometheus server binary for tests that check scraped metrics (test/helpers/prometheus.ts). It exists only for
 * tests; no product process needs it.
 *
 * Binary: PROMETHEUS when given, else Debian's `prometheus` package unpacked under <cache>/prometheus/<version>/:
 * `apt-get download` fetches the .deb and `dpkg -x` unpacks it, so nothing is installed system-wide and no daemon
 * starts. The binary runs on its own (it needs only libc); the package's Depends are web UI assets the HTTP API
 * does not use. Building Prometheus from Go modules instead is very heavy on 2 cores. `apt-get update` runs only
 * when the package lists are empty; it is the one step that needs root.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

const PACKAGE = 'prometheus';
/** Marks a completely unpacked version directory. */
const DONE = '.installed';
const OVERRIDE_HINT = 'set PROMETHEUS to a prometheus 2.x binary';

export interface PrometheusOptions {
  /** Cache root (SPARK_RUNNER_CACHE); the package is unpacked in `<cacheDir>/prometheus/<version>/`. */
  cacheDir: string;
  /** A prometheus binary to use instead of Debian's package. */
  PROMETHEUS?: string | undefined;
}

/** `usr/bin/prometheus` inside an unpacked version directory. */
function binaryIn(versionDir: string): string {
  return path.join(versionDir, 'usr', 'bin', 'prometheus');
}

/** The prometheus version a binary reports (`2.42.0+ds`), or undefined when it does not run. */
async function versionOf(binary: string): Promise<string | undefined> {
  try {
    const { stdout } = await run(binary, ['--version'], { timeout: 30_000 });
    return /prometheus, version (\S+)/.exec(stdout)?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Returns the path of a prometheus binary: PROMETHEUS, else an unpacked Debian package from the cache (any
 * version already there, so later runs need neither apt nor the network), else Debian's candidate version,
 * downloaded and unpacked under a cross-process lock. Throws a one-line ProvisionError naming the fix.
 */
export async function ensurePrometheus(options: PrometheusOptions, log: (line: string) => void): Promise<string> {
  if (options.PROMETHEUS) {
    const binary = path.resolve(options.PROMETHEUS);
    if (!(await versionOf(binary))) {
      throw new ProvisionError(
        `PROMETHEUS=${options.PROMETHEUS} is not a working prometheus binary (\`prometheus --version\` failed): ${OVERRIDE_HINT}, or unset it to use Debian's package`,
      );
    }
    return binary;
  }
  const root = path.join(options.cacheDir, 'prometheus');
  const cached = cachedBinary(root);
  if (cached) return cached;
  return withLock(
    path.join(root, '.lock'),
    () => log("another process is downloading Debian's prometheus; waiting for it..."),
    async () => cachedBinary(root) ?? (await downloadPrometheus(root, log)),
  );
}

/** The binary of the newest completely unpacked version under `root`, if any. */
function cachedBinary(root: string): string | undefined {
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => !v.startsWith('.') && fs.existsSync(path.join(root, v, DONE)))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const newest = versions.at(-1);
  return newest === undefined ? undefined : binaryIn(path.join(root, newest));
}

/** Debian's candidate version of the package, or undefined when the package lists do not know it. */
async function candidateVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await run('apt-cache', ['policy', PACKAGE], { timeout: 60_000 });
    const candidate = /Candidate: (\S+)/.exec(stdout)?.[1];
    return candidate === '(none)' ? undefined : candidate;
  } catch {
    return undefined;
  }
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '/usr/bin:/bin')
    .split(path.delimiter)
    .some((dir) => dir !== '' && fs.existsSync(path.join(dir, name)));
}

async function downloadPrometheus(root: string, log: (line: string) => void): Promise<string> {
  if (!['apt-get', 'apt-cache', 'dpkg'].every(onPath)) {
    throw new ProvisionError(
      `Prometheus is not cached and apt-get/dpkg are not available (Debian's prometheus package is the default): ${OVERRIDE_HINT}`,
    );
  }
  let version = await candidateVersion();
  if (!version) {
    if (process.getuid?.() !== 0) {
      throw new ProvisionError(
        `Prometheus is not cached and the apt package lists are empty; \`apt-get update\` needs root: run it once as root, or ${OVERRIDE_HINT}`,
      );
    }
    log('apt package lists are empty; running apt-get update (once)...');
    try {
      await run('apt-get', ['update', '-qq'], { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    } catch (err) {
      throw new ProvisionError(
        `apt-get update failed (${failureDetail(err, 2)}): fix the apt sources, or ${OVERRIDE_HINT}`,
      );
    }
    version = await candidateVersion();
    if (!version) {
      throw new ProvisionError(
        `the apt sources offer no ${PACKAGE} package: add Debian's main archive, or ${OVERRIDE_HINT}`,
      );
    }
  }
  const started = Date.now();
  log(`downloading Debian's ${PACKAGE} ${version} with apt-get download (first run only; ~20 MB)...`);
  const dir = path.join(root, version);
  const work = path.join(root, `.download-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  try {
    try {
      // As root, apt's download sandbox user cannot write here; download as root instead of warning about it.
      const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
      await run('apt-get', [...sandbox, 'download', `${PACKAGE}=${version}`], {
        cwd: work,
        timeout: 600_000,
        maxBuffer: 64 * 1024 * 1024,
      });
    } catch (err) {
      throw new ProvisionError(
        `apt-get download ${PACKAGE}=${version} failed (${failureDetail(err, 2)}): check access to the Debian mirror, or ${OVERRIDE_HINT}`,
      );
    }
    const deb = fs.readdirSync(work).find((f) => f.endsWith('.deb'));
    if (!deb) throw new ProvisionError(`apt-get download ${PACKAGE}=${version} wrote no .deb: ${OVERRIDE_HINT}`);
    const unpacked = path.join(work, 'root');
    try {
      await run('dpkg', ['-x', path.join(work, deb), unpacked], { timeout: 300_000 });
    } catch (err) {
      throw new ProvisionError(`dpkg -x ${deb} failed (${failureDetail(err, 2)}): ${OVERRIDE_HINT}`);
    }
    if (!(await versionOf(binaryIn(unpacked)))) {
      throw new ProvisionError(`the prometheus binary from Debian's ${deb} does not run here: ${OVERRIDE_HINT}`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(unpacked, dir);
    fs.writeFileSync(path.join(dir, DONE), `${deb}\n`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`unpacked ${PACKAGE} ${version} in ${Math.round((Date.now() - started) / 1000)} s -> ${binaryIn(dir)}`);
  return binaryIn(dir);
}
