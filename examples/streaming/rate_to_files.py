"""A small Structured Streaming job for the continuous-job tests and demos.

Usage: rate_to_files.py <output dir> <checkpoint dir> [rows per second]

Reads the built-in `rate` source and appends JSON files to <output dir>, one micro-batch per second. The
checkpoint directory holds the committed offsets (`offsets/<batch id>`, `commits/<batch id>`), so a restart on
the same checkpoint resumes at the next batch instead of starting over.
"""
import sys

from pyspark.sql import SparkSession


def main() -> None:
    if len(sys.argv) < 3:
        print("usage: rate_to_files.py <output dir> <checkpoint dir> [rows per second]", file=sys.stderr)
        sys.exit(2)
    output, checkpoint = sys.argv[1], sys.argv[2]
    rows_per_second = sys.argv[3] if len(sys.argv) > 3 else "5"
    spark = SparkSession.builder.appName("rate-to-files").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    query = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", rows_per_second)
        .load()
        .writeStream.format("json")
        .option("path", output)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="1 second")
        .start()
    )
    print(f"streaming query {query.id} started; checkpoint {checkpoint}", flush=True)
    query.awaitTermination()


if __name__ == "__main__":
    main()
