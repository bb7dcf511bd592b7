import { EXTRA_COLUMN, RESERVED_FIELDS, unknownPolicyOf } from './compose.js';
import type { JsonSchema } from './log-type.js';

/**
 * The lake's column model, derived from the composed JSON Schema (never written by hand).
 * Each column type maps to one Arrow/Parquet type (arrow.ts) and one BigQuery type (bigquery.ts).
 *
 *   string → UTF8            integer → INT64          number → DOUBLE        boolean → BOOLEAN
 *   date-time → TIMESTAMP(µs, UTC)                    enum → dictionary-encoded UTF8
 *   object/array → a JSON string, unless `x-column: "struct"` / `"list"` asks for a nested column
 */
export type ColumnType = 'string' | 'enum' | 'int64' | 'double' | 'bool' | 'timestamp' | 'json' | 'struct' | 'list';

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
  description?: string;
  /** Dictionary values of an enum column. */
  values?: string[];
  /** Fields of a struct column. */
  fields?: Column[];
  /** Element of a list column (its name is "element"). */
  item?: Column;
}

/** Partition keys live in the object path only; a field may never shadow them. */
export const PARTITION_KEYS = ['log_type', 'dt', 'hr'] as const;

// BigQuery column names: letters, digits, underscores, not starting with a digit, ≤ 300 chars,
// and not one of its reserved prefixes. https://cloud.google.com/bigquery/docs/schemas#column_names
const BIGQUERY_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,299}$/;
const BIGQUERY_RESERVED_PREFIXES = ['_table_', '_file_', '_partition', '_row_timestamp', '__root__', '_colidentifier'];

export function checkColumnName(name: string, where: string): void {
  if (!BIGQUERY_NAME.test(name)) {
    throw new Error(`${where}: "${name}" is not a valid BigQuery column name (letters, digits and _, not starting with a digit, at most 300)`);
  }
  const lower = name.toLowerCase();
  const prefix = BIGQUERY_RESERVED_PREFIXES.find((p) => lower.startsWith(p));
  if (prefix) throw new Error(`${where}: "${name}" starts with BigQuery's reserved prefix ${prefix}`);
}

function jsonTypes(field: JsonSchema): string[] {
  if (field.enum && field.type === undefined) return ['enum'];
  return (Array.isArray(field.type) ? field.type : [field.type]).filter((t): t is string => typeof t === 'string' && t !== 'null');
}

function column(name: string, field: JsonSchema, nullable: boolean, where: string): Column {
  checkColumnName(name, where);
  const base = { name, nullable, ...(field.description ? { description: field.description } : {}) };
  const types = jsonTypes(field);
  if (field.enum && (types.length === 0 || (types.length === 1 && (types[0] === 'string' || types[0] === 'enum')))) {
    return { ...base, type: 'enum', values: field.enum.map(String) };
  }
  if (types.length !== 1) return { ...base, type: 'json' };
  switch (types[0]) {
    case 'string':
      return { ...base, type: field.format === 'date-time' ? 'timestamp' : 'string' };
    case 'integer':
      return { ...base, type: 'int64' };
    case 'number':
      return { ...base, type: 'double' };
    case 'boolean':
      return { ...base, type: 'bool' };
    case 'object':
      if (field['x-column'] !== 'struct') return { ...base, type: 'json' };
      return { ...base, type: 'struct', fields: objectColumns(field, `${where}.${name}`) };
    case 'array':
      if (field['x-column'] !== 'list') return { ...base, type: 'json' };
      if (!field.items) throw new Error(`${where}.${name}: a list column needs "items"`);
      return { ...base, type: 'list', item: column('element', field.items, true, `${where}.${name}[]`) };
    default:
      throw new Error(`${where}.${name}: unsupported JSON Schema type ${String(types[0])}`);
  }
}

function objectColumns(schema: JsonSchema, where: string): Column[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {})
    .filter(([, field]) => field['x-pii'] !== 'drop') // dropped fields are never stored
    .map(([name, field]) => column(name, field, !required.has(name), where));
}

/** Columns of one composed schema version, in property order, plus `extra` when unknown fields are kept. */
export function columnsOf(schema: JsonSchema): Column[] {
  const where = String(schema['x-log-type'] ?? schema.title ?? 'schema');
  for (const name of Object.keys(schema.properties ?? {})) {
    if ((RESERVED_FIELDS as readonly string[]).includes(name)) throw new Error(`${where}: field ${name} is a partition key or reserved column and cannot be a field`);
  }
  const columns = objectColumns(schema, where);
  const keep = schema['x-unknown-properties'] !== undefined && unknownPolicyOf(schema) === 'keep';
  if (keep) columns.push({ name: EXTRA_COLUMN, type: 'json', nullable: true, description: 'Fields the schema does not know, kept as JSON.' });
  const seen = new Set<string>();
  for (const c of columns) {
    // BigQuery column names are case-insensitive.
    const key = c.name.toLowerCase();
    if (seen.has(key)) throw new Error(`${where}: two columns named ${c.name} (BigQuery names are case-insensitive)`);
    seen.add(key);
  }
  return columns;
}

/**
 * The union of several versions' columns: every column any version has, nullable if any version
 * lets it be absent, enum values merged. The evolution rules make the latest version a superset,
 * but the union is what the BigQuery table and the writer need even for data written long ago.
 */
export function unionColumns(versions: Column[][]): Column[] {
  const merged = new Map<string, Column>();
  for (const columns of versions) {
    for (const c of columns) {
      const prev = merged.get(c.name);
      merged.set(c.name, prev ? mergeColumn(prev, c) : c);
    }
  }
  // Versions that lack a column leave it absent (null) in their rows; `extra` stays last.
  return [...merged.values()]
    .map((c) => (versions.every((cols) => cols.some((x) => x.name === c.name)) ? c : { ...c, nullable: true }))
    .sort((a, b) => Number(a.name === EXTRA_COLUMN) - Number(b.name === EXTRA_COLUMN));
}

function mergeColumn(a: Column, b: Column): Column {
  if (a.type !== b.type) throw new Error(`column ${a.name} is ${a.type} in one version and ${b.type} in another`);
  const merged: Column = { ...a, ...b, nullable: a.nullable || b.nullable };
  if (a.values || b.values) merged.values = [...new Set([...(a.values ?? []), ...(b.values ?? [])])];
  if (a.fields || b.fields) merged.fields = unionColumns([a.fields ?? [], b.fields ?? []]);
  if (a.item && b.item) merged.item = mergeColumn(a.item, b.item);
  return merged;
}
