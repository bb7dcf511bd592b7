import { Storage } from '@google-cloud/storage';
import { createOidcVerifier, type Logger } from '@strata/runtime';
import { createPiiHasher, PUSH_DELIVERY, type Registry } from '@strata/schemas';
import { openRegistrySource, type RegistrySource } from '@strata/schemas/postgres';
import type { Express } from 'express';
import { createApp } from './app.js';
import type { WriterConfig } from './config.js';
import { createGcsLakeStore } from './lake-store.js';
import { createLakeWriter, type LakeWriter } from './lake-writer.js';

export interface WriterWiring {
  app: Express;
  writer: LakeWriter;
  /** Close it on shutdown, after the last flush: it ends the registry's database pool. */
  registry: RegistrySource;
  /** From now on the app refuses new pushes (503), so Pub/Sub keeps them for another instance. */
  beginStopping(): void;
}

/** Of the flush budget, what encoding a full file may take (a 50,000-row file encodes in about 0.6 s). */
const ENCODE_ALLOWANCE_MS = 2_000;

/**
 * The lake writer looks a log type's columns up synchronously when it flushes. Every row it holds
 * was admitted by a push that resolved the registry first, so the registry last resolved knows
 * that log type, with columns at least as wide as the version the row was validated against
 * (versions only ever add columns).
 */
function trackLatest(source: RegistrySource): { current(): Promise<Registry>; columns: Registry['columns'] } {
  let latest: Registry | undefined;
  return {
    current: async () => (latest = await source.current()),
    columns(logType) {
      if (!latest) throw new Error(`columns of ${logType} asked before any registry was resolved`);
      return latest.columns(logType);
    },
  };
}

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireWriter(config: WriterConfig, logger: Logger): WriterWiring {
  // Finds the project itself and honours STORAGE_EMULATOR_HOST, so the local stack needs no branch here.
  // Uploads, retries included, must end within the flush budget the push ack deadline allows for,
  // or Pub/Sub redelivers messages whose rows are still being written.
  const uploadMs = PUSH_DELIVERY.flushBudgetMs - ENCODE_ALLOWANCE_MS;
  const storage = new Storage({ timeout: uploadMs / 2, retryOptions: { autoRetry: true, maxRetries: 3, totalTimeout: uploadMs / 1000 } });
  const source = openRegistrySource({ databaseUrl: config.schemaRegistryDatabaseUrl, ttlMs: config.schemaRegistryTtlMs, logger });
  const registry = trackLatest(source);
  const writer = createLakeWriter({
    store: createGcsLakeStore(storage.bucket(config.lakeBucket)),
    registry,
    logger,
    limits: {
      maxRows: config.flushMaxRows,
      maxBytes: config.flushMaxBytes,
      maxAgeMs: config.flushMaxAgeMs,
      quietMs: config.flushQuietMs,
      maxOpenBatches: config.flushMaxOpenPartitions,
      maxWaiting: config.pushConcurrency,
      maxBufferedBytes: config.maxBufferedBytes,
    },
  });
  const verifier = createOidcVerifier({
    audience: config.pushAudience,
    serviceAccountEmail: config.pushServiceAccount,
    certsUrl: config.oidcCertsUrl,
  });
  let stopping = false;
  const app = createApp({
    verifier,
    registry,
    writer,
    hash: createPiiHasher(config.pii.secret, config.pii.keyId),
    piiExtraKeys: config.pii.extraKeys,
    logger,
    projectId: config.projectId,
    window: config.eventTimeWindow,
    stopping: () => stopping,
  });
  return { app, writer, registry: source, beginStopping: () => (stopping = true) };
}
