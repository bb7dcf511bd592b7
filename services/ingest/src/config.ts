import { readInt, readList, requireString, optionalString, ConfigError, type Env } from '@strata/runtime';

export interface IngestConfig {
  port: number;
  projectId: string;
  topic: string;
  apiKeys: string[];
  maxEventsPerRequest: number;
  maxBodyBytes: number;
  logLevel: string;
  /** Key for the x-pii "hash" HMAC; keep it in Secret Manager. Rotating it changes every hash. */
  piiHashSecret: string;
  /** Where published log type versions are read from; only the bundled schemas when unset. */
  schemaRegistryDatabaseUrl: string | undefined;
  /** A version published to the registry is served within this long. */
  schemaRegistryTtlMs: number;
}

/** Parses the ingest service's whole configuration once; throws naming the bad variable. */
export function loadConfig(env: Env = process.env): IngestConfig {
  const apiKeys = readList(env, 'INGEST_API_KEYS');
  if (apiKeys.length === 0) throw new ConfigError('INGEST_API_KEYS is required: a comma-separated list of accepted API keys');
  return {
    port: readInt(env, 'PORT', 8081, { min: 0, max: 65535 }),
    projectId: requireString(env, 'GOOGLE_CLOUD_PROJECT'),
    topic: requireString(env, 'PUBSUB_TOPIC', 'strata-events'),
    apiKeys,
    maxEventsPerRequest: readInt(env, 'INGEST_MAX_EVENTS', 500, { min: 1, max: 10_000 }),
    maxBodyBytes: readInt(env, 'INGEST_MAX_BODY_BYTES', 1_048_576, { min: 1024, max: 10_485_760 }),
    logLevel: optionalString(env, 'LOG_LEVEL') ?? 'info',
    piiHashSecret: requireString(env, 'PII_HASH_SECRET'),
    schemaRegistryDatabaseUrl: optionalString(env, 'SCHEMA_REGISTRY_DATABASE_URL'),
    schemaRegistryTtlMs: readInt(env, 'SCHEMA_REGISTRY_TTL_MS', 30_000, { min: 100, max: 3_600_000 }),
  };
}
