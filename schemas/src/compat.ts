import { composeSchema } from './compose.js';
import type { JsonSchema, LogTypeVersion } from './log-type.js';

/**
 * Schema evolution rules. Events of every version of a log type land in the same lake folder and
 * the same BigQuery table, so a new version must accept everything the old one accepted and map
 * to the same columns. A version may only add optional fields, widen enums, relax limits, make a
 * required field optional, or switch unknown fields from "reject" to "keep". Everything else is a
 * breaking change and needs a new log type. The rules compare COMPOSED schemas (envelope + type
 * file), so an envelope edit is judged by the same rules as a type file edit.
 */
export interface CompatProblem {
  logType: string;
  /** Labels of the two sides compared, e.g. 'v1' and 'v2', or 'v1 (HEAD)' and 'v1 (working tree)'. */
  from: string;
  to: string;
  /** JSON pointer to the field, e.g. /price or /context/page/url ('' for the event; '*' stands for array items). */
  field: string;
  rule: string;
  message: string;
}

export interface CompareLabels {
  from?: string;
  to?: string;
}

const EVOLUTION_RULE =
  'Versions of a log type may only add optional fields, widen enums or relax limits; a breaking change needs a new log type.';

/** A breaking difference found at one field, before it is worded for a log type and two versions. */
interface Change {
  field: string;
  rule: string;
  /** Completes the sentence "<field> …", e.g. "changed type from number to string". */
  detail: string;
}

interface Sides {
  logType: string;
  from: string;
  to: string;
}

/** Raising an upper bound or lowering a lower bound is a relaxation; the reverse rejects old events. */
const UPPER_LIMITS = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties', 'maxContains'];
const LOWER_LIMITS = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties', 'minContains'];

/** Keywords that only describe (or identify the version); changing them changes nothing stored. */
const ANNOTATIONS = ['$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', 'x-log-type', 'x-version', 'x-unknown-properties'];

/** Keywords with a rule of their own below; any other keyword that changes is reported as `keyword-changed`. */
const RULED = new Set([
  ...ANNOTATIONS,
  ...UPPER_LIMITS,
  ...LOWER_LIMITS,
  'type', 'format', 'enum', 'const', 'pattern', 'x-pii', 'x-column', 'properties', 'required', 'additionalProperties', 'items',
]);

const json = (value: unknown): string => JSON.stringify(value);

/** `const` is an enum of one value; no enum means any value. */
function allowedValues(schema: JsonSchema): unknown[] | undefined {
  if ('const' in schema) return [schema.const];
  return schema.enum;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * The JSON types a field allows plus its date-time format: together they decide the column type.
 * An enum without `type` allows the types of its values (so adding `type: "string"` to a string
 * enum changes nothing).
 */
function typeLabel(schema: JsonSchema): string {
  const values = allowedValues(schema);
  const types = schema.type !== undefined ? [schema.type].flat() : values !== undefined ? values.map(jsonTypeOf) : ['any'];
  return [...new Set(types)].sort().join('|') + (schema.format === 'date-time' ? ' (date-time)' : '');
}

/** An object or array without x-column is stored as a JSON string column. */
const columnOf = (schema: JsonSchema): string => schema['x-column'] ?? 'json';

/** `additionalProperties` absent means any extra property is allowed. */
function extrasOf(schema: JsonSchema): boolean | JsonSchema {
  return schema.additionalProperties ?? true;
}

const join = (pointer: string, name: string): string => `${pointer}/${name.replaceAll('~', '~0').replaceAll('/', '~1')}`;

function typeChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  if (typeLabel(prev) !== typeLabel(next)) {
    return [{ field, rule: 'type-changed', detail: `changed type from ${typeLabel(prev)} to ${typeLabel(next)}` }];
  }
  if (columnOf(prev) !== columnOf(next)) {
    return [{ field, rule: 'type-changed', detail: `changed its column from x-column ${columnOf(prev)} to ${columnOf(next)}` }];
  }
  return [];
}

function valueChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  const changes: Change[] = [];
  if (prev['x-pii'] !== next['x-pii']) {
    changes.push({ field, rule: 'pii-changed', detail: `changed x-pii from ${prev['x-pii'] ?? 'none'} to ${next['x-pii'] ?? 'none'}, which changes what is stored` });
  }
  const before = allowedValues(prev);
  const after = allowedValues(next);
  if (after !== undefined && before === undefined) {
    changes.push({ field, rule: 'enum-narrowed', detail: `gained an enum (${json(after)}) where any value was allowed` });
  } else if (after !== undefined && before !== undefined) {
    const kept = new Set(after.map(json));
    const lost = before.map(json).filter((v) => !kept.has(v));
    if (lost.length > 0) changes.push({ field, rule: 'enum-narrowed', detail: `no longer allows ${lost.join(', ')}` });
  }
  if (next.pattern !== undefined && next.pattern !== prev.pattern) {
    changes.push({ field, rule: 'pattern-changed', detail: `changed pattern from ${prev.pattern === undefined ? 'none' : json(prev.pattern)} to ${json(next.pattern)}` });
  }
  // date-time is part of the type (it makes a timestamp column); other formats only constrain.
  if (next.format !== undefined && next.format !== prev.format && next.format !== 'date-time' && prev.format !== 'date-time') {
    changes.push({ field, rule: 'format-changed', detail: `changed format from ${prev.format ?? 'none'} to ${next.format}` });
  }
  return changes;
}

function limitChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  const changes: Change[] = [];
  const check = (keyword: string, tighter: (before: number, after: number) => boolean, verb: string) => {
    const before = prev[keyword];
    const after = next[keyword];
    if (typeof after !== 'number') return;
    if (typeof before !== 'number') {
      changes.push({ field, rule: 'limit-tightened', detail: `gained ${keyword} ${after} where there was no limit` });
    } else if (tighter(before, after)) {
      changes.push({ field, rule: 'limit-tightened', detail: `${verb} ${keyword} from ${before} to ${after}` });
    }
  };
  for (const keyword of UPPER_LIMITS) check(keyword, (before, after) => after < before, 'lowered');
  for (const keyword of LOWER_LIMITS) check(keyword, (before, after) => after > before, 'raised');
  return changes;
}

function objectChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  const changes: Change[] = [];
  const before = prev.properties ?? {};
  const after = next.properties ?? {};
  const wasRequired = new Set(prev.required ?? []);
  for (const [name, schema] of Object.entries(before)) {
    const target = after[name];
    if (target === undefined) changes.push({ field: join(field, name), rule: 'field-removed', detail: 'was removed' });
    else changes.push(...compareNode(schema, target, join(field, name)));
  }
  for (const name of next.required ?? []) {
    if (wasRequired.has(name)) continue;
    const detail = name in before ? 'became required' : 'is a new required field';
    changes.push({ field: join(field, name), rule: 'required-added', detail });
  }
  changes.push(...extrasChanges(prev, next, field));
  return changes;
}

function extrasChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  const before = extrasOf(prev);
  const after = extrasOf(next);
  if (before === false || after === true) return [];
  if (typeof before === 'object' && typeof after === 'object') return compareNode(before, after, join(field, '*'));
  const detail =
    field === '' && prev['x-unknown-properties'] !== undefined
      ? `changed x-unknown-properties from ${prev['x-unknown-properties']} to ${next['x-unknown-properties']}: unknown fields that were kept are now rejected`
      : `no longer accepts every unknown property (additionalProperties ${json(before)} → ${json(after)})`;
  return [{ field, rule: 'unknown-policy-tightened', detail }];
}

function itemChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  if (next.items === undefined) return [];
  if (prev.items === undefined) return [{ field, rule: 'type-changed', detail: 'constrained its items where any element was allowed' }];
  return compareNode(prev.items, next.items, join(field, '*'));
}

/** Keywords without a rule of their own: any change is assumed breaking rather than missed. */
function otherChanges(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  const keywords = new Set([...Object.keys(prev), ...Object.keys(next)].filter((k) => !RULED.has(k)));
  return [...keywords]
    .filter((k) => json(prev[k]) !== json(next[k]))
    .map((k) => ({ field, rule: 'keyword-changed', detail: `changed ${k} from ${json(prev[k]) ?? 'none'} to ${json(next[k]) ?? 'none'}` }));
}

function compareNode(prev: JsonSchema, next: JsonSchema, field: string): Change[] {
  // A field whose type changed is one problem; its old sub-fields are not listed one by one.
  const typed = typeChanges(prev, next, field);
  if (typed.length > 0) return typed;
  return [
    ...valueChanges(prev, next, field),
    ...limitChanges(prev, next, field),
    ...objectChanges(prev, next, field),
    ...itemChanges(prev, next, field),
    ...otherChanges(prev, next, field),
  ];
}

function toProblem(sides: Sides, change: Change): CompatProblem {
  const where = change.field === '' ? 'the event' : change.field;
  return {
    ...sides,
    field: change.field,
    rule: change.rule,
    message: `${sides.logType} ${sides.from} → ${sides.to}: ${where} ${change.detail} (${change.rule}). ${EVOLUTION_RULE}`,
  };
}

/** Compares two composed (flat) schemas of one log type; an empty list means `next` is compatible. */
export function compareSchemas(prev: JsonSchema, next: JsonSchema, sides: Sides): CompatProblem[] {
  return compareNode(prev, next, '').map((change) => toProblem(sides, change));
}

