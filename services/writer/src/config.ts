import { ConfigError, optionalString, readInt, requireString, type Env } from '@strata/runtime';
import { ACK_DEADLINE_BOUNDS, ackDeadlineSecondsFor, checkAckDeadline, PUSH_DELIVERY, readEventTimeWindow, readPiiSettings, type EventTimeWindow, type PiiSettings } from '@strata/schemas';

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
  /** Rows per Parquet file at most. */
  flushMaxRows: number;
  /**
   * A push waits up to this long for its batch, so it must fit the push subscription's ack
   * deadline with room for the upload (checked against `pushAckDeadlineSeconds`).
   */
  flushMaxAgeMs: number;
  /** JSON bytes per Parquet file at most (the file itself is several times smaller). */
  flushMaxBytes: number;
  /** Flush everything once no push has arrived for this long; 0 turns it off. */
  flushQuietMs: number;
  /** Partitions (and quarantine folders) buffered at once. */
  flushMaxOpenPartitions: number;
  /** Pushes this instance may hold at once (its Cloud Run concurrency): with that many waiting, flush. */
  pushConcurrency: number;
  /**
   * JSON bytes held across all partitions, flushing included; above it pushes get 429. With uploads
   * stalled, peak RSS is about 150 MB plus 6–7× this (npm run bench -w @strata/writer: ≈ 390 MB at
   * 32 MiB); under the pipeline bench's load it peaked at about 540 MB, so give the writer 1 GiB.
   */
  maxBufferedBytes: number;
  /** The push subscription's ack deadline, as deployed (the local stack passes its own). */
  pushAckDeadlineSeconds: number;
  logLevel: string;
  /** The x-pii HMAC secret (keep it in Secret Manager) with its key id, and the key patterns for undeclared fields: the same as ingest's. */
  pii: PiiSettings;
  /** Where published log type versions are read from; only the bundled schemas when unset. */
  schemaRegistryDatabaseUrl: string | undefined;
  /** A version published to the registry is served within this long. */
  schemaRegistryTtlMs: number;
  /** How far an event's `ts` may lie from its publish time (EVENT_MAX_LATE_SECONDS, EVENT_MAX_FUTURE_SECONDS). */
  eventTimeWindow: EventTimeWindow;
}

const MiB = 1024 * 1024;

export function loadConfig(env: Env = process.env): WriterConfig {
  const flushMaxAgeMs = readInt(env, 'FLUSH_MAX_AGE_MS', PUSH_DELIVERY.flushMaxAgeMs, { min: 1, max: 60_000 });
  // The default is the deadline of a subscription made for the default flush age, so raising
  // FLUSH_MAX_AGE_MS alone is caught here rather than by redeliveries.
  const pushAckDeadlineSeconds = readInt(env, 'PUSH_ACK_DEADLINE_SECONDS', ackDeadlineSecondsFor(PUSH_DELIVERY.flushMaxAgeMs), {
    min: ACK_DEADLINE_BOUNDS.minSeconds,
    max: ACK_DEADLINE_BOUNDS.maxSeconds,
  });
  const mismatch = checkAckDeadline(flushMaxAgeMs, pushAckDeadlineSeconds);
  if (mismatch) throw new ConfigError(`FLUSH_MAX_AGE_MS and PUSH_ACK_DEADLINE_SECONDS disagree: ${mismatch}`);
  return {
    port: readInt(env, 'PORT', 8082, { min: 0, max: 65535 }),
    projectId: optionalString(env, 'GOOGLE_CLOUD_PROJECT'),
    lakeBucket: requireString(env, 'LAKE_BUCKET'),
    pushAudience: requireString(env, 'PUSH_AUDIENCE'),
    pushServiceAccount: requireString(env, 'PUSH_SERVICE_ACCOUNT'),
    oidcCertsUrl: optionalString(env, 'OIDC_CERTS_URL'),
    flushMaxRows: readInt(env, 'FLUSH_MAX_ROWS', 50_000, { min: 1 }),
    flushMaxAgeMs,
    flushMaxBytes: readInt(env, 'FLUSH_MAX_BYTES', 32 * MiB, { min: 1 }),
    flushQuietMs: readInt(env, 'FLUSH_QUIET_MS', 250, { min: 0, max: 60_000 }),
    flushMaxOpenPartitions: readInt(env, 'FLUSH_MAX_OPEN_PARTITIONS', 64, { min: 1, max: 10_000 }),
    pushConcurrency: readInt(env, 'PUSH_CONCURRENCY', PUSH_DELIVERY.writerConcurrency, { min: 1, max: 10_000 }),
    maxBufferedBytes: readInt(env, 'MAX_BUFFERED_BYTES', 32 * MiB, { min: 1 }),
    pushAckDeadlineSeconds,
    logLevel: requireString(env, 'LOG_LEVEL', 'info'),
    pii: readPiiSettings(env),
    schemaRegistryDatabaseUrl: optionalString(env, 'SCHEMA_REGISTRY_DATABASE_URL'),
    schemaRegistryTtlMs: readInt(env, 'SCHEMA_REGISTRY_TTL_MS', 30_000, { min: 100, max: 3_600_000 }),
    eventTimeWindow: readEventTimeWindow(env),
  };
}
