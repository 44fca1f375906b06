"""The CoreETL runtime Spark Runner ships: a PySpark program that runs a CoreETL job spec.

Usage: runtime.py --job-spec <json> [--result-file <path>] [--validate-only]

The spec (schema/core-etl.ts) is validated first against job-spec.schema.json, next to this file, which is
generated from the same zod schema the API validates with. Then:
  1. each source is read and registered as a temporary view under its alias (default "source");
  2. the transformations run in order, each seeing the previous step's output as the view "previous";
  3. the last output is written to every sink.
It writes a result record (rows read per source, rows written per sink) to --result-file and prints it as one
"CoreETL result:" line. JDBC credentials come from the environment (CORE_ETL_SECRET_<NAME>_USER/_PASSWORD), set
by the worker from the team's secrets; they are never in the spec, argv or this program's output.

Errors in the spec or its data raise CoreEtlError naming the step (e.g. "sources[0] (iceberg): table
pedregal.raw.events does not exist"); the process exits non-zero with a Python traceback, which Spark Runner
classifies as a user error.
"""
import argparse
import json
import os
import re
import sys
import tempfile
from datetime import datetime

SCHEMA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "job-spec.schema.json")


class CoreEtlError(Exception):
    """The job spec or its data cannot be run as asked; retrying will not help."""


# ── JSON Schema validation ─────────────────────────────────────────────────────────────────────────────────
# The subset of JSON Schema (2020-12) that zod's toJSONSchema emits for schema/core-etl.ts. A keyword outside it
# is an error, so a change in the generated schema cannot be silently ignored here.

ANNOTATIONS = {"$schema", "title", "description", "default", "format"}
TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def validate(value, schema, path="", errors=None):
    """Returns a list of "path: message" strings; empty when `value` matches `schema`."""
    errors = [] if errors is None else errors
    at = path or "(spec)"
    for keyword in schema:
        if keyword not in ANNOTATIONS and keyword not in CHECKS:
            raise ValueError(f"job-spec.schema.json uses the keyword {keyword!r}, which this runtime does not check")
    if "type" in schema and not TYPES[schema["type"]](value):
        errors.append(f"{at}: expected {schema['type']}")
        return errors
    for keyword, check in CHECKS.items():
        if keyword in schema and keyword != "type":
            check(value, schema[keyword], schema, path, errors)
    return errors


def _join(path, key):
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)


def _properties(value, props, schema, path, errors):
    for key, sub in props.items():
        if key in value:
            validate(value[key], sub, _join(path, key), errors)


def _required(value, required, schema, path, errors):
    for key in required:
        if key not in value:
            errors.append(f"{_join(path, key)}: required")


def _additional(value, additional, schema, path, errors):
    known = schema.get("properties", {})
    for key in value:
        if key in known:
            continue
        if additional is False:
            errors.append(f"{_join(path, key)}: unknown field")
        elif isinstance(additional, dict):
            validate(value[key], additional, _join(path, key), errors)


def _one_of(value, options, schema, path, errors):
    # A tagged union (every option fixes "type"): report against the option the value names, not all of them.
    tags = [o.get("properties", {}).get("type", {}).get("const") for o in options]
    if isinstance(value, dict) and all(tags):
        if value.get("type") not in tags:
            errors.append(f"{_join(path, 'type')}: expected one of {', '.join(map(repr, tags))}")
        else:
            validate(value, options[tags.index(value["type"])], path, errors)
        return
    matching = [o for o in options if not validate(value, o, path)]
    if len(matching) != 1:
        errors.append(f"{path or '(spec)'}: matches {len(matching)} of the allowed shapes, not exactly one")


def _items(value, sub, schema, path, errors):
    for i, item in enumerate(value):
        validate(item, sub, _join(path, i), errors)


def _bound(test, message):
    def check(value, limit, schema, path, errors):
        if not test(value, limit):
            errors.append(f"{path or '(spec)'}: {message.format(limit)}")

    return check


def _property_names(value, sub, schema, path, errors):
    for key in value:
        validate(key, sub, _join(path, key), errors)


