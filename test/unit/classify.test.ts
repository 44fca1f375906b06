import { describe, expect, it } from 'vitest';
import { classifyFailure, isRetriable } from '../../runner/classify.js';
import { FAILURE_CLASSES } from '../../schema/states.js';

// Log tails below are shaped after real driver output of Spark 3.5 on Kubernetes / YARN and real pod statuses.

const PYSPARK_ANALYSIS_EXCEPTION = `24/11/02 09:14:07 INFO SharedState: Warehouse path is 'file:/opt/spark/work-dir/spark-warehouse'.
24/11/02 09:14:09 INFO InMemoryFileIndex: It took 41 ms to list leaf files for 1 paths.
Traceback (most recent call last):
  File "/opt/spark/work-dir/orders_daily.py", line 21, in <module>
    daily = orders.groupBy("order_date").agg(F.sum("amount_usd").alias("revenue"))
  File "/opt/spark/python/lib/pyspark.zip/pyspark/sql/group.py", line 186, in agg
  File "/opt/spark/python/lib/py4j-0.10.9.7-src.zip/py4j/java_gateway.py", line 1322, in __call__
  File "/opt/spark/python/lib/pyspark.zip/pyspark/errors/exceptions/captured.py", line 185, in deco
    raise converted from None
pyspark.errors.exceptions.captured.AnalysisException: [UNRESOLVED_COLUMN.WITH_SUGGESTION] A column or function parameter with name \`amount_usd\` cannot be resolved. Did you mean one of the following? [\`amount\`, \`currency\`, \`order_id\`, \`order_date\`].;
'Aggregate [order_date#3], [order_date#3, sum('amount_usd) AS revenue#12]
+- Relation [order_id#0L,amount#1,currency#2,order_date#3] parquet

24/11/02 09:14:09 INFO SparkContext: Invoking stop() from shutdown hook
24/11/02 09:14:09 INFO SparkUI: Stopped Spark web UI at http://orders-daily-1-driver-svc.sjns-sales.svc:4040
24/11/02 09:14:09 INFO ShutdownHookManager: Deleting directory /var/data/spark-3f9c/spark-1b2e`;

const PYSPARK_UDF_VALUE_ERROR = `Traceback (most recent call last):
  File "/opt/spark/work-dir/clean_payments.py", line 33, in <module>
    payments.withColumn("cents", to_cents("raw_amount")).write.parquet(out)
  File "/opt/spark/python/lib/pyspark.zip/pyspark/sql/readwriter.py", line 1721, in parquet
  File "/opt/spark/python/lib/py4j-0.10.9.7-src.zip/py4j/java_gateway.py", line 1322, in __call__
  File "/opt/spark/python/lib/pyspark.zip/pyspark/errors/exceptions/captured.py", line 185, in deco
    raise converted from None
pyspark.errors.exceptions.captured.PythonException:
  An exception was thrown from the Python worker. Please see the stack trace below.
Traceback (most recent call last):
  File "/opt/spark/python/lib/pyspark.zip/pyspark/worker.py", line 1247, in main
    process()
  File "/opt/spark/work-dir/clean_payments.py", line 12, in to_cents
    return int(float(value) * 100)
ValueError: could not convert string to float: 'N/A'
`;

const PYSPARK_EXECUTOR_OOM = `Traceback (most recent call last):
  File "/opt/spark/work-dir/sessionize.py", line 48, in <module>
    sessions.write.mode("overwrite").parquet(out)
  File "/opt/spark/python/lib/pyspark.zip/pyspark/sql/readwriter.py", line 1721, in parquet
  File "/opt/spark/python/lib/py4j-0.10.9.7-src.zip/py4j/java_gateway.py", line 1322, in __call__
  File "/opt/spark/python/lib/py4j-0.10.9.7-src.zip/py4j/protocol.py", line 326, in get_return_value
py4j.protocol.Py4JJavaError: An error occurred while calling o97.parquet.
: org.apache.spark.SparkException: Job aborted due to stage failure: Task 17 in stage 4.0 failed 4 times, most recent failure: Lost task 17.3 in stage 4.0 (TID 212) (10.42.3.18 executor 6): java.lang.OutOfMemoryError: Java heap space
	at java.base/java.util.Arrays.copyOf(Arrays.java:3537)
	at org.apache.spark.unsafe.map.BytesToBytesMap.growAndRehash(BytesToBytesMap.java:910)
	at org.apache.spark.sql.execution.UnsafeKVExternalSorter.<init>(UnsafeKVExternalSorter.java:158)

Driver stacktrace:
	at org.apache.spark.scheduler.DAGScheduler.failJobAndIndependentStages(DAGScheduler.scala:2898)
	at org.apache.spark.scheduler.DAGScheduler.$anonfun$abortStage$2(DAGScheduler.scala:2834)`;

