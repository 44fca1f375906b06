CREATE TYPE "public"."job_event_type" AS ENUM('RUN_STARTED', 'RESTART_SCHEDULED', 'DEGRADED', 'REDEPLOYED', 'RESIZED', 'STOPPED', 'RESUMED', 'SAMPLE');--> statement-breakpoint
CREATE TABLE "job_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"job_path" text NOT NULL,
	"event_type" "job_event_type" NOT NULL,
	"execution_id" uuid,
	"spec_version" integer,
	"timestamp" timestamp with time zone NOT NULL,
	"payload" jsonb NOT NULL,
	CONSTRAINT "job_events_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE INDEX "job_events_job_idx" ON "job_events" USING btree ("job_path","seq");