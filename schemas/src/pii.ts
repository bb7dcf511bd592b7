import { isObject, setOwn } from '@strata/runtime';
import type { JsonSchema } from './log-type.js';
import { HASHED_LENGTH, type PiiHasher, type PiiPolicy } from './pii-key.js';

/**
 * PII declared in the schema (`x-pii` on a field) and applied by one function to every copy
 * Strata stores (lake rows, quarantine and dead-letter records):
 *   hash   → keyed HMAC-SHA256 with its key id (pii-key.ts), so a hashed id still joins across
 *            tables but cannot be reversed without the secret (a plain SHA-256 of an email is
 *            reversible by guessing);
 *   redact → the value is replaced by "[redacted]" (the field's presence is kept);
 *   drop   → the field is removed and has no column.
 * Fields the schema does not declare (kept unknown fields, free-form JSON, whatever an invalid
 * event holds) are protected by key name instead: a key matching one of the policy's patterns has
 * its string hashed, or any other value redacted.
 *
 * Hashing is not idempotent (a value that looks hashed is hashed again), so it must run exactly
 * once per copy. Ingest protects what it publishes and marks the message with the key id it used
 * (attribute `pii_protected`, batch-message.ts); the writer protects every message without the
 * mark. Ingest builds every attribute itself, so a producer sending through ingest cannot set the
 * mark; a direct publisher can, which is why publishing to the topic is a trust boundary: only
 * services granted Pub/Sub publish permission may (README, "PII").
 */
export type PiiAction = 'hash' | 'redact' | 'drop';

export interface PiiRule {
  /** Property names from the event root to the field. */
  path: string[];
  action: PiiAction;
}

export const REDACTED = '[redacted]';

/** What protecting one log type version needs: its declared rules, and what its schema declares. */
export interface PiiPlan {
  rules: PiiRule[];
  declared: Declared;
}

/** A schema node as the key walk needs it, computed once per version. */
interface Declared {
  fields: Map<string, Declared> | undefined;
  items: Declared | undefined;
  /** A valid value here can hold no undeclared key (scalars, closed objects): the walk skips it. */
  closed: boolean;
}

const SCALARS = new Set(['string', 'number', 'integer', 'boolean', 'null']);

function declaredOf(schema: JsonSchema): Declared {
  const fields = schema.properties ? new Map(Object.entries(schema.properties).map(([name, field]) => [name, declaredOf(field)])) : undefined;
  const items = schema.items ? declaredOf(schema.items) : undefined;
  const types = schema.type === undefined ? [] : [schema.type].flat();
  const closed =
    types.length > 0 &&
    types.every((type) =>
      SCALARS.has(type) ||
      // patternProperties admit keys the walk does not know: not closed.
      (type === 'object' && schema.additionalProperties === false && schema.patternProperties === undefined && [...(fields?.values() ?? [])].every((f) => f.closed)) ||
      (type === 'array' && items !== undefined && items.closed),
    );
  return { fields, items, closed };
}