const JVM_DRIVER_OOM = `24/11/02 10:02:51 INFO TaskSetManager: Finished task 198.0 in stage 7.0 (TID 1401) in 5123 ms on 10.42.1.9 (executor 2) (199/200)
24/11/02 10:02:51 INFO TaskSetManager: Finished task 199.0 in stage 7.0 (TID 1402) in 4980 ms on 10.42.1.7 (executor 1) (200/200)
24/11/02 10:02:51 INFO DAGScheduler: Job 7 finished: collect at ReportBuilder.scala:88, took 41.203381 s
Exception in thread "main" java.lang.OutOfMemoryError: Java heap space
	at java.base/java.util.Arrays.copyOf(Arrays.java:3537)
	at java.base/java.io.ByteArrayOutputStream.ensureCapacity(ByteArrayOutputStream.java:100)
	at org.apache.spark.sql.execution.SparkPlan.executeCollect(SparkPlan.scala:448)
	at com.acme.reports.ReportBuilder$.main(ReportBuilder.scala:88)
	at com.acme.reports.ReportBuilder.main(ReportBuilder.scala)`;

const K8S_EXECUTOR_OOMKILLED = `23/01/26 05:37:07 ERROR TaskSchedulerImpl: Lost executor 13 on 100.86.155.194:
The executor with id 13 exited with exit code 137(SIGKILL, possible container OOM).

The API gave the following container statuses:

	 container name: spark-kubernetes-executor
	 container image: registry.acme.io/spark:3.5.1
	 container state: terminated
	 container started at: 2023-01-26T05:28:32Z
	 container finished at: 2023-01-26T05:37:06Z
	 exit code: 137
	 termination reason: OOMKilled

23/01/26 05:37:07 WARN TaskSetManager: Lost task 25.0 in stage 8.0 (TID 9337) (100.86.155.194 executor 13): ExecutorLostFailure (executor 13 exited caused by one of the running tasks) Reason:
The executor with id 13 exited with exit code 137(SIGKILL, possible container OOM).`;

const K8S_EXECUTOR_SIGKILL_NOT_OOM = `24/11/02 11:20:40 ERROR TaskSchedulerImpl: Lost executor 4 on 10.42.2.31:
The executor with id 4 exited with exit code 137(SIGKILL, possible container OOM).

The API gave the following container statuses:

	 container name: spark-kubernetes-executor
	 container state: terminated
	 exit code: 137
	 termination reason: Error
`;

const YARN_EXECUTOR_OOM = `19/08/14 16:05:12 WARN TaskSetManager: Lost task 53.0 in stage 2.0 (TID 310, ip-10-0-1-57.ec2.internal, executor 7): ExecutorLostFailure (executor 7 exited caused by one of the running tasks) Reason: Container killed by YARN for exceeding memory limits. 5.6 GB of 5.5 GB physical memory used. Consider boosting spark.yarn.executor.memoryOverhead or disabling yarn.nodemanager.vmem-check-enabled because of YARN-4714.`;

const HEARTBEAT_TIMEOUT = `24/11/02 12:41:03 WARN HeartbeatReceiver: Removing executor 3 with no recent heartbeats: 128470 ms exceeds timeout 120000 ms
24/11/02 12:41:03 ERROR TaskSchedulerImpl: Lost executor 3 on 10.42.5.12: Executor heartbeat timed out after 128470 ms
24/11/02 12:41:03 WARN TaskSetManager: Lost task 12.0 in stage 9.0 (TID 881) (10.42.5.12 executor 3): ExecutorLostFailure (executor 3 exited caused by one of the running tasks) Reason: Executor heartbeat timed out after 128470 ms
Exception in thread "main" org.apache.spark.SparkException: Job aborted due to stage failure: Task 12 in stage 9.0 failed 4 times, most recent failure: Lost task 12.3 in stage 9.0 (TID 904) (10.42.5.40 executor 9): ExecutorLostFailure (executor 9 exited caused by one of the running tasks) Reason: Executor heartbeat timed out after 131002 ms`;

