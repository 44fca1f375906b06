-- Run once by the compose Postgres container on first start: the Spark Runner database and its owner.
CREATE USER spark_runner WITH PASSWORD 'spark_runner';
CREATE DATABASE spark_runner OWNER spark_runner;
