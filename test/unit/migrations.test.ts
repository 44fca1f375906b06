/**
 * The committed migrations must match the Drizzle schema: regenerating them into a copy of migrations/ must
 * produce nothing new (STYLE.md §9).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { expect, it } from 'vitest';

it('has committed migrations that regenerate from the schema without a diff', () => {
  // drizzle-kit resolves `out` relative to the working directory, so give it a relative path.
  const out = path.relative(process.cwd(), fs.mkdtempSync(path.join(os.tmpdir(), 'migrations-')));
  fs.cpSync('migrations', out, { recursive: true });
  const config = path.join(out, 'drizzle.config.ts');
  fs.writeFileSync(
    config,
    `export default { dialect: 'postgresql', schema: '${path.resolve('schema/index.ts')}', out: '${out}' };\n`,
  );
  const before = fs.readdirSync(out).sort();
  const result = spawnSync('npx', ['drizzle-kit', 'generate', '--config', config], { encoding: 'utf8' });
  expect(result.status).toBe(0);
  expect(fs.readdirSync(out).sort()).toEqual(before);
  expect(result.stdout + result.stderr).toMatch(/No schema changes/);
}, 120_000);
