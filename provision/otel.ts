/**
 * An OpenTelemetry Collector for tests to export traces, metrics and logs to (test/helpers/otel-collector.ts):
 * OTLP in, the debug exporter out, nothing else. It exists only for tests; no product process needs it.
 *
 * Binary: OTEL_COLLECTOR when given, else cached under <cache>/otel-collector/<version>/, else built there from Go
 * modules with the OpenTelemetry Collector Builder (`go install go.opentelemetry.io/collector/cmd/builder@v…`)
 * and the committed manifest otel-collector/builder-config.yaml. The builder generates a main package, resolves
 * it with `go mod tidy` and compiles it. Only core components: `otelcorecol` is not in the module proxy, and
 * contrib's fileexporter needs a module the proxy refuses. The cached build records the manifest's hash, so
 * editing the manifest rebuilds it.
 */
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { failureDetail, ProvisionError } from './errors.js';
import { atLeast } from './go-build.js';
import { withLock } from './lock.js';

const run = promisify(execFile);

/** The collector release the manifest pins (keep in step with otel-collector/builder-config.yaml). */
export const OTEL_COLLECTOR_VERSION = '0.165.0';
/** Go version the collector's modules declare; an older Go fetches that toolchain from the module proxy. */
const GO_MIN = [1, 26, 0];
const MANIFEST = path.join(import.meta.dirname, 'otel-collector', 'builder-config.yaml');
/** `dist.name` in the manifest: the builder writes the binary under that name. */
const BINARY_NAME = 'otelcol-spark-runner';
/** Components the test helper's collector config uses; an OTEL_COLLECTOR override must have them. */
const REQUIRED_COMPONENTS = { receivers: ['otlp'], processors: ['batch'], exporters: ['debug'] };
const OVERRIDE_HINT =
  'set OTEL_COLLECTOR to an otelcol binary with the otlp receiver, batch processor and debug exporter';

export interface OtelCollectorOptions {
  /** Cache root (SPARK_RUNNER_CACHE); the build lands in `<cacheDir>/otel-collector/<version>/`. */
  cacheDir: string;
  /** A collector binary to use instead of the cached build. */
  OTEL_COLLECTOR?: string | undefined;
}

/**
 * Returns the path of a collector binary: OTEL_COLLECTOR (checked to have the components tests use), else the
 * cached build, building it on first use (1.5-4.5 min on 2 cores) under a cross-process lock. Idempotent. Throws a
 * one-line ProvisionError when Go is missing or the build fails.
 */
export async function ensureOtelCollector(options: OtelCollectorOptions, log: (line: string) => void): Promise<string> {
  if (options.OTEL_COLLECTOR) {
    const binary = path.resolve(options.OTEL_COLLECTOR);
    const missing = await missingComponents(binary);
    if (missing === undefined) {
      throw new ProvisionError(
        `OTEL_COLLECTOR=${options.OTEL_COLLECTOR} is not a working collector (\`components\` failed): ${OVERRIDE_HINT}, or unset it to build one from Go modules`,
      );
    }
    if (missing.length > 0) {
      throw new ProvisionError(
        `OTEL_COLLECTOR=${options.OTEL_COLLECTOR} lacks ${missing.join(', ')}: ${OVERRIDE_HINT}, or unset it to build one from Go modules`,
      );
    }
    return binary;
  }
  const dir = path.join(options.cacheDir, 'otel-collector', OTEL_COLLECTOR_VERSION);
  const binary = path.join(dir, BINARY_NAME);
  const manifest = fs.readFileSync(MANIFEST);
  const hash = crypto.createHash('sha256').update(manifest).digest('hex');
  const marker = path.join(dir, 'manifest.sha256');
  const built = () => fs.existsSync(binary) && fs.existsSync(marker) && fs.readFileSync(marker, 'utf8') === hash;
  if (built()) return binary;
  await withLock(
    `${binary}.lock`,
    () => log('another process is building the OpenTelemetry Collector; waiting for it...'),
    async () => {
      if (built()) return;
      await buildCollector(dir, manifest, log);
      fs.writeFileSync(marker, hash);
    },
  );
  return binary;
}

