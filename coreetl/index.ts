/**
 * Where the CoreETL runtime Spark Runner ships lives: `runtime.py` (the PySpark program) and the JSON Schema it
 * validates job specs against, generated from schema/core-etl.ts by `npm run coreetl:schema`. `npm run build`
 * copies both next to the compiled form of this module, so the paths hold from source and from dist/ alike.
 */
import path from 'node:path';

/** The PySpark program that runs a CoreETL job spec. */
export const CORE_ETL_RUNTIME = path.join(import.meta.dirname, 'runtime.py');

/** The generated JSON Schema, next to the runtime, which reads it from there. */
export const CORE_ETL_SCHEMA_FILE = path.join(import.meta.dirname, 'job-spec.schema.json');
