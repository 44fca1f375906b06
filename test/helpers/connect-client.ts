/**
 * The real thin Spark Connect client (pyspark-client, installed by the global setup: CONNECT_CLIENT_PYTHON),
 * driven from tests by a small Python script per case that prints one JSON line: `emit(**fields)`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const PRELUDE = `
import json, os, sys, threading, time
from pyspark.sql import SparkSession

def emit(**fields):
    print(json.dumps(fields), flush=True)

def error_of(e):
    cause = f" | caused by: {e.__cause__}" if e.__cause__ else ""
    return {"type": type(e).__name__, "message": str(e) + cause}

def fail_fast():
    # A rejected or unreachable session must show, not be retried for minutes.
    from pyspark.sql.connect.client.retries import DefaultPolicy
    spark.client.set_retry_policies([DefaultPolicy(max_retries=2, initial_backoff=50, max_backoff=200)])

spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
`;

/** Tries `select 1` and emits `outcome`: the answer, or the error. */
export const SELECT_ONE_OR_ERROR = `
fail_fast()
try:
    emit(outcome=spark.sql("select 1 as one").collect()[0].one)
except Exception as e:
    emit(outcome=error_of(e))
`;

/** Runs PRELUDE + body against `connectUrl`; resolves with the last JSON line it printed. */
export async function runClient(
  dir: string,
  name: string,
  body: string,
  connectUrl: string,
  env: Record<string, string> = {},
  timeoutMs = 170_000,
): Promise<Record<string, unknown>> {
  const python = process.env.CONNECT_CLIENT_PYTHON;
  if (!python) throw new Error('CONNECT_CLIENT_PYTHON is not set: run the tests through vitest (global setup)');
  const script = path.join(dir, `${name}.py`);
  fs.writeFileSync(script, PRELUDE + body);
  // pyspark falls back to this variable for a token; the client must only ever have what its URL gives it.
  const { SPARK_CONNECT_AUTHENTICATE_TOKEN: _unused, ...inherited } = process.env;
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      python,
      [script, connectUrl],
      { env: { ...inherited, PYTHONUNBUFFERED: '1', ...env }, timeout: timeoutMs, maxBuffer: 16 << 20 },
      (err, out, errOut) =>
        err ? reject(new Error(`${name}.py failed: ${err.message}\n${errOut.slice(-3000)}`)) : resolve(out),
    ),
  );
  const last = stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(last) as Record<string, unknown>;
}

/** The message of the error a script caught and emitted as `outcome`; fails when it caught none. */
export function errorMessage(out: Record<string, unknown>): string {
  const outcome = out.outcome as { message?: unknown } | undefined;
  if (typeof outcome?.message !== 'string') throw new Error(`expected an error, got ${JSON.stringify(out)}`);
  return outcome.message;
}