CHECKS = {
    "type": None,
    "properties": _properties,
    "required": _required,
    "additionalProperties": _additional,
    "propertyNames": _property_names,
    "oneOf": _one_of,
    "items": _items,
    "const": _bound(lambda v, c: v == c, "must be {0!r}"),
    "enum": _bound(lambda v, e: v in e, "must be one of {0}"),
    "minItems": _bound(lambda v, n: len(v) >= n, "needs at least {0} item(s)"),
    "minLength": _bound(lambda v, n: len(v) >= n, "must not be shorter than {0}"),
    "pattern": _bound(lambda v, p: re.search(p, v) is not None, "must match {0}"),
    "minimum": _bound(lambda v, n: v >= n, "must be at least {0}"),
    "maximum": _bound(lambda v, n: v <= n, "must be at most {0}"),
    "exclusiveMinimum": _bound(lambda v, n: v > n, "must be more than {0}"),
}


def load_spec(text):
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as e:
        raise CoreEtlError(f"the job spec is not JSON: {e}") from None
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        schema = json.load(f)
    errors = validate(spec, schema)
    if errors:
        raise CoreEtlError("invalid job spec: " + "; ".join(errors))
    return spec


# ── Running the spec ───────────────────────────────────────────────────────────────────────────────────────


def step(where, fn):
    """Runs one step; any error becomes a CoreEtlError that names the step, with the cause chained."""
    try:
        return fn()
    except CoreEtlError:
        raise
    except Exception as e:  # noqa: BLE001 - every failure of a step is reported with the step's name
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        # "<Exception> in <step>": the failure classifier quotes from the exception's name onwards.
        raise CoreEtlError(f"{type(e).__name__} in {where}: {first}") from e


def table_name(spec):
    return f"{spec['catalog']}.{spec['database']}.{spec['table']}"


def check_catalog(spark, catalog, where):
    if spark.conf.get(f"spark.sql.catalog.{catalog}", None) is None:
        known = sorted(
            k.split(".")[3]
            for k, _ in spark.sparkContext.getConf().getAll()
            if re.fullmatch(r"spark\.sql\.catalog\.[^.]+", k)
        )
        raise CoreEtlError(f"{where}: catalog {catalog!r} is not configured here (configured: {', '.join(known) or 'none'})")


def secret(name, where):
    key = "CORE_ETL_SECRET_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
    user, password = os.environ.get(f"{key}_USER"), os.environ.get(f"{key}_PASSWORD")
    if user is None or password is None:
        raise CoreEtlError(f"{where}: secret {name!r} was not provided to the runtime (the team has no such secret)")
    return user, password


def read_source(spark, src, where):
    kind = src["type"]
    if kind == "iceberg":
        name = table_name(src)
        check_catalog(spark, src["catalog"], where)
        if not spark.catalog.tableExists(name):
            raise CoreEtlError(f"{where}: table {name} does not exist")
        reader = spark.read
        if "snapshotId" in src:
            reader = reader.option("snapshot-id", str(src["snapshotId"]))
        if "asOf" in src:
            at = datetime.fromisoformat(src["asOf"].replace("Z", "+00:00"))
            reader = reader.option("as-of-timestamp", str(int(at.timestamp() * 1000)))
        return name, reader.table(name)
    if kind in ("parquet", "csv", "json"):
        options = {"header": "true", "inferSchema": "true"} if kind == "csv" else {}
        options.update(src.get("options", {}))
        return src["path"], spark.read.options(**options).format(kind).load(src["path"])
    if kind == "jdbc":
        user, password = secret(src["secret"], where)
        reader = spark.read.format("jdbc").options(**src.get("options", {}))
        reader = reader.option("url", src["url"]).option("driver", "org.postgresql.Driver")
        reader = reader.option("user", user).option("password", password)
        if "table" in src:
            return src["table"], reader.option("dbtable", src["table"]).load()
        return "query", reader.option("query", src["query"]).load()
    raise CoreEtlError(f"{where}: unknown source type {kind!r}")


def transform(spark, t, current):
    kind = t["type"]
    if kind == "sql":
        return spark.sql(t["query"])
    if kind == "filter":
        return current.where(t["condition"])
    if kind == "select":
        return current.selectExpr(*t["columns"])
    raise CoreEtlError(f"unknown transformation type {kind!r}")