const FETCH_FAILED = `24/11/02 13:10:55 ERROR TaskSchedulerImpl: Lost executor 5 on 10.42.4.9: The executor with id 5 exited with exit code 143(unexpected).
24/11/02 13:10:57 WARN TaskSetManager: Lost task 41.0 in stage 12.1 (TID 2210) (10.42.4.22 executor 8): FetchFailed(BlockManagerId(5, 10.42.4.9, 7337, None), shuffleId=3, mapIndex=17, mapId=1503, reduceId=41, message=
org.apache.spark.shuffle.FetchFailedException: Failed to connect to /10.42.4.9:7337
	at org.apache.spark.errors.SparkCoreErrors$.fetchFailedError(SparkCoreErrors.scala:437)
	at org.apache.spark.storage.ShuffleBlockFetcherIterator.throwFetchFailedException(ShuffleBlockFetcherIterator.scala:1239)
Caused by: java.io.IOException: Failed to connect to /10.42.4.9:7337
Exception in thread "main" org.apache.spark.SparkException: Job aborted due to stage failure: ShuffleMapStage 12 (parquet at Compact.scala:61) has failed the maximum allowable number of times: 4. Most recent failure reason: org.apache.spark.shuffle.FetchFailedException: Failed to connect to /10.42.4.9:7337`;

const METADATA_FETCH_FAILED = `24/11/02 13:30:02 WARN TaskSetManager: Lost task 3.0 in stage 6.0 (TID 77) (10.42.1.4 executor 2): FetchFailed(null, shuffleId=2, mapIndex=-1, mapId=-1, reduceId=3, message=
org.apache.spark.shuffle.MetadataFetchFailedException: Missing an output location for shuffle 2 partition 3
	at org.apache.spark.MapOutputTracker$.validateStatus(MapOutputTracker.scala:1705)`;

const MISSING_SHUFFLE_FILE = `24/11/02 13:45:19 WARN TaskSetManager: Lost task 7.0 in stage 3.0 (TID 55) (10.42.1.4 executor 2): java.io.FileNotFoundException: /var/data/spark-5e1d/blockmgr-9a0f2c1e/0c/shuffle_1_12_0.index (No such file or directory)`;

const FAILED_SCHEDULING =
  '0/5 nodes are available: 2 Insufficient cpu, 3 Insufficient memory. preemption: 0/5 nodes are available: 5 No preemption victims found for incoming pod.';

const JVM_USER_NPE = `24/11/02 14:01:12 INFO DAGScheduler: Job 2 failed: count at Enrich.scala:40, took 3.102 s
Exception in thread "main" org.apache.spark.SparkException: Job aborted due to stage failure: Task 0 in stage 2.0 failed 4 times, most recent failure: Lost task 0.3 in stage 2.0 (TID 11) (10.42.2.8 executor 1): java.lang.NullPointerException: Cannot invoke "String.trim()" because "raw" is null
	at com.acme.enrich.Enrich$.normalise(Enrich.scala:22)
	at org.apache.spark.sql.catalyst.expressions.GeneratedClass$GeneratedIteratorForCodegenStage1.processNext(Unknown Source)
Driver stacktrace:`;

