import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, isObject, optionalString, type Env } from '@strata/runtime';

/**
 * API keys as identities. A key is configured by the SHA-256 of its text, never the text itself,
 * so the configuration (an env var, a Secret Manager file, a Pulumi secret, a log of `env`) can
 * leak without letting anyone write events.
 *
 * The document is a JSON array, one object per key:
 *
 * ```json
 * [
 *   { "name": "web-shop", "sha256": "<64 hex>", "logTypes": ["user_action", "impression"],
 *     "origins": ["https://shop.example"], "rate": { "points": 2000, "durationSeconds": 1 } },
 *   { "name": "orders-service", "sha256": "<64 hex>", "logTypes": ["order_event"] }
 * ]
 * ```
 *
 * - `name` (required, unique, `[a-z0-9][a-z0-9._-]*`): who the key is; it becomes the events'
 *   `source` unless the producer set one, and it is what logs and 403/429 answers name.
 * - `sha256` (required, unique): hex SHA-256 of the key's UTF-8 text (`npm run keys:create`).
 * - `logTypes`: the log types the key may write; omitted means every log type. Not checked
 *   against the schemas here: log types can be published to the registry while ingest runs.
 * - `origins`: the web pages that may use the key (a browser key), as exact origins
 *   (`scheme://host[:port]`, no wildcards). Every key works from servers (no `Origin` header);
 *   a request from a page whose origin is not listed is refused, so a key without `origins` (a
 *   server key) is refused from every page. See authenticate.ts for why.
 * - `rate`: events per window, per ingest instance (see rate-limit.ts); defaults to
 *   {@link DEFAULT_RATE}.
 *
 * Unknown fields are refused: a typo such as `"logtype"` would otherwise silently grant every
 * log type.
 */
export interface KeyConfig {
  name: string;
  sha256: string;
  logTypes?: string[];
  origins?: string[];
  rate: KeyRate;
}

/** rate-limiter-flexible's terms: `points` events per `durationSeconds` fixed window. */
export interface KeyRate {
  points: number;
  durationSeconds: number;
}

/** What a request's key is allowed to do; `res.locals.key` once authenticated. The hash stays in the registry. */
export type Key = Readonly<Omit<KeyConfig, 'sha256'>>;

/** Per instance: ample for one site or service, small enough to blunt a leaked browser key. */
export const DEFAULT_RATE: KeyRate = { points: 1000, durationSeconds: 1 };

const FIELDS = new Set(['name', 'sha256', 'logTypes', 'origins', 'rate']);
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;

/** Hex SHA-256 of a key's text: what the configuration holds. */
export function keyDigest(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/**
 * Parses a key document. `where` names its origin (`INGEST_KEYS`, or `INGEST_KEYS_FILE (/path)`)
 * so every error says where to look, which entry and which field.
 */
export function parseKeys(json: string, where: string): KeyConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(`${where} is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new ConfigError(`${where} must be a JSON array of keys ({ "name", "sha256", ... })`);
  if (doc.length === 0) throw new ConfigError(`${where} holds no keys; every request would be refused`);
  const names = new Set<string>();
  const digests = new Map<string, string>();
  return doc.map((entry: unknown, index) => {
    const key = parseEntry(entry, `${where}[${index}]`);
    const at = `${where}[${index}] ("${key.name}")`;
    if (names.has(key.name)) throw new ConfigError(`${at}: name is used by another key; names identify keys in logs and events`);
    names.add(key.name);
    const other = digests.get(key.sha256);
    if (other !== undefined) throw new ConfigError(`${at}: sha256 is the same as key "${other}"'s; one key cannot have two identities`);
    digests.set(key.sha256, key.name);
    return key;
  });
}

