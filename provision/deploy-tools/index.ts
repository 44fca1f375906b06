/**
 * Tools for checking the deployment files (Dockerfile, docker-compose.yml, helm/spark-runner): the `helm` binary,
 * built from Go modules into the cache (`go install helm.sh/helm/v3/cmd/helm@HELM_VERSION` works: Helm's go.mod has
 * no replace directives), and a Docker Compose implementation (`docker-compose`, `docker compose`, or Debian's
 * docker-compose package installed with apt-get when running as root). `HELM` and `DOCKER_COMPOSE` override both.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from '../errors.js';
import { withLock } from '../lock.js';

const run = promisify(execFile);

export const HELM_VERSION = 'v3.22.0';

export interface DeployToolsConfig {
  /** Cache root, normally SPARK_RUNNER_CACHE (~/.cache/spark-runner). */
  cacheDir?: string;
  /** A helm binary to use instead of building one. */
  HELM?: string;
  /** A Compose command to use, e.g. `docker-compose` or `docker compose`. */
  DOCKER_COMPOSE?: string;
}

function defaultCache(config: DeployToolsConfig): string {
  return config.cacheDir ?? process.env.SPARK_RUNNER_CACHE ?? path.join(os.homedir(), '.cache', 'spark-runner');
}

/** Returns the path of a working helm binary: `HELM`, else the cached build, building it on first use (~1 min). */
export async function ensureHelm(config: DeployToolsConfig, log: (line: string) => void): Promise<string> {
  const override = config.HELM ?? process.env.HELM;
  if (override) {
    if (!fs.existsSync(override)) throw new ProvisionError(`HELM=${override} does not exist: unset HELM to build helm`);
    return override;
  }
  const dir = path.join(defaultCache(config), 'helm', HELM_VERSION);
  const binary = path.join(dir, 'helm');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  await withLock(
    `${binary}.lock`,
    () => log('another process is building helm; waiting for it...'),
    async () => {
      if (fs.existsSync(binary)) return;
      const gobin = `${binary}.build-${process.pid}`;
      fs.rmSync(gobin, { recursive: true, force: true });
      const started = Date.now();
      log(`building helm ${HELM_VERSION} from Go modules (first run only; about 1 min)...`);
      try {
        await run('go', ['install', '-trimpath', '-ldflags', '-s -w', `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`], {
          env: { ...process.env, GOBIN: gobin, CGO_ENABLED: '0', GOFLAGS: '-modcacherw -buildvcs=false' },
          maxBuffer: 64 * 1024 * 1024,
        });
      } catch (err) {
        fs.rmSync(gobin, { recursive: true, force: true });
        const missingGo = (err as NodeJS.ErrnoException).code === 'ENOENT';
        throw new ProvisionError(
          missingGo
            ? 'helm is not cached and Go is not installed: install Go (https://go.dev/dl/) or set HELM to a helm v3 binary'
            : `building helm ${HELM_VERSION} from Go modules failed (${failureDetail(err, 3)}): check access to the Go module proxy, or set HELM`,
        );
      }
      fs.renameSync(path.join(gobin, 'helm'), binary);
      fs.rmSync(gobin, { recursive: true, force: true });
      log(`built helm in ${Math.round((Date.now() - started) / 1000)} s -> ${binary}`);
    },
  );
  return binary;
}

async function works(command: string[]): Promise<boolean> {
  try {
    await run(command[0]!, [...command.slice(1), 'version'], { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * Returns a Compose command (argv prefix): `DOCKER_COMPOSE` (split on spaces), else `docker-compose` or
 * `docker compose` from PATH, else installs Debian's docker-compose package with apt-get when running as root.
 */
export async function ensureCompose(config: DeployToolsConfig, log: (line: string) => void): Promise<string[]> {
  const override = config.DOCKER_COMPOSE ?? process.env.DOCKER_COMPOSE;
  if (override) {
    const command = override.trim().split(/\s+/);
    if (!(await works(command))) throw new ProvisionError(`DOCKER_COMPOSE="${override}" does not run: fix or unset it`);
    return command;
  }
  for (const command of [['docker-compose'], ['docker', 'compose']]) if (await works(command)) return command;
  const aptGet = fs.existsSync('/usr/bin/apt-get');
  if (!aptGet || process.getuid?.() !== 0) {
    throw new ProvisionError(
      'no Docker Compose found: install docker-compose (Debian: apt-get install docker-compose) or the compose plugin, or set DOCKER_COMPOSE',
    );
  }
  const started = Date.now();
  log('installing docker-compose with apt-get (first run only; about 15 s)...');
  try {
    await run('apt-get', ['update', '-qq'], { timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
    await run('apt-get', ['install', '-y', '-qq', 'docker-compose'], {
      timeout: 600_000,
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    throw new ProvisionError(
      `apt-get install docker-compose failed (${failureDetail(err, 2)}): install Docker Compose yourself or set DOCKER_COMPOSE`,
    );
  }
  if (!(await works(['docker-compose']))) {
    throw new ProvisionError('docker-compose was installed but does not run: set DOCKER_COMPOSE to a working Compose');
  }
  log(`installed docker-compose in ${Math.round((Date.now() - started) / 1000)} s`);
  return ['docker-compose'];
}
