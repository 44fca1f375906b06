/**
 * The Dockerfile is checked without a Docker daemon, by BuildKit's own Dockerfile frontend (dockerfile-check, built
 * from Go modules by provision/deploy-tools/dockerfile.ts): for WITH_SPARK=false and WITH_SPARK=true it passes every
 * `docker build --check` rule and converts to LLB; every stage builds FROM node:${NODE_VERSION}-bookworm-slim; the image runs
 * `node bin/api.js` as the unprivileged `node` user; every COPY from the build context names a path that exists and
 * that .dockerignore does not exclude, and every COPY --from names an earlier stage; every RUN is valid sh; the
 * runtime stage installs the pyspark version provision/spark.ts pins only when WITH_SPARK=true, and
 * LOCAL_BACKEND_ENABLED follows WITH_SPARK. Broken Dockerfiles are caught, so the check can fail.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DockerfileError,
  ensureDockerfileCheck,
  inspectDockerfile,
  type DockerfileReport,
} from '../../provision/deploy-tools/dockerfile.js';
import { PYSPARK_VERSION } from '../../provision/spark.js';

const run = promisify(execFile);
const ROOT = path.resolve('.');
const DOCKERFILE = path.join(ROOT, 'Dockerfile');

let binary: string;
let tmp: string;
const log = (line: string) => console.log(`[dockerfile-check] ${line}`);

beforeAll(async () => {
  const started = Date.now();
  binary = await ensureDockerfileCheck({}, log);
  log(`dockerfile-check ready in ${Date.now() - started} ms (${binary})`);
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerfile-test-'));
});

afterAll(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

const inspect = (file: string, buildArgs: Record<string, string> = {}, target?: string) =>
  inspectDockerfile(file, buildArgs, { binary, ...(target ? { target } : {}) });

/** A Dockerfile written to the temp dir; its build context is still the repository. */
function dockerfile(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

/**
 * .dockerignore as BuildKit reads it (github.com/moby/patternmatcher): one pattern a line, `#` comments, `!`
 * re-includes, patterns cleaned and anchored at the context root; `*` and `?` stay within a path segment, `**`
 * spans segments; a path is excluded when it or one of its parent directories matches the last matching pattern.
 */
function dockerignore(contextDir: string): (rel: string) => boolean {
  const file = path.join(contextDir, '.dockerignore');
  const lines = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n') : [];
  const patterns = lines
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negated = l.startsWith('!');
      const cleaned = path.posix.normalize((negated ? l.slice(1) : l).trim()).replace(/^\/+|\/+$/g, '');
      return { negated, regex: globRegex(cleaned) };
    });
  return (rel) => {
    const parts = path.posix.normalize(rel).split('/');
    let excluded = false;
    for (const p of patterns) {
      const hit = parts.some((_, i) => p.regex.test(parts.slice(0, i + 1).join('/')));
      if (hit) excluded = !p.negated;
    }
    return excluded;
  };
}

function globRegex(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*' && pattern[i + 1] === '*') {
      re += pattern[i + 2] === '/' ? '(?:.*/)?' : '.*';
      i += pattern[i + 2] === '/' ? 2 : 1;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = pattern.indexOf(']', i);
      if (end === -1) re += '\\[';
      else {
        re += `[${pattern.slice(i + 1, end).replace(/^!/, '^')}]`;
        i = end;
      }
    } else if (c === '\\' && i + 1 < pattern.length) re += `\\${pattern[++i]!}`;
    else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * What is wrong with a report's COPY/ADD instructions and stages, as messages (empty: nothing). A context source
 * must exist in `contextDir` and not be excluded by its .dockerignore; --from must name an earlier stage.
 */