describe('classifyFailure: user errors', () => {
  it('treats a PySpark AnalysisException traceback as a user error that is never retried', () => {
    const c = classifyFailure({ exitCode: 1, reason: 'Error', logTail: PYSPARK_ANALYSIS_EXCEPTION });
    expect(c.failureClass).toBe('USER_ERROR');
    expect(c.retriable).toBe(false);
    expect(c.oomTarget).toBeUndefined();
    expect(c.summary).toMatch(/^the application failed \(pyspark\.errors\.exceptions\.captured\.AnalysisException: /);
    expect(c.summary).toContain('[UNRESOLVED_COLUMN.WITH_SUGGESTION]');
  });

  it('reports the innermost Python exception when a UDF raises in the Python worker', () => {
    const c = classifyFailure({ exitCode: 1, logTail: PYSPARK_UDF_VALUE_ERROR });
    expect(c.failureClass).toBe('USER_ERROR');
    expect(c.retriable).toBe(false);
    expect(c.summary).toBe("the application failed (ValueError: could not convert string to float: 'N/A')");
  });

  it('treats a JVM exception that fails the job with exit code 1 as a user error', () => {
    const c = classifyFailure({ exitCode: 1, logTail: JVM_USER_NPE });
    expect(c.failureClass).toBe('USER_ERROR');
    expect(c.summary).toContain('java.lang.NullPointerException');
  });

  it('treats a missing main class as a user error', () => {
    const c = classifyFailure({
      exitCode: 101,
      logTail: `Error: Failed to load class com.acme.etl.Main.
24/11/02 08:00:01 WARN SparkSubmit$$anon$2: Failed to load com.acme.etl.Main.
java.lang.ClassNotFoundException: com.acme.etl.Main
	at java.base/java.net.URLClassLoader.findClass(URLClassLoader.java:445)`,
    });
    expect(c.failureClass).toBe('USER_ERROR');
    expect(c.retriable).toBe(false);
  });

  it('treats an application file that does not exist as a user error', () => {
    const py = classifyFailure({
      exitCode: 2,
      logTail: "python3: can't open file '/opt/spark/work-dir/etl.py': [Errno 2] No such file or directory",
    });
    expect(py.failureClass).toBe('USER_ERROR');
    const jar = classifyFailure({
      exitCode: 1,
      logTail:
        'Exception in thread "main" java.io.FileNotFoundException: File file:/opt/spark/jars/acme-etl-2.7.0.jar does not exist',
    });
    expect(jar.failureClass).toBe('USER_ERROR');
    expect(jar.summary).toContain('acme-etl-2.7.0.jar does not exist');
  });

  it('keeps a broken query a user error even when an executor was lost and replaced earlier in the log', () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail: `24/11/02 09:10:00 ERROR TaskSchedulerImpl: Lost executor 2 on 10.42.0.7: Executor heartbeat timed out after 125003 ms\n${PYSPARK_ANALYSIS_EXCEPTION}`,
    });
    expect(c.failureClass).toBe('USER_ERROR');
  });

  it('treats EMR USER_ERROR and VALIDATION_ERROR as user errors', () => {
    expect(classifyFailure({ reason: 'USER_ERROR', message: 'Job run failed.' }).failureClass).toBe('USER_ERROR');
    expect(classifyFailure({ reason: 'VALIDATION_ERROR' }).failureClass).toBe('USER_ERROR');
  });
});

