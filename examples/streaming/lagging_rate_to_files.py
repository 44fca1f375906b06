"""A Structured Streaming job that falls behind, batch after batch: the input for DCR's lag rule (runner/dcr.ts).

Usage: lagging_rate_to_files.py <output dir> <checkpoint dir> [rows per second] [peak batch seconds]

Reads the built-in `rate` source (one micro-batch per second at most) and writes each batch to
<output dir>/batch=<batch id>/ as JSON, overwriting that directory: a batch that a restart replays from the
checkpoint replaces its own earlier output, so the sink holds every row once.

Why it lags. Spark measures a batch's input rate as its rows over the time since the previous batch started, and its
processing rate as its rows over its own duration. A batch that takes twice as long as the one before it therefore
reports processing ≈ half its input. Here, each batch "seals" its rows with a SHA-256 hash chain (the digest is
written with the rows) whose length doubles with every batch of the run: real CPU work in the driver, sized from a
short calibration of this machine's hash rate so that the first batch's chain takes ~1/32 of the peak. Once a
batch's chain reaches the peak (8 s by default) the next one starts small again, so the job lags in waves (roughly
the last 12 of every 16 s) and never runs away. It stands in for a sink or an enrichment that gets slower as it
goes; more executors would not make it faster (the chain is sequential), which is what DCR's cool-down is for.
Each run starts its waves afresh (a restart from the checkpoint resets the chain, not the batch ids).
"""
import hashlib
import sys
import time

from pyspark.sql import DataFrame, SparkSession, functions as F


def calibrate() -> float:
    """SHA-256 rounds per second on this machine, now."""
    rounds, digest, start = 0, b"calibrate", time.perf_counter()
    while time.perf_counter() - start < 0.2:
        for _ in range(1000):
            digest = hashlib.sha256(digest).digest()
        rounds += 1000
    return rounds / (time.perf_counter() - start)


def main() -> None:
    if len(sys.argv) < 3:
        print(
            "usage: lagging_rate_to_files.py <output dir> <checkpoint dir> [rows per second] [peak batch seconds]",
            file=sys.stderr,
        )
        sys.exit(2)
    output, checkpoint = sys.argv[1].rstrip("/"), sys.argv[2]
    rows_per_second = sys.argv[3] if len(sys.argv) > 3 else "20"
    peak_seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 8.0
    spark = SparkSession.builder.appName("lagging-rate-to-files").getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    peak_rounds = int(calibrate() * peak_seconds)
    chain = {"rounds": max(1, peak_rounds // 32)}

    def seal(batch: DataFrame, batch_id: int) -> None:
        values = sorted(r.value for r in batch.select("value").collect())
        digest = ",".join(map(str, values)).encode()
        for _ in range(chain["rounds"]):
            digest = hashlib.sha256(digest).digest()
        batch.withColumn("batch", F.lit(batch_id)).withColumn("seal", F.lit(digest.hex())).write.mode(
            "overwrite"
        ).json(f"{output}/batch={batch_id}")
        chain["rounds"] = chain["rounds"] * 2 if chain["rounds"] < peak_rounds else max(1, peak_rounds // 32)

    query = (
        spark.readStream.format("rate")
        .option("rowsPerSecond", rows_per_second)
        .load()
        .writeStream.foreachBatch(seal)
        .option("checkpointLocation", checkpoint)
        .trigger(processingTime="1 second")
        .start()
    )
    print(f"streaming query {query.id} started; checkpoint {checkpoint}", flush=True)
    query.awaitTermination()


if __name__ == "__main__":
    main()