function parseEntry(entry: unknown, at: string): KeyConfig {
  if (!isObject(entry)) throw new ConfigError(`${at} must be an object with "name" and "sha256"`);
  const { name, sha256, logTypes, origins, rate } = entry;
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new ConfigError(`${at}.name must be 1–64 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit; got ${JSON.stringify(name)}`);
  }
  at = `${at} ("${name}")`;
  const unknown = Object.keys(entry).filter((field) => !FIELDS.has(field));
  if (unknown.length > 0) throw new ConfigError(`${at}: unknown field ${unknown.map((f) => `"${f}"`).join(', ')}; the fields are ${[...FIELDS].join(', ')}`);
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) {
    throw new ConfigError(`${at}.sha256 must be the 64 hex digits of the key's SHA-256 (npm run keys:create prints it), never the key itself`);
  }
  const parsedLogTypes = logTypes === undefined ? undefined : parseStrings(logTypes, `${at}.logTypes`, 'log type names; omit the field to allow every log type');
  const parsedOrigins =
    origins === undefined
      ? undefined
      : parseStrings(origins, `${at}.origins`, 'origins such as "https://shop.example"; omit the field for a server key').map((origin) => {
          if (!isOrigin(origin)) {
            throw new ConfigError(`${at}.origins: "${origin}" is not an origin; write scheme://host[:port] with no path, no trailing slash and no wildcard`);
          }
          return origin;
        });
  // In the document's order, so what keys:create prints reads like the documentation.
  return {
    name,
    sha256: sha256.toLowerCase(),
    ...(parsedLogTypes !== undefined && { logTypes: parsedLogTypes }),
    ...(parsedOrigins !== undefined && { origins: parsedOrigins }),
    rate: parseRate(rate, `${at}.rate`),
  };
}

function parseStrings(value: unknown, at: string, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw new ConfigError(`${at} must be a non-empty array of ${what}`);
  }
  return [...new Set(value as string[])];
}

function parseRate(value: unknown, at: string): KeyRate {
  if (value === undefined) return { ...DEFAULT_RATE };
  if (!isObject(value)) throw new ConfigError(`${at} must be an object { "points": <events>, "durationSeconds": <window> }`);
  const unknown = Object.keys(value).filter((field) => field !== 'points' && field !== 'durationSeconds');
  if (unknown.length > 0) throw new ConfigError(`${at}: unknown field ${unknown.map((f) => `"${f}"`).join(', ')}; the fields are points, durationSeconds`);
  const { points, durationSeconds = DEFAULT_RATE.durationSeconds } = value;
  if (!Number.isSafeInteger(points) || (points as number) < 1) throw new ConfigError(`${at}.points must be an integer ≥ 1 (events per window), got ${JSON.stringify(points)}`);
  // A day bounds the window: longer ones are quotas, which a per-instance memory limiter cannot keep.
  if (!Number.isSafeInteger(durationSeconds) || (durationSeconds as number) < 1 || (durationSeconds as number) > 86_400) {
    throw new ConfigError(`${at}.durationSeconds must be an integer from 1 to 86400, got ${JSON.stringify(durationSeconds)}`);
  }
  return { points: points as number, durationSeconds: durationSeconds as number };
}

