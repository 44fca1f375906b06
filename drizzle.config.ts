import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations into migrations/; they are committed and applied at start-up.
export default defineConfig({
  dialect: 'postgresql',
  schema: './schema/index.ts',
  out: './migrations',
});
