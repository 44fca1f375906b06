CREATE TABLE "cluster_health" (
	"cluster" text PRIMARY KEY NOT NULL,
	"healthy" boolean NOT NULL,
	"reason" text,
	"checked_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "placements" ALTER COLUMN "cluster" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "executions" ADD COLUMN "pending_reason" jsonb;--> statement-breakpoint
-- Rows from before this migration were all Kubernetes placements.
ALTER TABLE "placements" ADD COLUMN "backend" text NOT NULL DEFAULT 'kubernetes';--> statement-breakpoint
ALTER TABLE "placements" ALTER COLUMN "backend" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "placements" ADD COLUMN "namespace" text;