CREATE TABLE "placements" (
	"execution_id" uuid NOT NULL,
	"attempt" integer NOT NULL,
	"cluster" text NOT NULL,
	"reason" text,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "placements_execution_id_attempt_pk" PRIMARY KEY("execution_id","attempt")
);
