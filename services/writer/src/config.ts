import { optionalString, readInt, requireString, type Env } from '@strata/runtime';

/** The writer's whole configuration, parsed once at start-up; a bad value fails fast naming its variable. */
export interface WriterConfig {
  port: number;
  /** Only used to tie log lines to Cloud Trace; the Google clients find the project themselves. */
  projectId: string | undefined;
  lakeBucket: string;
  /** The audience configured on the push subscription (usually the writer's URL). */
  pushAudience: string;
  /** The service account the push subscription signs its OIDC tokens as. */
  pushServiceAccount: string;
  /** PEM certs keyed by kid; Google's when unset, the local OIDC emulator's in the local stack. */
  oidcCertsUrl: string | undefined;
  flushMaxRows: number;
  /**
   * A push waits up to this long for its batch, so keep it well below the push subscription's
   * ack deadline (10 s by default), or Pub/Sub redelivers messages that are still buffered.
   */
  flushMaxAgeMs: number;
  flushMaxBytes: number;
  maxBufferedRows: number;
  logLevel: string;
  /** Key for the x-pii "hash" HMAC; keep it in Secret Manager. Rotating it changes every hash. */
  piiHashSecret: string;
  /** Where published log type versions are read from; only the bundled schemas when unset. */
  schemaRegistryDatabaseUrl: string | undefined;
  /** A version published to the registry is served within this long. */
  schemaRegistryTtlMs: number;
}

const MiB = 1024 * 1024;

export function loadConfig(env: Env = process.env): WriterConfig {
  return {
    port: readInt(env, 'PORT', 8082, { min: 0, max: 65535 }),
    projectId: optionalString(env, 'GOOGLE_CLOUD_PROJECT'),
    lakeBucket: requireString(env, 'LAKE_BUCKET'),
    pushAudience: requireString(env, 'PUSH_AUDIENCE'),
    pushServiceAccount: requireString(env, 'PUSH_SERVICE_ACCOUNT'),
    oidcCertsUrl: optionalString(env, 'OIDC_CERTS_URL'),
    flushMaxRows: readInt(env, 'FLUSH_MAX_ROWS', 10_000, { min: 1 }),
    flushMaxAgeMs: readInt(env, 'FLUSH_MAX_AGE_MS', 5_000, { min: 1 }),
    flushMaxBytes: readInt(env, 'FLUSH_MAX_BYTES', 32 * MiB, { min: 1 }),
    maxBufferedRows: readInt(env, 'MAX_BUFFERED_ROWS', 100_000, { min: 1 }),
    logLevel: requireString(env, 'LOG_LEVEL', 'info'),
    piiHashSecret: requireString(env, 'PII_HASH_SECRET'),
    schemaRegistryDatabaseUrl: optionalString(env, 'SCHEMA_REGISTRY_DATABASE_URL'),
    schemaRegistryTtlMs: readInt(env, 'SCHEMA_REGISTRY_TTL_MS', 30_000, { min: 100, max: 3_600_000 }),
  };
}
