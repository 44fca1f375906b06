/** The README is part of the product: its quickstart and configuration table must stay true. */
import fs from 'node:fs';
import { expect, it } from 'vitest';
import { ConfigSchema } from '../../config/index.js';

const readme = fs.readFileSync('README.md', 'utf8');

it('starts with exactly the two quickstart commands', () => {
  const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
  expect(
    firstBlock
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('#')[0]!.trim()),
  ).toEqual(['npm install && npm run dev', 'npm install && npm test']);
});

it('documents every configuration variable in its configuration table', () => {
  const documented = new Set([...readme.matchAll(/^\| `([A-Z0-9_]+)`/gm)].map((m) => m[1]));
  expect(Object.keys(ConfigSchema.shape).filter((key) => !documented.has(key))).toEqual([]);
});
