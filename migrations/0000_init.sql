CREATE TYPE "public"."event_type" AS ENUM('SUBMIT', 'RUNNING', 'RETRY', 'CANCEL_REQUESTED', 'TERMINAL', 'METRICS_SUMMARY');--> statement-breakpoint
CREATE TYPE "public"."execution_state" AS ENUM('PENDING', 'SUBMITTED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED');--> statement-breakpoint
CREATE TABLE "jobs" (
	"job_path" text PRIMARY KEY NOT NULL,
	"team" text NOT NULL,
	"name" text NOT NULL,
	"owner" text,
	"spec" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "executions" (
	"execution_id" uuid PRIMARY KEY NOT NULL,
	"job_path" text NOT NULL,
	"team" text NOT NULL,
	"owner" text,
	"trigger" text NOT NULL,
	"state" "execution_state" DEFAULT 'PENDING' NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"backend" text,
	"cluster" text,
	"namespace" text,
	"vendor_run_id" text,
	"vendor_webui" text,
	"vendor_logs_link" text,
	"spec" jsonb NOT NULL,
	"resources" jsonb NOT NULL,
	"idempotency_key" text,
	"request_hash" text NOT NULL,
	"failure_class" text,
	"failure_message" text,
	"workflow_id" text NOT NULL,
	"run_id" text,
	"scheduled_time" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"submitted_at" timestamp with time zone,
	"start_time" timestamp with time zone,
	"end_time" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "execution_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"execution_id" uuid NOT NULL,
	"event_type" "event_type" NOT NULL,
	"attempt" integer NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"payload" jsonb NOT NULL,
	CONSTRAINT "execution_events_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
ALTER TABLE "execution_events" ADD CONSTRAINT "execution_events_execution_id_executions_execution_id_fk" FOREIGN KEY ("execution_id") REFERENCES "public"."executions"("execution_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "jobs_team_idx" ON "jobs" USING btree ("team");--> statement-breakpoint
CREATE INDEX "executions_team_created_idx" ON "executions" USING btree ("team","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "executions_state_idx" ON "executions" USING btree ("state","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "executions_job_created_idx" ON "executions" USING btree ("job_path","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "executions_created_idx" ON "executions" USING btree ("created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "execution_events_execution_idx" ON "execution_events" USING btree ("execution_id","seq");