import type { Column } from './columns.js';

/**
 * The BigQuery table schema (the JSON `bq mk --schema` and the tables API take) of a log type's
 * external table over the lake, from the union of its versions' columns. Partition keys (dt, hr)
 * are not listed: BigQuery's hive partitioning adds them from the path.
 * Lists map to REPEATED fields, which needs the external table's Parquet option
 * `enableListInference: true`; JSON columns are STRING (the files hold JSON text).
 * https://cloud.google.com/bigquery/docs/external-data-cloud-storage
 */
export interface BigQueryField {
  name: string;
  type: 'STRING' | 'INT64' | 'FLOAT64' | 'BOOL' | 'TIMESTAMP' | 'RECORD';
  mode: 'NULLABLE' | 'REQUIRED' | 'REPEATED';
  description?: string;
  fields?: BigQueryField[];
}

const scalar: Record<Exclude<Column['type'], 'struct' | 'list'>, BigQueryField['type']> = {
  string: 'STRING',
  enum: 'STRING',
  json: 'STRING',
  int64: 'INT64',
  double: 'FLOAT64',
  bool: 'BOOL',
  timestamp: 'TIMESTAMP',
};

function field(column: Column): BigQueryField {
  const description = column.description ? { description: column.description } : {};
  if (column.type === 'list') {
    // BigQuery has no nullable arrays: an absent list reads as empty.
    const { type, fields } = field(column.item!);
    return { name: column.name, type, mode: 'REPEATED', ...description, ...(fields ? { fields } : {}) };
  }
  const mode = column.nullable ? 'NULLABLE' : 'REQUIRED';
  if (column.type === 'struct') return { name: column.name, type: 'RECORD', mode, ...description, fields: (column.fields ?? []).map(field) };
  return { name: column.name, type: scalar[column.type], mode, ...description };
}

export function bigQuerySchema(columns: Column[]): BigQueryField[] {
  return columns.map(field);
}