function copyProblems(report: DockerfileReport, contextDir = ROOT): string[] {
  const ignored = dockerignore(contextDir);
  const order = report.stages.map((s) => s.name);
  const problems: string[] = [];
  for (const c of report.copies) {
    const where = `line ${c.line} (${c.instruction} in stage ${c.stage})`;
    if (c.fromKind === 'context') {
      for (const src of c.sources) {
        if (/^https?:\/\/|^git@/.test(src)) continue; // ADD from a URL: not the context
        if (/[*?[]/.test(src)) {
          problems.push(`${where}: wildcard source ${src} is not checked by this test`);
          continue;
        }
        const rel = path.posix.normalize(src).replace(/^\/+|\/+$/g, '') || '.';
        if (!fs.existsSync(path.join(contextDir, rel))) problems.push(`${where}: ${src} does not exist in the context`);
        else if (rel !== '.' && ignored(rel)) problems.push(`${where}: ${src} is excluded by .dockerignore`);
      }
    } else if (c.fromKind !== 'stage') {
      problems.push(`${where}: --from=${c.from} names no stage (BuildKit would pull it as an image)`);
    } else if (order.indexOf(c.from) >= order.indexOf(c.stage)) {
      problems.push(`${where}: --from=${c.from} is not an earlier stage`);
    }
  }
  return problems;
}

const runtimeStage = (report: DockerfileReport) => report.stages.find((s) => s.name === report.target)!;

const VARIANTS: { variant: string; buildArgs: Record<string, string>; spark: boolean }[] = [
  { variant: 'WITH_SPARK=false', buildArgs: { WITH_SPARK: 'false' }, spark: false },
  { variant: 'WITH_SPARK=true', buildArgs: { WITH_SPARK: 'true' }, spark: true },
  { variant: 'no build args (the default)', buildArgs: {}, spark: false },
];

describe.each(VARIANTS)('Dockerfile with $variant', ({ buildArgs, spark }) => {
  let report: DockerfileReport;

  beforeAll(async () => {
    report = await inspect(DOCKERFILE, buildArgs);
  });

  it('passes every build check and converts to LLB', () => {
    expect(report.warnings).toEqual([]);
    expect(report.llb).toBe(true);
    expect(report.final.source).toBe('llb');
  });

  it('builds every stage FROM node:${NODE_VERSION}-bookworm-slim, Node 20', () => {
    expect(report.args.NODE_VERSION).toBe('20');
    expect(report.stages.length).toBeGreaterThan(0);
    for (const stage of report.stages) {
      expect(stage.baseImage, `stage ${stage.name}`).toBe('node:20-bookworm-slim');
    }
  });

  it('runs `node bin/api.js` as the unprivileged node user by default', () => {
    const f = report.final;
    expect(report.target).toBe(report.stages.at(-1)!.name);
    expect(f.user).toBe('node');
    expect(f.entrypoint).toEqual(['node']);
    expect(f.cmd).toEqual(['bin/api.js']);
    expect(f.workdir).toBe('/app');
    // bin/api.js is compiled from bin/api.ts by `npm run build` (bin/build.ts mirrors the source tree in dist/).
    expect(fs.existsSync(path.join(ROOT, 'bin/api.ts'))).toBe(true);
    expect(f.expose).toEqual(expect.arrayContaining([`${f.env.API_PORT}/tcp`]));
  });

  it('copies only existing, not-ignored context paths and earlier stages', () => {
    expect(copyProblems(report)).toEqual([]);
    expect(report.copies.filter((c) => c.fromKind === 'stage').length).toBeGreaterThan(0);
    // `COPY . .` in the build stage must carry what `npm run build` reads.
    const ignored = dockerignore(ROOT);
    if (report.copies.some((c) => c.fromKind === 'context' && c.sources.includes('.'))) {
      for (const f of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'bin/build.ts']) {
        expect(ignored(f), f).toBe(false);
      }
    }
  });

  it('has a RUN for every script that sh parses', async () => {
    const runs = report.stages.flatMap((s) => s.commands.filter((c) => /^RUN\s/i.test(c)));
    expect(runs.length).toBeGreaterThan(0);
    for (const r of runs) {
      const script = r.replace(/^RUN\s+/i, '');
      if (script.startsWith('[')) continue; // exec form
      await run('sh', ['-n', '-c', script]);
    }
  });

  it(`installs the pinned pyspark ${spark ? 'and enables' : 'only with WITH_SPARK=true, and disables'} the local backend`, () => {
    const stage = runtimeStage(report);
    expect(stage.args.WITH_SPARK).toBe(String(spark));
    // The pyspark version provision/spark.ts installs for local runs.
    expect(stage.args.PYSPARK_VERSION).toBe(PYSPARK_VERSION);
    const install = stage.commands.filter((c) => /pip3? install .*pyspark==\$\{PYSPARK_VERSION\}/.test(c));
    expect(install).toHaveLength(1);
    // The RUN is in both variants; the shell only installs when WITH_SPARK is exactly "true".
    expect(install[0]).toMatch(/^RUN case "\$WITH_SPARK" in/);
    expect(report.final.env.LOCAL_BACKEND_ENABLED).toBe(String(spark));
    expect(report.final.env.SPARK_HOME).toBe('/opt/spark');
  });
});

