/** A JSON Schema document describing one version of one log type. */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  'x-log-type'?: string;
  'x-version'?: number;
  /** Top level only: what happens to fields the schema does not know (see compose.ts). */
  'x-unknown-properties'?: 'reject' | 'keep';
  /** How a field is protected before storage: HMAC-SHA256 hashed, replaced, or removed. */
  'x-pii'?: 'hash' | 'redact' | 'drop';
  /** Store an object as a struct (or an array as a list) instead of a JSON string column. */
  'x-column'?: 'struct' | 'list' | 'json';
  [keyword: string]: unknown;
}

export interface LogTypeVersion {
  logType: string;
  version: number;
  schema: JsonSchema;
}
