import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { columnsOf, type Column } from './columns.js';
import type { LogTypeVersion } from './log-type.js';

// ajv-formats is CommonJS; under nodenext its default import is the module object.
const addFormats = addFormatsModule.default as unknown as typeof addFormatsModule.default.default;

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
  latestVersion(logType: string): number | undefined;
  /** Validates against the given version, or the latest when none is given. */
  validate(logType: string, version: number | undefined, event: unknown): ValidationResult;
  /** The Arrow/Parquet columns of a log type (its latest version). */
  columns(logType: string): Column[];
}

function describe(error: ErrorObject): FieldError {
  if (error.keyword === 'additionalProperty' || error.keyword === 'additionalProperties') {
    const extra = (error.params as { additionalProperty: string }).additionalProperty;
    return { path: `${error.instancePath}/${extra}`, message: 'is not a known field' };
  }
  if (error.keyword === 'required') {
    const missing = (error.params as { missingProperty: string }).missingProperty;
    return { path: `${error.instancePath}/${missing}`, message: 'is required' };
  }
  return { path: error.instancePath, message: error.message ?? error.keyword };
}

interface Compiled {
  version: number;
  validate: ValidateFunction;
  columns: Column[];
}

/** Compiles every version once; validation is then a lookup and a call. */
export function createRegistry(versions: LogTypeVersion[]): Registry {
  const ajv = new Ajv2020({ allErrors: true, strict: true, keywords: ['x-log-type', 'x-version'] });
  addFormats(ajv, ['date-time']);
  const byType = new Map<string, Compiled[]>();
  for (const { logType, version, schema } of versions) {
    const list = byType.get(logType) ?? [];
    list.push({ version, validate: ajv.compile(schema), columns: columnsOf(schema) });
    byType.set(logType, list.sort((a, b) => a.version - b.version));
  }

  const find = (logType: string, version?: number) => {
    const list = byType.get(logType);
    if (!list) return undefined;
    return version === undefined ? list.at(-1) : list.find((c) => c.version === version);
  };

  return {
    logTypes: () => [...byType.keys()].sort(),
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
      if (compiled.validate(event)) {
        return { ok: true, logType, version: compiled.version, event: event as Record<string, unknown> };
      }
      return { ok: false, errors: (compiled.validate.errors ?? []).map(describe) };
    },
    columns(logType) {
      const compiled = find(logType);
      if (!compiled) throw new Error(`unknown log type ${logType}`);
      return compiled.columns;
    },
  };
}
