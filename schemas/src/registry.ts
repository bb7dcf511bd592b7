import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { loadEnvelope } from './bundled.js';
import { columnsOf, unionColumns, type Column } from './columns.js';
import { composeSchema } from './compose.js';
import type { JsonSchema, LogTypeVersion } from './log-type.js';
import { piiPlanOf, type PiiPlan } from './pii.js';
import { checkShape, DEFAULT_SHAPE_LIMITS } from './shape.js';
import { isTimestamp } from './timestamps.js';


export interface FieldError {
  /** JSON pointer into the event, '' for the event itself. */
  path: string;
  message: string;
}

export type ValidationResult =
  | { ok: true; logType: string; version: number; event: Record<string, unknown> }
  | { ok: false; errors: FieldError[] };

export interface Registry {
  logTypes(): string[];
  versions(logType: string): number[];
  latestVersion(logType: string): number | undefined;
  /** Validates against the given version, or the latest when none is given. */
  validate(logType: string, version: number | undefined, event: unknown): ValidationResult;
  /** The lake columns of a log type: the union over all its versions. */
  columns(logType: string): Column[];
  /** The composed (envelope + own fields) JSON Schema of one version. */
  schema(logType: string, version?: number): JsonSchema;
  /**
   * How a version's events are protected before storage: the version named, else the latest (an
   * invalid event may name one that does not exist); undefined for an unknown log type.
   */
  pii(logType: string, version?: number): PiiPlan | undefined;
}

function describe(error: ErrorObject): FieldError {
  if (error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return { path: `${error.instancePath}/${extra}`, message: 'is not a known field' };
  }
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return { path: `${error.instancePath}/${missing}`, message: 'is required' };
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params as { allowedValues: unknown[] }).allowedValues;
    return { path: error.instancePath, message: `must be one of ${allowed.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  return { path: error.instancePath, message: error.message ?? error.keyword };
}

interface Compiled {
  version: number;
  schema: JsonSchema;
  /** Stops at the first error: the hot path, since almost every event is valid. */
  isValid: ValidateFunction;
  /**
   * Collects every error, run only for an invalid event so its producer sees all problems at once.
   * Compiled on first use: most versions never see an invalid event, and start-up compiles them all.
   */
  explain: () => ValidateFunction;
  pii: PiiPlan;
}

/** Strata's own annotation keywords, which ajv's strict mode must know about. */
const ANNOTATIONS = ['x-log-type', 'x-version', 'x-unknown-properties', 'x-pii', 'x-column'];

/**
 * Composes every version with the envelope and compiles it once; validation is then a lookup and
 * a call. A schema that does not compile or map to columns throws here, at start-up.
 */
export function createRegistry(versions: LogTypeVersion[], envelope: JsonSchema = loadEnvelope()): Registry {
  const makeAjv = (allErrors: boolean) => {
    // unicodeRegExp off: our patterns are ASCII, and non-unicode regexps are markedly faster.
    const ajv = new Ajv2020({ allErrors, strict: true, keywords: ANNOTATIONS, unicodeRegExp: false });
    // date-time means what the lake can store as µs UTC (RFC 3339 with a colon offset), so an event
    // ingest accepts can never fail the writer's conversion later.
    ajv.addFormat('date-time', { type: 'string', validate: isTimestamp });
    return ajv;
  };
  const fast = makeAjv(false);
  const full = makeAjv(true);
  const byType = new Map<string, Compiled[]>();
  const columnsByType = new Map<string, Column[]>();
  for (const v of versions) {
    const schema = composeSchema(envelope, v);
    const list = byType.get(v.logType) ?? [];
    if (list.some((c) => c.version === v.version)) throw new Error(`${v.logType} v${v.version} is defined twice`);
    let explain: ValidateFunction | undefined;
    list.push({ version: v.version, schema, isValid: fast.compile(schema), explain: () => (explain ??= full.compile(schema)), pii: piiPlanOf(schema) });
    byType.set(v.logType, list.sort((a, b) => a.version - b.version));
  }
  for (const [logType, list] of byType) columnsByType.set(logType, unionColumns(list.map((c) => columnsOf(c.schema))));

  const find = (logType: string, version?: number) => {
    const list = byType.get(logType);
    if (!list) return undefined;
    return version === undefined ? list.at(-1) : list.find((c) => c.version === version);
  };
  const get = (logType: string, version?: number) => {
    const compiled = find(logType, version);
    if (!compiled) throw new Error(`unknown log type ${logType}${version === undefined ? '' : ` v${version}`}`);
    return compiled;
  };

  return {
    logTypes: () => [...byType.keys()].sort(),
    versions: (logType) => (byType.get(logType) ?? []).map((c) => c.version),
    latestVersion: (logType) => byType.get(logType)?.at(-1)?.version,
    validate(logType, version, event) {
      const compiled = find(logType, version);
      if (!compiled) {
        const known = byType.get(logType);
        return {
          ok: false,
          errors: [
            known
              ? { path: '/schema_version', message: `unknown version ${version} of log type ${logType} (known: ${known.map((c) => c.version).join(', ')})` }
              : { path: '/log_type', message: `unknown log type "${logType}" (known: ${[...byType.keys()].join(', ')})` },
          ],
        };
      }
      // Bound the cost of free-form parts (kept unknown fields, JSON columns) before ajv walks them.
      const shape = checkShape(event, DEFAULT_SHAPE_LIMITS);
      if (shape) return { ok: false, errors: [shape] };
      if (compiled.isValid(event)) {
        return { ok: true, logType, version: compiled.version, event: event as Record<string, unknown> };
      }
      const explain = compiled.explain();
      explain(event);
      return { ok: false, errors: (explain.errors ?? []).map(describe) };
    },
    columns(logType) {
      const columns = columnsByType.get(logType);
      if (!columns) throw new Error(`unknown log type ${logType}`);
      return columns;
    },
    schema: (logType, version) => get(logType, version).schema,
    pii: (logType, version) => (find(logType, version) ?? find(logType))?.pii,
  };
}
