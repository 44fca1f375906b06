/**
 * Builds a Go binary from a committed wrapper module (a go.mod + go.sum in provision/) into the cache: the
 * route for tools whose own go.mod has replace directives that `go install pkg@version` refuses (the Temporal
 * CLI, kube-apiserver, etcd). One build at a time per binary across processes; the result is renamed into
 * place atomically, so a half-built binary is never seen.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

export interface GoBuild {
  /** Human name, e.g. "Temporal CLI". */
  name: string;
  version: string;
  /** Directory holding the wrapper's go.mod and go.sum. */
  wrapper: string;
  /** Main package to build. */
  pkg: string;
  ldflags: string;
  /** Minimum Go version of the wrapper's go line; older Go fetches that toolchain from the module proxy. */
  goMin: number[];
  /** Rough cold build time shown to the user. */
  estimate: string;
  /** Variable that lets the user skip the build, named in error messages. */
  overrideVariable: string;
}

async function goVersion(): Promise<number[] | undefined> {
  try {
    const { stdout } = await run('go', ['env', 'GOVERSION'], { timeout: 30_000 });
    return stdout.trim().replace(/^go/, '').split('.').map(Number);
  } catch {
    return undefined;
  }
}

/** Compares dotted versions given as number arrays. */
export function atLeast(version: number[], min: number[]): boolean {
  for (let i = 0; i < min.length; i++) {
    const v = version[i] ?? 0;
    if (v !== min[i]) return v > min[i]!;
  }
  return true;
}

/** Builds `build` into `binary` unless it is already there. */
export async function buildFromWrapper(build: GoBuild, binary: string, log: (line: string) => void): Promise<void> {
  await withLock(
    `${binary}.lock`,
    () => log(`another process is building ${build.name}; waiting for it...`),
    async () => {
      if (!fs.existsSync(binary)) await goBuild(build, binary, log);
    },
  );
}

/** The environment every go command on a wrapper runs with; fails with a one-line ProvisionError without Go. */
async function goEnv(build: Pick<GoBuild, 'name' | 'goMin' | 'overrideVariable'>): Promise<NodeJS.ProcessEnv> {
  const go = await goVersion();
  if (!go) {
    throw new ProvisionError(
      `${build.name} is not cached and Go is not installed: install Go >= ${build.goMin.join('.')} (https://go.dev/dl/), or set ${build.overrideVariable}`,
    );
  }
  return {
    ...process.env,
    CGO_ENABLED: '0',
    // -mod=readonly: the committed go.sum must already hold every module of the build list.
    GOFLAGS: '-mod=readonly -modcacherw -buildvcs=false',
    GOTOOLCHAIN: atLeast(go, build.goMin) ? 'local' : 'auto',
  };
}

/** A scratch copy of the wrapper's go.mod and go.sum, so go commands never write into the source tree. */
function wrapperCopy(wrapper: string, work: string): void {
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  for (const f of ['go.mod', 'go.sum']) fs.copyFileSync(path.join(wrapper, f), path.join(work, f));
}

/**
 * Where `module` (at the version the wrapper pins, checked against its go.sum) lies in the Go module cache,
 * downloading it if needed: for files a build needs beside the binary, such as SQL schemas. `scratch` is a
 * directory this call may create and removes again.
 */
export async function wrapperModuleDir(build: GoBuild, module: string, scratch: string): Promise<string> {
  const env = await goEnv(build);
  wrapperCopy(build.wrapper, scratch);
  try {
    const { stdout } = await run('go', ['mod', 'download', '-json', module], { cwd: scratch, env, timeout: 600_000 });
    const dir = (JSON.parse(stdout) as { Dir?: string }).Dir;
    if (!dir) throw new Error(`go mod download printed no Dir for ${module}`);
    return dir;
  } catch (err) {
    throw new ProvisionError(
      `downloading ${module} for ${build.name} ${build.version} failed (${failureDetail(err, 3)}): check access to the Go module proxy, or set ${build.overrideVariable}`,
    );
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

async function goBuild(build: GoBuild, binary: string, log: (line: string) => void): Promise<void> {
  const env = await goEnv(build);
  const work = `${binary}.build-${process.pid}`;
  wrapperCopy(build.wrapper, work);
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  log(`building ${build.name} ${build.version} from Go modules (first run only; ${build.estimate} on 2 cores)...`);
  const ticker = setInterval(() => log(`  still building ${build.name} (${elapsed()} s)`), 30_000);
  const tmp = `${binary}.tmp-${process.pid}`;
  try {
    await run('go', ['build', '-trimpath', '-ldflags', build.ldflags, '-o', tmp, build.pkg], {
      cwd: work,
      env,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    const detail = failureDetail(err, 3);
    throw new ProvisionError(
      `building ${build.name} ${build.version} from Go modules failed (${detail}): check access to the Go module proxy, or set ${build.overrideVariable}`,
    );
  } finally {
    clearInterval(ticker);
    fs.rmSync(work, { recursive: true, force: true });
  }
  fs.renameSync(tmp, binary);
  log(`built ${build.name} in ${elapsed()} s -> ${binary}`);
}