/** Component names (`receivers/otlp`, ...) the binary lacks, or undefined when `components` does not run. */
async function missingComponents(binary: string): Promise<string[] | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await run(binary, ['components'], { timeout: 30_000 }));
  } catch {
    return undefined;
  }
  // The output is YAML: a top-level key per kind, then `- name: <type>` entries under it.
  const present = new Set<string>();
  let kind = '';
  for (const line of stdout.split('\n')) {
    const top = /^(\w+):/.exec(line);
    if (top) kind = top[1]!;
    const entry = /^\s*- name: (\S+)/.exec(line);
    if (entry) present.add(`${kind}/${entry[1]}`);
  }
  return Object.entries(REQUIRED_COMPONENTS)
    .flatMap(([k, names]) => names.map((n) => `${k}/${n}`))
    .filter((c) => !present.has(c));
}

async function goVersion(): Promise<number[] | undefined> {
  try {
    const { stdout } = await run('go', ['env', 'GOVERSION'], { timeout: 30_000 });
    return stdout.trim().replace(/^go/, '').split('.').map(Number);
  } catch {
    return undefined;
  }
}

async function buildCollector(dir: string, manifest: Buffer, log: (line: string) => void): Promise<void> {
  const go = await goVersion();
  if (!go) {
    throw new ProvisionError(
      `the OpenTelemetry Collector is not cached and Go is not installed: install Go >= ${GO_MIN.join('.')} (https://go.dev/dl/), or ${OVERRIDE_HINT}`,
    );
  }
  const env = {
    ...process.env,
    CGO_ENABLED: '0',
    // No -mod=readonly: the builder writes go.mod and go.sum itself (`go mod tidy` from the manifest's pins).
    GOFLAGS: '-modcacherw -buildvcs=false',
    GOTOOLCHAIN: atLeast(go, GO_MIN) ? 'local' : 'auto',
  };
  const started = Date.now();
  const elapsed = () => Math.round((Date.now() - started) / 1000);
  log(
    `building the OpenTelemetry Collector ${OTEL_COLLECTOR_VERSION} from Go modules (first run only; ~1.5-4.5 min on 2 cores)...`,
  );
  const ticker = setInterval(() => log(`  still building the OpenTelemetry Collector (${elapsed()} s)`), 30_000);
  const work = path.join(dir, `build-${process.pid}`);
  fs.rmSync(work, { recursive: true, force: true });
  fs.mkdirSync(work, { recursive: true });
  const builder = path.join(dir, 'bin', 'builder');
  try {
    await goStep('installing the collector builder', async () => {
      const pkg = `go.opentelemetry.io/collector/cmd/builder@v${OTEL_COLLECTOR_VERSION}`;
      await run('go', ['install', '-trimpath', '-ldflags', '-s -w', pkg], {
        env: { ...env, GOBIN: path.dirname(builder) },
        maxBuffer: 64 * 1024 * 1024,
      });
    });
    // The manifest's output_path is relative, so the generated sources and binary land in `work`. TMPDIR too: the
    // builder always creates a default output directory in it and never removes it.
    fs.writeFileSync(path.join(work, 'builder-config.yaml'), manifest);
    await goStep('building the collector', () =>
      run(builder, ['--config=builder-config.yaml'], {
        cwd: work,
        env: { ...env, TMPDIR: work },
        maxBuffer: 64 * 1024 * 1024,
      }),
    );
    fs.renameSync(path.join(work, 'src', BINARY_NAME), path.join(dir, BINARY_NAME));
  } finally {
    clearInterval(ticker);
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`built the OpenTelemetry Collector in ${elapsed()} s -> ${path.join(dir, BINARY_NAME)}`);
}

async function goStep(what: string, step: () => Promise<unknown>): Promise<void> {
  try {
    await step();
  } catch (err) {
    throw new ProvisionError(
      `${what} ${OTEL_COLLECTOR_VERSION} from Go modules failed (${failureDetail(err, 3)}): check access to the Go module proxy, or ${OVERRIDE_HINT}`,
    );
  }
}
