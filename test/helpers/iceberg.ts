/**
 * Reads an Iceberg table of the local Hadoop catalog from its metadata files alone (no Spark): which snapshot is
 * current, how many rows it holds, and how many snapshots there are. That is enough to check what a CoreETL sink
 * wrote, and whether a job committed anything at all.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface IcebergTableState {
  /** As a string: snapshot ids exceed JavaScript's safe integers. */
  currentSnapshotId: string;
  /** `total-records` of the current snapshot's summary. */
  rows: number;
  snapshots: number;
}

/** The table's state, or undefined when it does not exist. */
export function icebergTable(warehouse: string, database: string, table: string): IcebergTableState | undefined {
  const metadata = path.join(warehouse, database, table, 'metadata');
  const hint = path.join(metadata, 'version-hint.text');
  if (!fs.existsSync(hint)) return undefined;
  const text = fs.readFileSync(path.join(metadata, `v${fs.readFileSync(hint, 'utf8').trim()}.metadata.json`), 'utf8');
  // Every *snapshot-id number becomes a string before parsing, so none loses digits.
  const safe = text.replace(/("[a-z-]*snapshot-id"\s*:\s*)(-?\d+)/g, '$1"$2"');
  const parsed = JSON.parse(safe) as {
    'current-snapshot-id': string;
    snapshots?: { 'snapshot-id': string; summary: Record<string, string> }[];
  };
  const snapshots = parsed.snapshots ?? [];
  const current = snapshots.find((s) => s['snapshot-id'] === parsed['current-snapshot-id']);
  return {
    currentSnapshotId: parsed['current-snapshot-id'],
    rows: Number(current?.summary['total-records'] ?? 0),
    snapshots: snapshots.length,
  };
}