export function piiPlanOf(schema: JsonSchema): PiiPlan {
  return { rules: piiRulesOf(schema), declared: declaredOf(schema) };
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

/**
 * A valid event of the plan's version, protected for the lake: a copy (the input is not modified;
 * unchanged parts are shared). Validity lets the walk skip every part the schema closes.
 */
export function protectPii(event: Record<string, unknown>, plan: PiiPlan, policy: PiiPolicy): Record<string, unknown> {
  return protectUndeclared(applyRules(event, plan.rules, policy), plan.declared, policy, true) as Record<string, unknown>;
}

/**
 * Anything else Strata stores (quarantine and dead-letter records), valid or not: each declared
 * rule applied to the fields present, and a declared field of the wrong type redacted rather than
 * kept, so an invalid event leaks nothing either. `plan` is the event's log type version, or
 * undefined when there is none (an unknown log type): then nothing is declared and the key
 * patterns apply everywhere. A value that is not JSON structure (a line's text, raw bytes) has no
 * keys to check and is returned as it is.
 */
export function protectStored(value: unknown, plan: PiiPlan | undefined, policy: PiiPolicy): unknown {
  const ruled = isObject(value) && plan ? applyRules(value, plan.rules, policy) : value;
  return protectUndeclared(ruled, plan?.declared, policy, false);
}

// `"key": value` as JSON writes it (a string or a bare scalar), and `key=value` as a query string
// or form body does. Linear: no nested quantifier can backtrack on hostile text.
const JSON_PAIR = /"((?:[^"\\\n]|\\.){1,256})"(\s*:\s*)("(?:[^"\\\n]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false)/g;
const FORM_PAIR = /(^|[?&;\s])([A-Za-z0-9_.-]{1,256})=([^&;\s]*)/g;

/**
 * Text that is not JSON an event can be read from (a line that failed to parse, a payload that is
 * not a batch) still shows its keys: `{"customer_email":"a@b.c",}` is one comma short of JSON.
 * Every `"key": value` and `key=value` pair whose key a rule names as PII (the last part of its
 * path: hash, or redact for redact and drop) or that a key pattern matches has its value hashed
 * (strings) or redacted. What no pair shows, no rule can find.
 */
export function protectText(text: string, plan: PiiPlan | undefined, policy: PiiPolicy): string {
  const ruled = new Map<string, PiiAction>((plan?.rules ?? []).map((rule) => [rule.path.at(-1)!, rule.action]));
  const actionFor = (key: string): PiiAction | undefined => ruled.get(key) ?? (namesPii(key, policy.extraKeys) ? 'hash' : undefined);
  return text
    .replace(JSON_PAIR, (whole, key: string, colon: string, value: string) => {
      const action = actionFor(key);
      if (action === undefined) return whole;
      // A number or boolean cannot be hashed into its own type: redacted, as protectStored does.
      const replaced = action === 'hash' && value.startsWith('"') ? policy.hash(jsonString(value)) : REDACTED;
      return `"${key}"${colon}${JSON.stringify(replaced)}`;
    })
    .replace(FORM_PAIR, (whole, lead: string, key: string, value: string) => {
      const action = actionFor(decodeURIComponentSafe(key));
      if (action === undefined) return whole;
      return `${lead}${key}=${encodeURIComponent(action === 'hash' ? policy.hash(decodeURIComponentSafe(value)) : REDACTED)}`;
    });
}

/** The string a JSON string literal holds, or its raw inside when it is not a valid literal. */
function jsonString(literal: string): string {
  try {
    return JSON.parse(literal) as string;
  } catch {
    return literal.slice(1, -1);
  }
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, ' '));
  } catch {
    return text;
  }
}

function applyRules(event: Record<string, unknown>, rules: PiiRule[], { hash }: PiiPolicy): Record<string, unknown> {
  let out = event;
  for (const rule of rules) out = applyRule(out, rule, 0, hash);
  return out;
}

const DROP = Symbol('drop');

/** One rule, copying only the objects on the way to a field it changes (most events lack most fields). */
function applyRule(obj: Record<string, unknown>, rule: PiiRule, depth: number, hash: PiiHasher): Record<string, unknown> {
  const key = rule.path[depth]!;
  if (!Object.hasOwn(obj, key)) return obj;
  const value = obj[key];
  let next: unknown;
  if (depth === rule.path.length - 1) {
    next = rule.action === 'drop' ? DROP : rule.action === 'hash' && typeof value === 'string' ? hash(value) : REDACTED;
  } else if (isObject(value)) {
    next = applyRule(value, rule, depth + 1, hash);
  } else {
    // Only an invalid event has something else here (a string, an array): it may hold the field.
    next = value === null ? null : REDACTED;
  }
  if (next === value) return obj;
  const copy = { ...obj };
  if (next === DROP) delete copy[key];
  else copy[key] = next;
  return copy;
}

/** A value under a key that names PII: a string is hashed (it may be an id to join on), anything else redacted. */
function protectByKey(value: unknown, { hash }: PiiPolicy): unknown {
  if (typeof value === 'string') return hash(value);
  return value === null ? null : REDACTED;
}

