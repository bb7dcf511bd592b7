import type { Storage } from '@google-cloud/storage';
import { createOidcVerifier, type Logger } from '@strata/runtime';
import { createPiiHasher, type Registry } from '@strata/schemas';
import { openRegistrySource, type RegistrySource } from '@strata/schemas/postgres';
import type { Express } from 'express';
import { createApp } from './app.js';
import type { WriterConfig } from './config.js';
import { createGcsLakeStore } from './lake-store.js';
import { createLakeWriter, type LakeWriter } from './lake-writer.js';

export interface WriterService {
  app: Express;
  writer: LakeWriter;
  /** Close it on shutdown, after the last flush: it ends the registry's database pool. */
  registry: RegistrySource;
}

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

/** Wires the writer once from its config and clients; shared by the Cloud Run server and the function entry. */
export function buildWriterService(config: WriterConfig, clients: { storage: Storage; logger: Logger }): WriterService {
  const { storage, logger } = clients;
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
      maxBufferedRows: config.maxBufferedRows,
    },
  });
  const verifier = createOidcVerifier({
    audience: config.pushAudience,
    serviceAccountEmail: config.pushServiceAccount,
    certsUrl: config.oidcCertsUrl,
  });
  const app = createApp({ verifier, registry, writer, hash: createPiiHasher(config.piiHashSecret), logger, projectId: config.projectId });
  return { app, writer, registry: source };
}