describe('classifyFailure: out of memory', () => {
  it('classifies a JVM heap OOM in the driver thread as a driver OOM, despite executor lines before it', () => {
    const c = classifyFailure({ exitCode: 1, logTail: JVM_DRIVER_OOM });
    expect(c).toEqual({
      failureClass: 'OOM',
      retriable: true,
      oomTarget: 'driver',
      summary: 'driver ran out of memory (java.lang.OutOfMemoryError: Java heap space)',
    });
  });

  it('classifies GC overhead limit exceeded in the driver as a driver OOM', () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail: 'Exception in thread "main" java.lang.OutOfMemoryError: GC overhead limit exceeded',
    });
    expect(c.failureClass).toBe('OOM');
    expect(c.oomTarget).toBe('driver');
    expect(c.summary).toBe('driver ran out of memory (java.lang.OutOfMemoryError: GC overhead limit exceeded)');
  });

  it('classifies an OOMKilled driver container (exit code 137) as a driver OOM', () => {
    const c = classifyFailure({
      exitCode: 137,
      reason: 'OOMKilled',
      message: 'Driver has one or more failed critical container(s), refer last observed status for details.',
    });
    expect(c.failureClass).toBe('OOM');
    expect(c.retriable).toBe(true);
    expect(c.oomTarget).toBe('driver');
    expect(c.summary).toMatch(/^driver ran out of memory \(OOMKilled/);
  });

  it('classifies a task OOM surfaced through a PySpark Py4JJavaError as an executor OOM, not a user error', () => {
    const c = classifyFailure({ exitCode: 1, logTail: PYSPARK_EXECUTOR_OOM });
    expect(c.failureClass).toBe('OOM');
    expect(c.oomTarget).toBe('executor');
    expect(c.summary).toBe('executor ran out of memory (java.lang.OutOfMemoryError: Java heap space)');
  });

  it('classifies a Py4J driver-side OutOfMemoryError from collect() as a driver OOM', () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail: `py4j.protocol.Py4JJavaError: An error occurred while calling o61.collectToPython.
: java.lang.OutOfMemoryError: Java heap space
	at java.base/java.util.Arrays.copyOf(Arrays.java:3537)`,
    });
    expect(c.failureClass).toBe('OOM');
    expect(c.oomTarget).toBe('driver');
  });

  it('classifies an ExecutorLostFailure whose container was OOMKilled as an executor OOM, not a lost executor', () => {
    const c = classifyFailure({ exitCode: 1, logTail: K8S_EXECUTOR_OOMKILLED });
    expect(c.failureClass).toBe('OOM');
    expect(c.retriable).toBe(true);
    expect(c.oomTarget).toBe('executor');
    expect(c.summary).toBe('executor ran out of memory (OOMKilled)');
  });

  it('classifies a YARN memory-limit kill of an executor as an executor OOM', () => {
    const c = classifyFailure({ exitCode: 1, logTail: YARN_EXECUTOR_OOM });
    expect(c.failureClass).toBe('OOM');
    expect(c.oomTarget).toBe('executor');
    expect(c.summary).toMatch(/^executor ran out of memory \(Container killed by YARN for exceeding memory limits/);
  });

  it("classifies Spark's executor exit code 52 (JVM OOM) as an executor OOM", () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail:
        '24/11/02 15:00:00 ERROR TaskSchedulerImpl: Lost executor 2 on 10.42.3.3: The executor with id 2 exited with exit code 52(JVM OOM).',
    });
    expect(c.failureClass).toBe('OOM');
    expect(c.oomTarget).toBe('executor');
  });

  it('ignores -XX:OnOutOfMemoryError in a logged launch command', () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail: `YARN executor launch context:
  command:
    {{JAVA_HOME}}/bin/java -server -Xmx4096m '-XX:OnOutOfMemoryError=kill %p' org.apache.spark.executor.YarnCoarseGrainedExecutorBackend
Exception in thread "main" java.lang.IllegalArgumentException: Wrong FS: s3a://acme-raw/orders, expected: hdfs://nn:8020`,
    });
    expect(c.failureClass).toBe('USER_ERROR');
  });
});

describe('classifyFailure: executors, nodes and shuffle', () => {
  it('classifies an executor heartbeat timeout as a retriable lost executor', () => {
    const c = classifyFailure({ exitCode: 1, logTail: HEARTBEAT_TIMEOUT });
    expect(c.failureClass).toBe('EXECUTOR_LOST');
    expect(c.retriable).toBe(true);
    expect(c.oomTarget).toBeUndefined();
    expect(c.summary).toMatch(/^an executor was lost \(ExecutorLostFailure/);
  });

  it('does not call an executor SIGKILL an OOM when Kubernetes gives another termination reason', () => {
    const c = classifyFailure({ exitCode: 1, logTail: K8S_EXECUTOR_SIGKILL_NOT_OOM });
    expect(c.failureClass).toBe('EXECUTOR_LOST');
  });

  it('classifies a FetchFailedException as a retriable shuffle fetch failure, even after a lost executor', () => {
    const c = classifyFailure({ exitCode: 1, logTail: FETCH_FAILED });
    expect(c.failureClass).toBe('SHUFFLE_FETCH');
    expect(c.retriable).toBe(true);
    expect(c.summary).toMatch(/^shuffle output could not be fetched \(FetchFailed/);
  });

  it('classifies a MetadataFetchFailedException (missing shuffle output location) as a shuffle fetch failure', () => {
    const c = classifyFailure({ exitCode: 1, logTail: METADATA_FETCH_FAILED });
    expect(c.failureClass).toBe('SHUFFLE_FETCH');
  });

  it('classifies a missing shuffle index file as a shuffle fetch failure, not a missing user file', () => {
    const c = classifyFailure({ exitCode: 1, logTail: MISSING_SHUFFLE_FILE });
    expect(c.failureClass).toBe('SHUFFLE_FETCH');
  });

  it('classifies an evicted driver pod as node preemption', () => {
    const c = classifyFailure({
      reason: 'DriverEvicted',
      message: 'The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, available: 8Gi.',
    });
    expect(c.failureClass).toBe('NODE_PREEMPTED');
    expect(c.retriable).toBe(true);
  });

  it('classifies a graceful node shutdown (spot reclaim) as node preemption', () => {
    const c = classifyFailure({
      exitCode: 143,
      reason: 'Terminated',
      message: 'Pod was terminated in response to imminent node shutdown.',
    });
    expect(c.failureClass).toBe('NODE_PREEMPTED');
  });

  it('classifies executors lost to spot interruption and decommissioning as node preemption', () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail:
        '24/11/02 16:12:09 ERROR TaskSchedulerImpl: Lost executor 11 on 10.42.9.2: Executor decommission: spot instance interruption notice',
    });
    expect(c.failureClass).toBe('NODE_PREEMPTED');
    expect(classifyFailure({ message: 'Preempted in order to admit critical pod' }).failureClass).toBe(
      'NODE_PREEMPTED',
    );
  });
});

