import crypto from 'node:crypto';

/** RFC 4122 UUIDv5 (SHA-1, name-based): the same namespace and name always give the same id. */
export function uuidv5(name: string, namespace: string): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = crypto.createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** Namespace for execution ids derived from (team, idempotency key). */
const EXECUTION_NS = '6f1c8f0e-3c1e-4b7a-9a51-5b0f2d2c7e10';

/** DESIGN.md: with an idempotency key, `execution_id = uuidv5(team, key)`, so a repeat maps to the same run. */
export function executionIdFor(team: string, idempotencyKey: string): string {
  return uuidv5(`${team}\n${idempotencyKey}`, EXECUTION_NS);
}

/** Deterministic event id: a retried activity writes the same event once. */
export function eventIdFor(executionId: string, attempt: number, eventType: string, discriminator = ''): string {
  return uuidv5(`${attempt}/${eventType}/${discriminator}`, executionId);
}

/** sha256 of a JSON value with sorted keys, to compare request bodies regardless of key order. */
export function canonicalHash(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return crypto
    .createHash('sha256')
    .update(JSON.stringify(canonical(value)))
    .digest('hex');
}