type Composed = { ok: true; schema: JsonSchema } | { ok: false; problem: CompatProblem };

/** A file that cannot be composed is a problem to report, not an exception to crash on. */
function tryCompose(envelope: JsonSchema, version: LogTypeVersion, label: string): Composed {
  try {
    return { ok: true, schema: composeSchema(envelope, version) };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    const { logType } = version;
    return {
      ok: false,
      problem: { logType, from: label, to: label, field: '', rule: 'compose-failed', message: `${logType} ${label} does not compose with the envelope: ${reason} (compose-failed).` },
    };
  }
}

function compareComposable(pairs: [Composed, Composed], sides: Sides): CompatProblem[] {
  const failed = pairs.flatMap((c) => (c.ok ? [] : [c.problem]));
  const [a, b] = pairs;
  if (!a.ok || !b.ok) return failed;
  return compareSchemas(a.schema, b.schema, sides);
}

/** Is `next` a compatible successor of `prev` (both composed with the same envelope)? */
export function compareVersions(envelope: JsonSchema, prev: LogTypeVersion, next: LogTypeVersion, labels: CompareLabels = {}): CompatProblem[] {
  const from = labels.from ?? `v${prev.version}`;
  const to = labels.to ?? `v${next.version}`;
  const sides = { logType: next.logType, from, to };
  if (prev.logType !== next.logType) {
    return [{ ...sides, field: '', rule: 'log-type-changed', message: `${prev.logType} ${from} → ${next.logType} ${to}: the log type itself changed (log-type-changed). ${EVOLUTION_RULE}` }];
  }
  return compareComposable([tryCompose(envelope, prev, from), tryCompose(envelope, next, to)], sides);
}

/** Is one version of a log type still compatible after the envelope changes from `prev` to `next`? */
export function compareEnvelopes(prev: JsonSchema, next: JsonSchema, version: LogTypeVersion, labels: CompareLabels = {}): CompatProblem[] {
  const from = labels.from ?? `v${version.version} (old envelope)`;
  const to = labels.to ?? `v${version.version} (new envelope)`;
  return compareComposable([tryCompose(prev, version, from), tryCompose(next, version, to)], { logType: version.logType, from, to });
}

function numberingProblems(logType: string, sorted: LogTypeVersion[]): CompatProblem[] {
  const problems: CompatProblem[] = [];
  const first = sorted[0];
  if (first !== undefined && first.version !== 1) {
    const to = `v${first.version}`;
    problems.push({ logType, from: 'v1', to, field: '', rule: 'version-gap', message: `${logType}: versions must start at v1, the first is ${to} (version-gap).` });
  }
  for (const [i, next] of sorted.entries()) {
    const prev = sorted[i - 1];
    if (prev === undefined || next.version === prev.version + 1) continue;
    const [from, to] = [`v${prev.version}`, `v${next.version}`];
    const rule = next.version === prev.version ? 'version-duplicate' : 'version-gap';
    const what = rule === 'version-duplicate' ? `${to} appears twice` : `v${prev.version + 1}..v${next.version - 1} missing`;
    problems.push({ logType, from, to, field: '', rule, message: `${logType} ${from} → ${to}: versions must run v1..vN without gaps; ${what} (${rule}).` });
  }
  return problems;
}

function chainProblems(envelope: JsonSchema, logType: string, versions: LogTypeVersion[]): CompatProblem[] {
  const sorted = [...versions].sort((a, b) => a.version - b.version);
  const composed = sorted.map((v) => ({ version: v.version, result: tryCompose(envelope, v, `v${v.version}`) }));
  const problems = [...numberingProblems(logType, sorted), ...composed.flatMap(({ result }) => (result.ok ? [] : [result.problem]))];
  // Each version against its predecessor; a pair with an unreadable side was reported above.
  for (const [i, { version, result: next }] of composed.entries()) {
    const prev = composed[i - 1];
    if (prev === undefined || !prev.result.ok || !next.ok || prev.version === version) continue;
    problems.push(...compareSchemas(prev.result.schema, next.schema, { logType, from: `v${prev.version}`, to: `v${version}` }));
  }
  return problems;
}

/** Every log type's versions: numbered 1..N, each composable, each compatible with its predecessor. */
export function checkHistory(envelope: JsonSchema, versions: LogTypeVersion[]): CompatProblem[] {
  const byType = new Map<string, LogTypeVersion[]>();
  for (const v of versions) byType.set(v.logType, [...(byType.get(v.logType) ?? []), v]);
  return [...byType.keys()].sort().flatMap((logType) => chainProblems(envelope, logType, byType.get(logType) ?? []));
}

/** One line per problem, for terminals and CI logs. */
export function formatProblem(p: CompatProblem): string {
  return `✗ ${p.message.replaceAll('\n', ' ')}`;
}
