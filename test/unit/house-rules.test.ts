/**
 * One home per decision (issue 13), checked on the source tree so that a second home fails the build: one
 * `assertNever`, workflow ids and search attributes built only by the vocabulary module, one `kubeConfigFor`, and
 * no Node-side module importing a workflow module. Each rule is also shown to catch a breach.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const VOCABULARY = 'schema/vocabulary.ts';

/** Every product and tooling source file (tests and generated output excluded). */
function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (!['node_modules', 'dist', '.data', 'test', 'migrations', '.git'].includes(entry.name)) walk(rel);
      } else if (entry.name.endsWith('.ts')) out.push(rel);
    }
  };
  walk('.');
  return out.map((f) => path.normalize(f));
}

/** The files whose text matches `pattern`, with the number of matches, given the files' contents. */
function matches(files: Record<string, string>, pattern: RegExp): Record<string, number> {
  const hits: Record<string, number> = {};
  for (const [file, text] of Object.entries(files)) {
    const n = [...text.matchAll(new RegExp(pattern.source, 'g'))].length;
    if (n > 0) hits[file] = n;
  }
  return hits;
}

const tree = () => Object.fromEntries(sources().map((f) => [f, fs.readFileSync(path.join(ROOT, f), 'utf8')]));

const RULES = {
  'exactly one assertNever': {
    pattern: /function assertNever\(/,
    holds: (hits: Record<string, number>) => JSON.stringify(hits) === JSON.stringify({ [VOCABULARY]: 1 }),
  },
  'no exec- workflow id built outside the vocabulary module': {
    pattern: /`exec-\$\{/,
    holds: (hits: Record<string, number>) => Object.keys(hits).length === 0,
  },
  'no hand-built search attribute pair outside its helper': {
    pattern: /\{\s*key:\s*SA_[A-Z_]+,\s*value:/,
    holds: (hits: Record<string, number>) => Object.keys(hits).every((f) => f === VOCABULARY),
  },
  'one kubeConfigFor': {
    pattern: /function kubeConfigFor\(/,
    holds: (hits: Record<string, number>) => Object.values(hits).reduce((a, b) => a + b, 0) === 1,
  },
} as const;

describe('one home per decision', () => {
  for (const [name, rule] of Object.entries(RULES)) {
    it(`${name}, and the check catches a second one`, () => {
      const files = tree();
      const hits = matches(files, rule.pattern);
      expect(rule.holds(hits), JSON.stringify(hits)).toBe(true);
      // The same check on the tree plus one offending file must fail.
      const breach: Record<string, string> = {
        'service/breach.ts': {
          'exactly one assertNever': 'function assertNever(x: never): never { throw x; }',
          'no exec- workflow id built outside the vocabulary module': 'const id = `exec-${executionId}`;',
          'no hand-built search attribute pair outside its helper': 'const a = [{ key: SA_TEAM, value: team }];',
          'one kubeConfigFor': 'export function kubeConfigFor(c: unknown) { return c; }',
        }[name]!,
      };
      expect(rule.holds(matches({ ...files, ...breach }, rule.pattern))).toBe(false);
    });
  }

  it('keeps api/, service/, cli/, store/ and activities/ from importing a workflow module (lint), and the lint rule catches one', async () => {
    // The project's own lint config, on text linted as if it were a file in service/ (nothing is written into
    // the tree); only the type-aware rules are off for it, since no such file exists for the type checker.
    const eslint = new ESLint({
      cwd: ROOT,
      overrideConfig: { files: ['service/lint-probe.ts'], ...tseslint.configs.disableTypeChecked },
    });
    const [result] = await eslint.lintText(
      "import { executionWorkflow } from '../workflows/execution.js';\nexport const x = executionWorkflow;\n",
      { filePath: path.join(ROOT, 'service/lint-probe.ts') },
    );
    expect(result!.messages.map((m) => m.message).join('\n')).toMatch(/workflows\/execution\.js' import is restricted/);
    const offenders = Object.entries(tree()).filter(
      ([file, text]) =>
        /^(api|service|cli|store|activities)\//.test(file) &&
        /from '(\.\.\/)+workflows\/(?![\w-]*definitions\.js)[\w-]+\.js'/.test(text),
    );
    expect(offenders.map(([f]) => f)).toEqual([]);
  }, 60_000);
});
