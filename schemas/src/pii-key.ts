import { createHmac } from 'node:crypto';
import { ConfigError, optionalString, readList, requireString, type Env } from '@strata/runtime';

/**
 * The keyed hash behind `x-pii: "hash"`, and the settings ingest and the writer share.
 *
 * A hash is `hmac:<key id>:<64 hex>`: HMAC-SHA256 of the value under PII_HASH_SECRET, labelled
 * with the id of that secret. The label is what makes the secret rotatable: hashes made before a
 * rotation keep the old id, so a reader can tell which secret a value was hashed with, and a join
 * across the rotation knows it must compare hashes of both (README, "PII").
 */
export const HASH_PREFIX = 'hmac:';

/** Letters, digits, `_` and `-`: never the `:` that ends it inside a hash. */
const KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;
export const MAX_PII_KEY_ID_LENGTH = 16;

/** Length of the longest hashed value: a field marked hash must allow at least this many characters. */
export const HASHED_LENGTH = HASH_PREFIX.length + MAX_PII_KEY_ID_LENGTH + 1 + 64;

export interface PiiHasher {
  (value: string): string;
  /** The id stored in every hash this hasher makes. */
  readonly keyId: string;
}

/**
 * The key id when PII_HASH_KEY_ID is unset: a fingerprint of the secret itself, so a deployment
 * that never set an id still labels its hashes, and a new secret always gets a new id (a rotation
 * that forgot the id cannot mislabel hashes). It reveals no more of the secret than any hash of a
 * known value does.
 */
export function defaultPiiKeyId(secret: string): string {
  return createHmac('sha256', secret).update('strata pii key id').digest('hex').slice(0, 8);
}

export function createPiiHasher(secret: string, keyId: string = defaultPiiKeyId(secret)): PiiHasher {
  if (secret.length < 16) throw new Error('the PII hashing secret must be at least 16 characters');
  if (!KEY_ID.test(keyId)) throw new Error(`the PII key id must be 1 to ${MAX_PII_KEY_ID_LENGTH} letters, digits, _ or -, got "${keyId}"`);
  const prefix = `${HASH_PREFIX}${keyId}:`;
  // Every value is hashed, whatever it looks like: a value shaped like a hash is a producer's
  // string like any other (skipping it let producers store identifiers of their choosing).
  return Object.assign((value: string) => prefix + createHmac('sha256', secret).update(value).digest('hex'), { keyId });
}

/**
 * Key names that mark PII wherever a schema does not declare the field (kept unknown fields in
 * `extra`, free-form JSON, anything in quarantine and dead letters). A pattern matches a word of
 * the key name (words split at `_`, `-`, `.`, spaces and camelCase, case-insensitive) that starts
 * or ends with it: `phone` catches `phone_number`, `mobilePhone` and `telephone`, `email`
 * catches `emails`. A pattern of three letters or fewer matches a whole word only, or the word
 * and a version: `ip` catches `ip`, `client_ip`, `ipAddress`, `IPv4`, but not `shipping`, `trip`,
 * `zip` or `membership`. A pattern of several words (`ip_addr`) matches those words in a row.
 * See pii.ts, keyNamesPii.
 */
export const DEFAULT_PII_EXTRA_KEYS: readonly string[] = ['email', 'phone', 'ip'];

/** Everything about PII protection that deployment decides: the same on ingest and the writer. */
export interface PiiSettings {
  secret: string;
  keyId: string;
  /** Lower-case word patterns of undeclared key names whose values are protected (DEFAULT_PII_EXTRA_KEYS says how they match). */
  extraKeys: readonly string[];
}

/** What protection runs with: the hasher, and the key patterns for undeclared fields. */
export interface PiiPolicy {
  hash: PiiHasher;
  extraKeys: readonly string[];
}

export function createPiiPolicy(settings: Pick<PiiSettings, 'secret'> & Partial<PiiSettings>): PiiPolicy {
  return { hash: createPiiHasher(settings.secret, settings.keyId), extraKeys: settings.extraKeys ?? DEFAULT_PII_EXTRA_KEYS };
}

/** PII_HASH_SECRET, PII_HASH_KEY_ID and PII_EXTRA_KEYS, read the same by ingest and the writer. */
export function readPiiSettings(env: Env): PiiSettings {
  const secret = requireString(env, 'PII_HASH_SECRET');
  if (secret.length < 16) throw new ConfigError('PII_HASH_SECRET must be at least 16 characters');
  const keyId = optionalString(env, 'PII_HASH_KEY_ID') ?? defaultPiiKeyId(secret);
  if (!KEY_ID.test(keyId)) throw new ConfigError(`PII_HASH_KEY_ID must be 1 to ${MAX_PII_KEY_ID_LENGTH} letters, digits, _ or -, got "${keyId}"`);
  const listed = readList(env, 'PII_EXTRA_KEYS', [...DEFAULT_PII_EXTRA_KEYS]).map((key) => key.toLowerCase());
  // "none" turns the patterns off: an empty variable means the default, as for every other variable.
  const extraKeys = listed.length === 1 && listed[0] === 'none' ? [] : listed;
  const tooShort = extraKeys.find((key) => key.length < 2);
  if (tooShort !== undefined) throw new ConfigError(`PII_EXTRA_KEYS: "${tooShort}" would match almost every key name; give patterns of 2 characters or more`);
  return { secret, keyId, extraKeys };
}
