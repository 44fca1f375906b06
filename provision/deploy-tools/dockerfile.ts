/**
 * A daemon-less check of a Dockerfile: `dockerfile-check`, a small Go program (provision/deploy-tools/dockerfile-check)
 * over BuildKit's own Dockerfile frontend. It parses the file, runs the build-check rules `docker build --check`
 * runs, converts the target to LLB with a resolver that answers every base image offline, and prints a JSON report
 * (warnings, stages with expanded base images, COPY/ADD sources, the final image config). The binary is built from
 * Go modules into the cache on first use (30-40 s cold on 2 cores); `DOCKERFILE_CHECK` names a prebuilt one.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ProvisionError } from '../errors.js';
import { buildFromWrapper } from '../go-build.js';
import type { DeployToolsConfig } from './index.js';

const run = promisify(execFile);

/** The github.com/moby/buildkit release the wrapper module pins (keep in step with dockerfile-check/go.mod). */
export const BUILDKIT_VERSION = 'v0.34.2';
/** BuildKit v0.34 needs Go 1.26.8; an older Go fetches that toolchain from the module proxy. */
const GO_MIN = [1, 26, 8];
const WRAPPER_MODULE = path.join(import.meta.dirname, 'dockerfile-check');
const WRAPPER_FILES = ['go.mod', 'go.sum', 'main.go'];

export interface DockerfileCheckConfig extends DeployToolsConfig {
  /** A dockerfile-check binary to use instead of building one. */
  DOCKERFILE_CHECK?: string;
}

/** One build-check rule violation, as `docker build --check` reports it. */
export interface DockerfileWarning {
  rule: string;
  description: string;
  detail: string;
  url?: string;
  line: number;
}

export interface DockerfileStage {
  /** The stage name (`stage-N` for an unnamed stage, as BuildKit calls it). */
  name: string;
  /** The FROM operand with the global ARGs and --build-args expanded. */
  baseImage: string;
  /** The earlier stage the FROM refers to, if any. */
  baseStage?: string;
  platform?: string;
  line: number;
  /** The values of the ARGs the stage declares, as its instructions see them (defaults or --build-args). */
  args: Record<string, string>;
  /** Each instruction's source text (continuation lines joined). */
  commands: string[];
}

export interface DockerfileCopy {
  stage: string;
  instruction: 'COPY' | 'ADD';
  /** The source stage's name, or "" for the build context (or the image name when fromKind is image). */
  from: string;
  /** `image`: --from names no earlier stage, so BuildKit would pull it as an image. */
  fromKind: 'context' | 'stage' | 'image';
  /** Sources with the stage's ARG/ENV values expanded. */
  sources: string[];
  dest: string;
  chown: string;
  line: number;
}

export interface DockerfileFinal {
  stage: string;
  user: string;
  workdir: string;
  entrypoint: string[];
  cmd: string[];
  /** Ports as `8080/tcp`. */
  expose: string[];
  /** The image's environment: the Dockerfile's ENVs, plus PATH (base images' own ENVs are not known offline). */
  env: Record<string, string>;
  labels: Record<string, string>;
  /** `llb` when it is BuildKit's converted image config, `instructions` when the conversion failed. */
  source: 'llb' | 'instructions';
}

export interface DockerfileReport {
  buildkitVersion: string;
  /** The stage built: --target, else the last. */
  target: string;
  /** The global (before the first FROM) and automatic platform args, with the values BuildKit uses. */
  args: Record<string, string>;
  warnings: DockerfileWarning[];
  stages: DockerfileStage[];
  final: DockerfileFinal;
  copies: DockerfileCopy[];
  /** true when the target converts to an LLB definition, else the conversion's error. */
  llb: true | string;
}

/** A Dockerfile BuildKit refuses to parse or convert; the message is dockerfile-check's (with the line). */
export class DockerfileError extends Error {
  override readonly name = 'DockerfileError';
}

function cacheRoot(config: DeployToolsConfig): string {
  return config.cacheDir ?? process.env.SPARK_RUNNER_CACHE ?? path.join(os.homedir(), '.cache', 'spark-runner');
}

/** The wrapper's content hash, so an edited main.go or go.mod gets a fresh build instead of a stale binary. */
function wrapperHash(): string {
  const hash = crypto.createHash('sha256');
  for (const f of WRAPPER_FILES) hash.update(f).update(fs.readFileSync(path.join(WRAPPER_MODULE, f)));
  return hash.digest('hex').slice(0, 12);
}

/**
 * Returns the path of a dockerfile-check binary: `DOCKERFILE_CHECK`, else the cached build, building it from Go
 * modules on first use.
 */
export async function ensureDockerfileCheck(
  config: DockerfileCheckConfig,
  log: (line: string) => void,
): Promise<string> {
  const override = config.DOCKERFILE_CHECK ?? process.env.DOCKERFILE_CHECK;
  if (override) {
    const binary = path.resolve(override);
    try {
      fs.accessSync(binary, fs.constants.X_OK);
    } catch {
      throw new ProvisionError(
        `DOCKERFILE_CHECK=${override} is not an executable file: point it at a dockerfile-check binary, or unset it to build one from Go modules`,
      );
    }
    return binary;
  }
  const dir = path.join(cacheRoot(config), 'dockerfile-check', `${BUILDKIT_VERSION}-${wrapperHash()}`);
  const binary = path.join(dir, 'dockerfile-check');
  if (fs.existsSync(binary)) return binary;
  fs.mkdirSync(dir, { recursive: true });
  await buildFromWrapper(
    {
      name: 'dockerfile-check',
      version: `buildkit ${BUILDKIT_VERSION}`,
      wrapper: WRAPPER_MODULE,
      // buildFromWrapper builds in a copy of go.mod and go.sum; main.go is named by path and compiled as part of
      // that module (a file list is the main module's `command-line-arguments` package).
      pkg: path.join(WRAPPER_MODULE, 'main.go'),
      ldflags: `-s -w -X main.buildkitVersion=${BUILDKIT_VERSION}`,
      goMin: GO_MIN,
      estimate: '~30-40 s',
      overrideVariable: 'DOCKERFILE_CHECK to a dockerfile-check binary',
    },
    binary,
    log,
  );
  return binary;
}

export interface InspectOptions {
  /** The stage to build (default: the last). */
  target?: string;
  /** A dockerfile-check binary; default: ensureDockerfileCheck(config). */
  binary?: string;
  config?: DockerfileCheckConfig;
  log?: (line: string) => void;
}

/**
 * Checks `file` with BuildKit's Dockerfile frontend and returns its report. Lint warnings are in the report; a
 * Dockerfile BuildKit refuses (syntax error, unknown instruction, bad stage reference) throws DockerfileError.
 */
export async function inspectDockerfile(
  file: string,
  buildArgs: Record<string, string> = {},
  options: InspectOptions = {},
): Promise<DockerfileReport> {
  const binary = options.binary ?? (await ensureDockerfileCheck(options.config ?? {}, options.log ?? (() => {})));
  const args = ['--file', file];
  for (const [key, value] of Object.entries(buildArgs)) args.push('--build-arg', `${key}=${value}`);
  if (options.target) args.push('--target', options.target);
  let stdout: string;
  try {
    ({ stdout } = await run(binary, args, { timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }));
  } catch (err) {
    const e = err as { code?: unknown; stderr?: string };
    if (typeof e.code === 'number' && e.stderr) {
      throw new DockerfileError(e.stderr.trim().replace(/^dockerfile-check: /, ''));
    }
    throw err;
  }
  return JSON.parse(stdout) as DockerfileReport;
}