describe('classifyFailure: scheduling, infrastructure and deadlines', () => {
  it('classifies FailedScheduling for lack of cpu and memory as scheduling, not preemption', () => {
    const c = classifyFailure({ reason: 'SchedulingFailure', message: FAILED_SCHEDULING });
    expect(c.failureClass).toBe('SCHEDULING');
    expect(c.retriable).toBe(true);
    const event = classifyFailure({ message: `Warning  FailedScheduling  default-scheduler  ${FAILED_SCHEDULING}` });
    expect(event.failureClass).toBe('SCHEDULING');
  });

  it("classifies the operator's DriverStartTimedOut and ExecutorsStartTimedOut as scheduling failures", () => {
    const driver = classifyFailure({
      reason: 'DriverStartTimedOut',
      message:
        'The driver has not responded to the initial health check request within the allotted start-up time. This can be configured by setting .spec.applicationTolerations.applicationTimeoutConfig.',
    });
    expect(driver.failureClass).toBe('SCHEDULING');
    expect(driver.summary).toMatch(/^the driver or executors could not be scheduled \(DriverStartTimedOut: /);
    const executors = classifyFailure({
      reason: 'ExecutorsStartTimedOut',
      message: 'The Spark application failed to get enough executors in the given time threshold.',
    });
    expect(executors.failureClass).toBe('SCHEDULING');
  });

  it('classifies an exceeded namespace quota as a scheduling failure', () => {
    const c = classifyFailure({
      reason: 'SchedulingFailure',
      message:
        'pods "orders-daily-1-driver" is forbidden: exceeded quota: sjns-sales-quota, requested: limits.memory=5Gi, used: limits.memory=60Gi, limited: limits.memory=64Gi',
    });
    expect(c.failureClass).toBe('SCHEDULING');
  });

  it('leaves DriverReadyTimedOut with no log to UNKNOWN, which is not retried', () => {
    const c = classifyFailure({
      reason: 'DriverReadyTimedOut',
      message:
        'The driver has not responded to the initial health check request within the allotted start-up time. This can be configured by setting .spec.applicationTolerations.applicationTimeoutConfig.',
    });
    expect(c.failureClass).toBe('UNKNOWN');
    expect(c.retriable).toBe(false);
  });

  it('classifies a vanished run and a run with no status as retriable infrastructure failures', () => {
    const vanished = classifyFailure({
      reason: 'VANISHED',
      message: 'the SparkApplication was deleted outside Spark Runner',
    });
    expect(vanished).toMatchObject({ failureClass: 'INFRA', retriable: true });
    expect(vanished.summary).toBe(
      'the platform or backend failed (VANISHED: the SparkApplication was deleted outside Spark Runner)',
    );
    expect(classifyFailure({ reason: 'NO_STATUS' })).toMatchObject({ failureClass: 'INFRA', retriable: true });
    expect(classifyFailure({ reason: 'INTERNAL_ERROR' }).failureClass).toBe('INFRA');
  });

  it('classifies image pull failures and object-store throttling as infrastructure failures', () => {
    expect(
      classifyFailure({ reason: 'Failed', message: 'Back-off pulling image: ImagePullBackOff' }).failureClass,
    ).toBe('INFRA');
    const s3 = classifyFailure({
      exitCode: 1,
      logTail:
        'Exception in thread "main" org.apache.hadoop.fs.s3a.AWSServiceThrottledException: getFileStatus on s3a://acme-raw/orders: com.amazonaws.services.s3.model.AmazonS3Exception: Please reduce your request rate. (Service: Amazon S3; Status Code: 503; Error Code: SlowDown)',
    });
    expect(s3.failureClass).toBe('INFRA');
  });

  it('classifies a driver killed by SIGKILL without an OOMKilled reason as infrastructure, not OOM', () => {
    const c = classifyFailure({ exitCode: 137, reason: 'Error' });
    expect(c.failureClass).toBe('INFRA');
    expect(c.summary).toBe('the platform or backend failed (driver killed by SIGKILL (exit code 137))');
  });

  it('classifies the execution deadline as TIMEOUT, which is not retried', () => {
    const c = classifyFailure({ reason: 'TIMEOUT', message: 'execution exceeded 3600 s' });
    expect(c).toEqual({
      failureClass: 'TIMEOUT',
      retriable: false,
      summary: 'the execution exceeded its deadline (TIMEOUT: execution exceeded 3600 s)',
    });
  });
});

describe('classifyFailure: unknown failures and summaries', () => {
  it('calls an empty failure UNKNOWN and does not retry it', () => {
    expect(classifyFailure({})).toEqual({
      failureClass: 'UNKNOWN',
      retriable: false,
      summary: 'unrecognised failure (no failure details were reported)',
    });
  });

  it('calls exit code 1 with no recognisable error UNKNOWN, quoting the last log line', () => {
    const c = classifyFailure({
      exitCode: 1,
      logTail: '24/11/02 17:00:00 INFO ShutdownHookManager: Shutdown hook called\n',
    });
    expect(c.failureClass).toBe('UNKNOWN');
    expect(c.summary).toBe(
      'unrecognised failure (24/11/02 17:00:00 INFO ShutdownHookManager: Shutdown hook called; exit code 1)',
    );
  });

  it('keeps every summary to one bounded line', () => {
    const huge = `Exception in thread "main" java.lang.RuntimeException: ${'x'.repeat(5000)}\n\tat a.b.C.d(C.java:1)`;
    for (const info of [{ exitCode: 1, logTail: huge }, { logTail: K8S_EXECUTOR_OOMKILLED }, { message: huge }]) {
      const { summary } = classifyFailure(info);
      expect(summary).not.toContain('\n');
      expect(summary.length).toBeLessThanOrEqual(300);
    }
  });

  it('classifies 64 KiB single-line log tails built to make regular expressions backtrack about as fast as plain 64 KiB logs', () => {
    const adversarial = [
      'x'.repeat(65_536),
      'node '.repeat(13_000),
      `${'driver '.repeat(9_000)}\njava.lang.OutOfMemoryError: Java heap space`,
      `${'FileNotFoundException x '.repeat(2_600)}shuffle_1`,
      `${'most recent failure: Lost task '.repeat(2_000)}\nException in thread "main" x`,
    ];
    // Relative to a plain log of the same size, timed in the same process (the fastest of 3 runs each), so a loaded
    // machine slows both alike: linear patterns stay within a small factor, the quadratic ones this guards against
    // took ~100x longer (0.5 s against a few ms).
    const fastest = (logTail: string) =>
      Math.min(
        ...[0, 1, 2].map(() => {
          const started = performance.now();
          classifyFailure({ exitCode: 1, message: logTail, logTail });
          return performance.now() - started;
        }),
      );
    const plain = Math.max(fastest('INFO a plain driver line\n'.repeat(2_700)), 1);
    for (const logTail of adversarial) expect(fastest(logTail) / plain, logTail.slice(0, 30)).toBeLessThan(30);
  });

  it('retries exactly the infrastructure classes: never USER_ERROR, TIMEOUT or UNKNOWN', () => {
    const retried = FAILURE_CLASSES.filter((c) => isRetriable(c));
    expect(retried).toEqual(['OOM', 'EXECUTOR_LOST', 'NODE_PREEMPTED', 'SHUFFLE_FETCH', 'SCHEDULING', 'INFRA']);
  });
});