def write_iceberg(spark, sink, df, where):
    name = table_name(sink)
    check_catalog(spark, sink["catalog"], where)
    spark.sql(f"CREATE NAMESPACE IF NOT EXISTS {sink['catalog']}.{sink['database']}")
    mode = sink["mode"]
    if not spark.catalog.tableExists(name):
        # A missing table is created from the query's schema, whatever the mode.
        df.writeTo(name).tableProperty("format-version", "2").create()
        return {"rowsWritten": df.count(), "created": True}
    if mode == "append":
        df.writeTo(name).append()
        return {"rowsWritten": df.count(), "created": False}
    if mode == "overwrite":
        from pyspark.sql.functions import lit

        df.writeTo(name).overwrite(lit(True))
        return {"rowsWritten": df.count(), "created": False}
    # merge: only rows that differ from the table are written, so merging the same data again commits nothing.
    changed = df.exceptAll(spark.table(name).select(*df.columns)).cache()
    rows = changed.count()
    if rows > 0:
        view = "__core_etl_merge_source"
        changed.createOrReplaceTempView(view)
        on = " AND ".join(f"t.`{k}` = s.`{k}`" for k in sink["keys"])
        spark.sql(f"MERGE INTO {name} t USING {view} s ON {on} WHEN MATCHED THEN UPDATE SET * WHEN NOT MATCHED THEN INSERT *")
    return {"rowsWritten": rows, "created": False}


def write_sink(spark, sink, df, where):
    kind = sink["type"]
    if kind == "iceberg":
        return table_name(sink), write_iceberg(spark, sink, df, where)
    if kind == "parquet":
        df.write.mode(sink["mode"]).partitionBy(*sink.get("partitionBy", [])).parquet(sink["path"])
        return sink["path"], {"rowsWritten": df.count()}
    if kind == "console":
        df.show(sink["rows"], truncate=False)
        return "console", {"rowsWritten": min(sink["rows"], df.count())}
    raise CoreEtlError(f"{where}: unknown sink type {kind!r}")


def run(spark, spec):
    result = {"runtime": "builtin", "sparkVersion": spark.version, "sources": [], "sinks": []}
    current = None
    for i, src in enumerate(spec["sources"]):
        where = f"sources[{i}] ({src['type']})"
        name, df = step(where, lambda: read_source(spark, src, where))
        view = src.get("alias", "source")
        df.createOrReplaceTempView(view)
        rows = step(where, df.count)
        result["sources"].append({"index": i, "type": src["type"], "name": name, "view": view, "rowsRead": rows})
        current = df if current is None else current
    for i, t in enumerate(spec["transformations"]):
        where = f"transformations[{i}] ({t['type']})"
        if current is not None:
            current.createOrReplaceTempView("previous")
        prior = current
        current = step(where, lambda: transform(spark, t, prior))
        # Analyse now, so a bad query fails here, under its own name, not in a later step.
        step(where, lambda: current.schema)
        if "alias" in t:
            current.createOrReplaceTempView(t["alias"])
    output = current.cache()
    for i, sink in enumerate(spec["sinks"]):
        where = f"sinks[{i}] ({sink['type']})"
        name, written = step(where, lambda: write_sink(spark, sink, output, where))
        entry = {"index": i, "type": sink["type"], "name": name}
        if "mode" in sink:
            entry["mode"] = sink["mode"]
        result["sinks"].append({**entry, **written})
    return result


def write_result(path, result):
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".result-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, path)


def main(argv):
    parser = argparse.ArgumentParser(prog="runtime.py", description="Runs a CoreETL job spec on Spark.")
    parser.add_argument("--job-spec", required=True, help="the job spec, as JSON")
    parser.add_argument("--result-file", help="where to write the result record (JSON)")
    parser.add_argument("--validate-only", action="store_true", help="check the spec against the schema and exit")
    args, extra = parser.parse_known_args(argv)
    spec = load_spec(args.job_spec)
    if args.validate_only:
        print("CoreETL job spec is valid")
        return
    if extra:
        print(f"CoreETL: ignoring application arguments {extra}: the builtin runtime takes none", file=sys.stderr)

    from pyspark.sql import SparkSession

    spark = SparkSession.builder.appName("core-etl").getOrCreate()
    print(f"CoreETL runtime on Spark {spark.version}", flush=True)
    try:
        result = run(spark, spec)
    finally:
        spark.catalog.clearCache()
    if args.result_file:
        write_result(args.result_file, result)
    print(f"CoreETL result: {json.dumps(result)}", flush=True)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
