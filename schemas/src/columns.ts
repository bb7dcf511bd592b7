import type { JsonSchema } from './log-type.js';

/** The lake's column types; each maps to one Arrow/Parquet type (see arrow.ts). */
export type ColumnType = 'string' | 'int64' | 'double' | 'bool' | 'timestamp' | 'json';

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
}

/** Partition keys live in the object path only; a field may never shadow them. */
export const PARTITION_KEYS = ['log_type', 'dt', 'hr'] as const;

function columnType(name: string, field: JsonSchema): ColumnType {
  const types = (Array.isArray(field.type) ? field.type : [field.type]).filter((t) => t !== 'null');
  if (types.length !== 1) return 'json';
  switch (types[0]) {
    case 'string':
      return field.format === 'date-time' ? 'timestamp' : 'string';
    case 'integer':
      return 'int64';
    case 'number':
      return 'double';
    case 'boolean':
      return 'bool';
    case 'object':
    case 'array':
      return 'json';
    default:
      throw new Error(`field ${name}: unsupported JSON Schema type ${String(types[0])}`);
  }
}

/** Columns for one schema version, in the schema's property order. */
export function columnsOf(schema: JsonSchema): Column[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, field]) => {
    if ((PARTITION_KEYS as readonly string[]).includes(name)) {
      throw new Error(`field ${name} is a partition key and cannot be a column`);
    }
    return { name, type: columnType(name, field), nullable: !required.has(name) };
  });
}