describe('Dockerfile build args', () => {
  it('refuses a WITH_SPARK other than true or false instead of building an image without Spark', async () => {
    const report = await inspect(DOCKERFILE, { WITH_SPARK: 'yes' });
    const script = runtimeStage(report)
      .commands.find((c) => /pyspark==/.test(c))!
      .replace(/^RUN\s+/i, '');
    // Runs the RUN's shell script as BuildKit would, for the values that do not install anything.
    const sh = (value: string) =>
      run('sh', ['-c', script], { env: { ...process.env, WITH_SPARK: value } }).then(
        () => 'ok',
        (err: { stderr?: string }) => err.stderr ?? 'failed',
      );
    expect(await sh('false')).toBe('ok');
    expect(await sh('yes')).toMatch(/WITH_SPARK must be true or false, not 'yes'/);
    expect(await sh('1')).toMatch(/WITH_SPARK must be true or false/);
  });

  it('expands NODE_VERSION into every stage', async () => {
    const report = await inspect(DOCKERFILE, { NODE_VERSION: '22' });
    expect(report.stages.map((s) => s.baseImage)).toEqual(report.stages.map(() => 'node:22-bookworm-slim'));
  });
});

describe('dockerfile-check on broken Dockerfiles', () => {
  it('refuses an unknown instruction, with its line', async () => {
    const file = dockerfile('unknown.Dockerfile', 'FROM node:20-slim\nRUN true\nCOPPY a b\n');
    await expect(inspect(file)).rejects.toThrow(DockerfileError);
    await expect(inspect(file)).rejects.toThrow(/line 3.*unknown instruction: COPPY/);
  });

  it('refuses COPY --from a stage defined later', async () => {
    const file = dockerfile(
      'later.Dockerfile',
      'FROM node:20-slim AS runtime\nCOPY --from=build /src/dist ./\nFROM node:20-slim AS build\n',
    );
    await expect(inspect(file, {}, 'runtime')).rejects.toThrow(/needs to be defined before current stage/);
  });

  it('flags COPY --from a stage that does not exist', async () => {
    const file = dockerfile(
      'nonexistent.Dockerfile',
      'FROM node:20-slim AS build\nRUN true\nFROM node:20-slim\nCOPY --from=nonexistent /src/dist ./\n',
    );
    const report = await inspect(file);
    expect(report.copies[0]).toMatchObject({ from: 'nonexistent', fromKind: 'image' });
    expect(copyProblems(report)).toEqual([expect.stringMatching(/--from=nonexistent names no stage/)]);
  });

  it('flags context sources that are missing or excluded by .dockerignore', async () => {
    const file = dockerfile(
      'context.Dockerfile',
      'FROM node:20-slim\nCOPY no-such-dir ./\nCOPY node_modules/.bin ./bin\nCOPY .git/HEAD ./\n',
    );
    const problems = copyProblems(await inspect(file));
    expect(problems).toEqual([
      expect.stringMatching(/no-such-dir does not exist/),
      expect.stringMatching(/node_modules\/\.bin is excluded by \.dockerignore/),
      expect.stringMatching(/\.git\/HEAD is excluded by \.dockerignore/),
    ]);
  });

  it('reports build-check warnings `docker build --check` would fail on', async () => {
    const file = dockerfile(
      'lint.Dockerfile',
      'ARG NODE_VERSION=20\nFROM node:${NODE_VERSION}-slim as Build\nENV A=$UNDEFINED_VAR\nuser node\nCMD node bin/api.js\n',
    );
    const report = await inspect(file);
    expect(report.warnings.map((w) => w.rule).sort()).toEqual([
      'ConsistentInstructionCasing',
      'FromAsCasing',
      'JSONArgsRecommended',
      'StageNameCasing',
      'UndefinedVar',
    ]);
    expect(report.warnings.find((w) => w.rule === 'UndefinedVar')).toMatchObject({ line: 3 });
    await expect(
      run(binary, ['--file', file, '--strict'], { encoding: 'utf8' }).then(
        () => 'exit 0',
        (err: { code?: number; stderr?: string }) => `exit ${err.code}: ${err.stderr?.trim()}`,
      ),
    ).resolves.toMatch(/^exit 1: .*5 lint warning/);
  });
});
