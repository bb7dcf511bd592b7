import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { assetPath } from '@strata/runtime';
import type { JsonSchema, LogTypeVersion } from './log-type.js';

/**
 * Where the schema files live: `log-types/<log_type>/v<N>.json`, and the shared envelope. Through
 * assetPath, because in a deployed bundle this module's URL is the bundle's and the files are
 * copied beside it.
 */
export const logTypesDir = assetPath(import.meta.url, '../log-types/', 'schemas/log-types/');
export const envelopePath = assetPath(import.meta.url, '../envelope.json', 'schemas/envelope.json');

export function loadEnvelope(path: string = envelopePath): JsonSchema {
  return JSON.parse(readFileSync(path, 'utf8')) as JsonSchema;
}

/** Reads every bundled schema file and checks its name agrees with its `x-log-type`/`x-version`. */
export function loadBundledSchemas(dir: string = logTypesDir): LogTypeVersion[] {
  const versions: LogTypeVersion[] = [];
  for (const logType of readdirSync(dir).sort()) {
    for (const file of readdirSync(join(dir, logType)).sort()) {
      const match = /^v(\d+)\.json$/.exec(file);
      if (!match) continue;
      const path = join(dir, logType, file);
      const schema = JSON.parse(readFileSync(path, 'utf8')) as JsonSchema;
      const version = Number(match[1]);
      if (schema['x-log-type'] !== logType || schema['x-version'] !== version) {
        throw new Error(`${path}: x-log-type/x-version (${schema['x-log-type']}/${schema['x-version']}) do not match the file's place (${logType}/${version})`);
      }
      versions.push({ logType, version, schema });
    }
  }
  return versions;
}
