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
  [keyword: string]: unknown;
}

export interface LogTypeVersion {
  logType: string;
  version: number;
  schema: JsonSchema;
}
