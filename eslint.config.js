// ESLint flat config. The rules mirror STYLE.md §13: no floating promises, type-only imports, no import cycles,
// and the workflow sandbox boundary (workflows/ may import only @temporalio/workflow, types and pure modules).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'ui/dist/**', '.data/**', 'migrations/**', 'bin/spark-runner.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                'fs',
                'path',
                'child_process',
                'pg',
                'drizzle-orm*',
                'express',
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
              ],
              message:
                'Workflow code runs in the Temporal sandbox: import only @temporalio/workflow, types and pure modules.',
            },
            {
              group: ['../activities/*', '../store/*', '../gateway/*', '../api/*', '../config/*'],
              allowTypeImports: true,
              message: 'Workflows may only import types from Node-side modules.',
            },
          ],
        },
      ],
    },
  },
  {
    // STYLE.md §15: a backend drives the placement it is given and never calls back into the gateway's decision.
    files: ['gateway/backends/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/routing.js', '**/health.js', '**/placement.js', '**/gateway/index.js', '**/compose.js'],
              message: 'Backends only drive what the gateway placed; they never import routing, health or placement.',
            },
          ],
        },
      ],
    },
  },
  {
    // A Node process talks to workflows through their message definitions, never by importing a workflow.
    files: ['api/**/*.ts', 'service/**/*.ts', 'cli/**/*.ts', 'store/**/*.ts', 'activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/*', '!**/workflows/*definitions.js'],
              message: 'Import the workflow messages from workflows/*definitions.js, not a workflow module.',
            },
          ],
        },
      ],
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
