/**
 * `npm run coreetl:schema`: writes coreetl/job-spec.schema.json, the JSON Schema the CoreETL runtime validates job
 * specs against, from the zod schema the API validates them with (schema/core-etl.ts). A unit test fails when the
 * committed file is not what this writes.
 */
import fs from 'node:fs';
import path from 'node:path';
import { format } from 'prettier';
import { CORE_ETL_SCHEMA_FILE } from '../coreetl/index.js';
import { coreEtlJsonSchema } from '../schema/core-etl.js';
import { runMain } from './main.js';

runMain('coreetl:schema', async () => {
  // Formatted as `npm run format` would, so regenerating never leaves a formatting diff behind.
  const text = await format(JSON.stringify(coreEtlJsonSchema()), { parser: 'json', filepath: CORE_ETL_SCHEMA_FILE });
  fs.writeFileSync(CORE_ETL_SCHEMA_FILE, text);
  console.log(`wrote ${path.relative(process.cwd(), CORE_ETL_SCHEMA_FILE)}`);
});
