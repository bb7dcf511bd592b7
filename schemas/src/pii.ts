import { createHmac } from 'node:crypto';
import type { JsonSchema } from './log-type.js';

/**
 * PII declared in the schema (`x-pii` on a field) and applied by one function, which ingest
 * (before publishing) and the writer (for events published straight to Pub/Sub) both call:
 *   hash   → keyed HMAC-SHA256, so a hashed id still joins across tables but cannot be reversed
 *            without the secret (a plain SHA-256 of an email is reversible by guessing);
 *   redact → the value is replaced by "[redacted]" (the field's presence is kept);
 *   drop   → the field is removed and has no column.
 * Applying it twice changes nothing: hashed values carry a recognisable prefix, so ingest and the
 * writer can both apply it to the same event.
 */
export type PiiAction = 'hash' | 'redact' | 'drop';

export interface PiiRule {
  /** Property names from the event root to the field. */
  path: string[];
  action: PiiAction;
}

export const HASH_PREFIX = 'hmac:';
export const REDACTED = '[redacted]';
const HASHED = /^hmac:[0-9a-f]{64}$/;
/** Length of a hashed value: a field marked hash must allow at least this many characters. */
export const HASHED_LENGTH = HASH_PREFIX.length + 64;

export type PiiHasher = (value: string) => string;

export function createPiiHasher(secret: string): PiiHasher {
  if (secret.length < 16) throw new Error('the PII hashing secret must be at least 16 characters');
  return (value) => (HASHED.test(value) ? value : HASH_PREFIX + createHmac('sha256', secret).update(value).digest('hex'));
}

/** Collects the x-pii rules of a composed schema, refusing declarations that cannot work. */
export function piiRulesOf(schema: JsonSchema, path: string[] = [], inArray = false): PiiRule[] {
  const rules: PiiRule[] = [];
  for (const [name, field] of Object.entries(schema.properties ?? {})) {
    const here = [...path, name];
    const action = field['x-pii'];
    if (action !== undefined) {
      const where = `/${here.join('/')}`;
      if (!['hash', 'redact', 'drop'].includes(action)) throw new Error(`${where}: x-pii must be hash, redact or drop`);
      if (inArray) throw new Error(`${where}: x-pii is not supported inside arrays`);
      if (action === 'hash') {
        if (field.type !== 'string' || field.format || field.pattern || field.enum) {
          throw new Error(`${where}: x-pii "hash" needs a plain string field (no format, pattern or enum), since the stored value is a hash`);
        }
        if (typeof field.maxLength === 'number' && field.maxLength < HASHED_LENGTH) {
          throw new Error(`${where}: x-pii "hash" needs maxLength ≥ ${HASHED_LENGTH} to hold the hash`);
        }
      }
      if (action === 'redact' && field.type !== 'string') throw new Error(`${where}: x-pii "redact" applies to string fields`);
      rules.push({ path: here, action });
    }
    if (field.properties) rules.push(...piiRulesOf(field, here, inArray));
    if (field.items?.properties) rules.push(...piiRulesOf(field.items, here, true));
  }
  return rules;
}

/** Returns a protected copy of the event (the input is not modified). */
export function protectPii(event: Record<string, unknown>, rules: PiiRule[], hash: PiiHasher): Record<string, unknown> {
  if (rules.length === 0) return event;
  const root = { ...event };
  for (const { path, action } of rules) {
    let parent: Record<string, unknown> | undefined = root;
    for (const key of path.slice(0, -1)) {
      const child: unknown = parent[key];
      if (typeof child !== 'object' || child === null || Array.isArray(child)) {
        parent = undefined;
        break;
      }
      // Copy on the way down so the caller's nested objects stay untouched.
      parent = parent[key] = { ...(child as Record<string, unknown>) };
    }
    const leaf = path.at(-1)!;
    if (!parent || !(leaf in parent)) continue;
    if (action === 'drop') delete parent[leaf];
    else if (typeof parent[leaf] === 'string') parent[leaf] = action === 'hash' ? hash(parent[leaf]) : REDACTED;
  }
  return root;
}
