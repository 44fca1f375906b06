CREATE TABLE "log_archives" (
	"execution_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"team" text NOT NULL,
	"app_id" text,
	"bytes" bigint NOT NULL,
	"source_bytes" bigint NOT NULL,
	"lines" bigint NOT NULL,
	"head_bytes" bigint NOT NULL,
	"tail_bytes" bigint NOT NULL,
	"truncated" boolean NOT NULL,
	"archived_at" timestamp with time zone NOT NULL,
	CONSTRAINT "log_archives_execution_id_attempt_pk" PRIMARY KEY("execution_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "log_chunks" (
	"execution_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"seq" integer NOT NULL,
	"offset" bigint NOT NULL,
	"bytes" integer NOT NULL,
	"lines" integer NOT NULL,
	"data" "bytea" NOT NULL,
	CONSTRAINT "log_chunks_execution_id_attempt_seq_pk" PRIMARY KEY("execution_id","attempt","seq")
);
--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "spark_ui_url" text;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "spark_app_id" text;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "metrics" jsonb;--> statement-breakpoint
CREATE INDEX "log_archives_archived_idx" ON "log_archives" USING btree ("archived_at");--> statement-breakpoint
CREATE INDEX "log_archives_app_idx" ON "log_archives" USING btree ("app_id");