const isUpper = (c: number) => c >= 65 && c <= 90;
const isLower = (c: number) => c >= 97 && c <= 122;
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * The words of a key name, lower case: split at anything not a letter or digit, where a lower
 * case letter or digit meets a capital (`clientIp`), and where a run of capitals meets a
 * capitalised word (`IPAddress` → ip, address; `IPv4` stays one word). One pass: key names come
 * from producers, and a rejected event's keys have no length limit (a regular expression with
 * backtracking took seconds on a 64,000-capital key).
 */
function wordsOf(name: string): string[] {
  const words: string[] = [];
  let start = -1;
  const close = (end: number) => {
    if (start >= 0) words.push(name.slice(start, end).toLowerCase());
    start = -1;
  };
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!isUpper(c) && !isLower(c) && !isDigit(c)) {
      close(i);
      continue;
    }
    if (start >= 0 && isUpper(c)) {
      const prev = name.charCodeAt(i - 1);
      const acronymEnds = isUpper(prev) && isLower(name.charCodeAt(i + 1)) && isLower(name.charCodeAt(i + 2));
      if (!isUpper(prev) || acronymEnds) close(i);
    }
    if (start < 0) start = i;
  }
  close(name.length);
  return words;
}

// Patterns this short catch too much as a word's prefix or suffix (`ip` in `trip`, `zip`, `vip`,
// `membership`): they match a whole word, or the word and a version (`ipv4`, `ip6`).
const SHORT_PATTERN = 3;
const VERSION = /^v?\d+$/;

function wordMatches(word: string, pattern: string): boolean {
  if (pattern.length <= SHORT_PATTERN) return word === pattern || (word.startsWith(pattern) && VERSION.test(word.slice(pattern.length)));
  return word.startsWith(pattern) || word.endsWith(pattern);
}

/** True when a pattern (DEFAULT_PII_EXTRA_KEYS says how they match) names this key as PII. */
export function keyNamesPii(key: string, patterns: readonly string[]): boolean {
  const words = wordsOf(key);
  return patterns.some((pattern) => {
    const wanted = wordsOf(pattern);
    if (wanted.length === 1) return words.some((word) => wordMatches(word, wanted[0]!));
    // Several words: the same words in a row.
    return words.some((_, at) => wanted.every((word, i) => words[at + i] === word));
  });
}

// Key names repeat across events: remember each verdict (per pattern list, bounded; long keys,
// which only hostile or broken producers send, are not worth a cache slot).
const verdicts = new WeakMap<readonly string[], Map<string, boolean>>();
const MAX_REMEMBERED_KEYS = 10_000;
const MAX_REMEMBERED_KEY_LENGTH = 256;

const namesPii = (key: string, patterns: readonly string[]): boolean => {
  if (patterns.length === 0) return false;
  let known = verdicts.get(patterns);
  if (!known) verdicts.set(patterns, (known = new Map()));
  let verdict = known.get(key);
  if (verdict === undefined) {
    verdict = keyNamesPii(key, patterns);
    if (key.length > MAX_REMEMBERED_KEY_LENGTH) return verdict;
    if (known.size >= MAX_REMEMBERED_KEYS) known.clear();
    known.set(key, verdict);
  }
  return verdict;
};

/**
 * Walks the value beside what its schema declares: a declared field is left to its rules (and
 * walked for what it does not declare below it); an undeclared key is checked against the
 * patterns. Recursive: valid events are at most 8 levels deep (shape.ts) and stored values at most
 * 1,000 (storable).
 */
function protectUndeclared(value: unknown, declared: Declared | undefined, policy: PiiPolicy, valid: boolean): unknown {
  if (valid && declared?.closed) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const next = protectUndeclared(value[i], declared?.items, policy, valid);
      if (next !== value[i]) (copy ??= value.slice())[i] = next;
    }
    return copy ?? value;
  }
  if (!isObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key in value) {
    const field = declared?.fields?.get(key);
    const before = value[key];
    const after = field
      ? protectUndeclared(before, field, policy, valid)
      : namesPii(key, policy.extraKeys)
        ? protectByKey(before, policy)
        : protectUndeclared(before, undefined, policy, valid);
    // Spread keeps a "__proto__" key an own field; setOwn does the same for the write.
    if (after !== before) setOwn((copy ??= { ...value }), key, after);
  }
  return copy ?? value;
}
