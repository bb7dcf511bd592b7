import { readInt, requireString, optionalString, type Env } from '@strata/runtime';
import { readEventTimeWindow, readPiiSettings, type EventTimeWindow, type PiiSettings } from '@strata/schemas';
import { loadKeys, type KeyConfig } from './keys.js';
import { defaultWorkerThreads } from './prepare-pool.js';

export interface IngestConfig {
  port: number;
  projectId: string;
  topic: string;
  /** The accepted API keys, by SHA-256, from INGEST_KEYS (JSON) or INGEST_KEYS_FILE (a mounted secret); see keys.ts. */
  keys: KeyConfig[];
  maxEventsPerRequest: number;
  maxBodyBytes: number;
  /** The most a gzip or deflate body may inflate to: a bomb gets 413 after this many bytes. */
  maxDecodedBytes: number;
  /** A request is answered (503 at worst) within this long even when Pub/Sub is slow or down. */
  publishTimeoutMs: number;
  /** Bytes waiting for Pub/Sub before new requests get 503 at once: bounds memory while it is down. */
  maxOutstandingPublishBytes: number;
  /** Body bytes waiting for the prepare workers before new requests get 503 at once (with worker threads only). */
  maxQueuedBytes: number;
  logLevel: string;
  /** The x-pii HMAC secret (keep it in Secret Manager) with its key id, and the key patterns for undeclared fields. */
  pii: PiiSettings;
  /** Where published log type versions are read from; only the bundled schemas when unset. */
  schemaRegistryDatabaseUrl: string | undefined;
  /** A version published to the registry is served within this long. */
  schemaRegistryTtlMs: number;
  /** How far an event's `ts` may lie from the receive time (EVENT_MAX_LATE_SECONDS, EVENT_MAX_FUTURE_SECONDS). */
  eventTimeWindow: EventTimeWindow;
  /** Worker threads that parse, validate and encode /v1/events bodies (INGEST_WORKER_THREADS); 0 does it on the request's thread. */
  workerThreads: number;
}

/** Parses the ingest service's whole configuration once; throws naming the bad variable. */
export function loadConfig(env: Env = process.env): IngestConfig {
  const maxBodyBytes = readInt(env, 'INGEST_MAX_BODY_BYTES', 1_048_576, { min: 1024, max: 10_485_760 });
  return {
    port: readInt(env, 'PORT', 8081, { min: 0, max: 65535 }),
    projectId: requireString(env, 'GOOGLE_CLOUD_PROJECT'),
    topic: requireString(env, 'PUBSUB_TOPIC', 'strata-events'),
    keys: loadKeys(env),
    maxEventsPerRequest: readInt(env, 'INGEST_MAX_EVENTS', 500, { min: 1, max: 10_000 }),
    maxBodyBytes,
    maxDecodedBytes: readInt(env, 'INGEST_MAX_DECODED_BYTES', 10 * 1_048_576, { min: maxBodyBytes, max: 64 * 1_048_576 }),
    publishTimeoutMs: readInt(env, 'INGEST_PUBLISH_TIMEOUT_MS', 10_000, { min: 100, max: 60_000 }),
    maxOutstandingPublishBytes: readInt(env, 'INGEST_MAX_OUTSTANDING_BYTES', 64 * 1_048_576, { min: 1_048_576 }),
    maxQueuedBytes: readInt(env, 'INGEST_MAX_QUEUED_BYTES', 64 * 1_048_576, { min: 1_048_576 }),
    logLevel: optionalString(env, 'LOG_LEVEL') ?? 'info',
    pii: readPiiSettings(env),
    schemaRegistryDatabaseUrl: optionalString(env, 'SCHEMA_REGISTRY_DATABASE_URL'),
    schemaRegistryTtlMs: readInt(env, 'SCHEMA_REGISTRY_TTL_MS', 30_000, { min: 100, max: 3_600_000 }),
    eventTimeWindow: readEventTimeWindow(env),
    workerThreads: readInt(env, 'INGEST_WORKER_THREADS', defaultWorkerThreads(), { min: 0, max: 64 }),
  };
}