/** Exactly what a browser sends in `Origin`: `new URL(o).origin` gives it back unchanged. */
function isOrigin(value: string): boolean {
  // The URL parser takes `*` as a host character; here it could only be a hoped-for wildcard.
  if (value.includes('*')) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

/**
 * The keys from `INGEST_KEYS` (the JSON itself) or `INGEST_KEYS_FILE` (a path, e.g. a Secret
 * Manager secret mounted as a file on Cloud Run). Exactly one must be set, so it is never
 * ambiguous which document is in force.
 */
export function loadKeys(env: Env, readFile: (path: string) => string = (path) => readFileSync(path, 'utf8')): KeyConfig[] {
  const inline = optionalString(env, 'INGEST_KEYS');
  const file = optionalString(env, 'INGEST_KEYS_FILE');
  if (inline !== undefined && file !== undefined) throw new ConfigError('set INGEST_KEYS or INGEST_KEYS_FILE, not both');
  if (inline !== undefined) return parseKeys(inline, 'INGEST_KEYS');
  if (file === undefined) {
    throw new ConfigError('INGEST_KEYS or INGEST_KEYS_FILE is required: a JSON array of keys [{ "name", "sha256", ... }]; create one with npm run keys:create -w services/ingest');
  }
  let text: string;
  try {
    text = readFile(file);
  } catch (err) {
    throw new ConfigError(`INGEST_KEYS_FILE: cannot read ${file}: ${(err as Error).message}`);
  }
  return parseKeys(text, `INGEST_KEYS_FILE (${file})`);
}

export interface KeyRegistry {
  /** The key whose SHA-256 matches the presented text, or undefined. */
  lookup(presented: string): Key | undefined;
  /** Every browser key's origins: what CORS may answer for. */
  readonly origins: readonly string[];
}

/**
 * Finds the key whose SHA-256 equals the presented text's, comparing the digests with
 * crypto.timingSafeEqual against every configured key, without stopping at a match.
 *
 * Why not a Map from hex digest to key, as before: its lookup hashes the string and then compares
 * it with early exit, so its time depends on how the attacker's digest relates to the stored
 * ones. That leak is close to useless — an attacker cannot steer their digest byte by byte, and
 * the digests are not secret-equivalent (turning one back into a key needs a SHA-256 preimage of
 * 256 random bits) — but "close to useless" is an argument every reviewer has to redo, whereas a
 * constant-time comparison needs none. The cost is one 32-byte comparison per configured key
 * (tens at most) after the SHA-256 both ways pay; each request does the same comparisons whether
 * or not, and wherever, its key matches, so only the number of keys configured shows in timing.
 */
export function createKeyRegistry(keys: readonly KeyConfig[]): KeyRegistry {
  const entries = keys.map(({ sha256, ...key }) => {
    const digest = Buffer.from(sha256, 'hex');
    // parseKeys checked the 64 hex digits; timingSafeEqual throws on lengths that differ.
    if (digest.length !== 32) throw new Error(`createKeyRegistry: key "${key.name}" has no SHA-256 digest`);
    return { digest, key: Object.freeze({ ...key, rate: Object.freeze({ ...key.rate }) }) as Key };
  });
  const origins = [...new Set(keys.flatMap((key) => key.origins ?? []))];
  return {
    lookup(presented) {
      const digest = createHash('sha256').update(presented, 'utf8').digest();
      let found: Key | undefined;
      for (const entry of entries) {
        // No early return: a match found first or last, or none, costs the same comparisons.
        if (timingSafeEqual(entry.digest, digest)) found = entry.key;
      }
      return found;
    },
    origins,
  };
}

/** True when the key may write events of this log type. */
export function allowsLogType(key: Key, logType: string): boolean {
  return key.logTypes === undefined || key.logTypes.includes(logType);
}

/** The `reason` of a `forbidden_log_type` answer: names the key, the log type and what it may write. */
export function forbiddenLogTypeReason(key: Key, logType: string): string {
  return `key "${key.name}" may not write log type "${logType}"; it may write ${(key.logTypes ?? []).map((t) => `"${t}"`).join(', ')}`;
}

/** Prefix so secret scanners (GitHub, gitleaks) and people can tell a Strata key on sight. */
export const KEY_PREFIX = 'strata_';

export interface NewKey {
  /** The key's text: shown once, never stored by Strata. */
  key: string;
  /** The entry to add to the key document. */
  entry: KeyConfig;
}

/**
 * A new random key (32 bytes, base64url) and its config entry. The entry goes through
 * parseKeys, so what keys:create prints is always accepted by the service.
 */
export function createKey(options: Omit<KeyConfig, 'sha256' | 'rate'> & { rate?: KeyRate }, random: (size: number) => Buffer = randomBytes): NewKey {
  const key = KEY_PREFIX + random(32).toString('base64url');
  const entry: Record<string, unknown> = { name: options.name, sha256: keyDigest(key) };
  if (options.logTypes !== undefined) entry.logTypes = options.logTypes;
  if (options.origins !== undefined) entry.origins = options.origins;
  entry.rate = options.rate ?? DEFAULT_RATE;
  const [parsed] = parseKeys(JSON.stringify([entry]), 'the new key');
  return { key, entry: parsed! };
}
