CREATE TYPE "public"."connect_server_state" AS ENUM('STARTING', 'WARM', 'LEASED', 'STOPPED');--> statement-breakpoint
CREATE TYPE "public"."session_event_type" AS ENUM('REQUESTED', 'STARTING', 'LEASED', 'READY', 'IDLE', 'RELEASE_REQUESTED', 'ENDED');--> statement-breakpoint
CREATE TYPE "public"."session_state" AS ENUM('REQUESTED', 'STARTING', 'LEASED', 'READY', 'IDLE', 'ENDED');--> statement-breakpoint
CREATE TABLE "sessions" (
	"session_id" uuid PRIMARY KEY NOT NULL,
	"team" text NOT NULL,
	"owner" text,
	"state" "session_state" DEFAULT 'REQUESTED' NOT NULL,
	"spark_version" text NOT NULL,
	"pool" text,
	"server_id" uuid,
	"token_hash" text NOT NULL,
	"idle_timeout_s" integer NOT NULL,
	"max_lifetime_s" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"last_activity_at" timestamp with time zone,
	"ended_reason" text,
	"ended_message" text,
	"workflow_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ready_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "session_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"event_type" "session_event_type" NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"payload" jsonb NOT NULL,
	CONSTRAINT "session_events_event_id_unique" UNIQUE("event_id")
);
--> statement-breakpoint
CREATE TABLE "session_pools" (
	"name" text PRIMARY KEY NOT NULL,
	"team" text NOT NULL,
	"spark_version" text NOT NULL,
	"size" integer NOT NULL,
	"driver_memory_mb" integer NOT NULL,
	"backend" text DEFAULT 'auto' NOT NULL,
	"idle_timeout_s" integer,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "connect_servers" (
	"server_id" uuid PRIMARY KEY NOT NULL,
	"pool" text,
	"session_id" uuid,
	"state" "connect_server_state" DEFAULT 'STARTING' NOT NULL,
	"team" text NOT NULL,
	"spark_version" text NOT NULL,
	"driver_memory_mb" integer NOT NULL,
	"backend" text,
	"cluster" text,
	"namespace" text,
	"object_name" text,
	"host" text,
	"port" integer,
	"token" text,
	"pid" integer,
	"start_ticks" text,
	"ui_port" integer,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"warm_at" timestamp with time zone,
	"leased_at" timestamp with time zone,
	"stopped_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "spark_version" text;--> statement-breakpoint
ALTER TABLE "session_events" ADD CONSTRAINT "session_events_session_id_sessions_session_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("session_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "sessions_token_hash_idx" ON "sessions" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "sessions_team_created_idx" ON "sessions" USING btree ("team","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "sessions_state_idx" ON "sessions" USING btree ("state");--> statement-breakpoint
CREATE INDEX "session_events_session_idx" ON "session_events" USING btree ("session_id","seq");--> statement-breakpoint
CREATE INDEX "connect_servers_pool_state_idx" ON "connect_servers" USING btree ("pool","state");--> statement-breakpoint
CREATE INDEX "connect_servers_session_idx" ON "connect_servers" USING btree ("session_id");