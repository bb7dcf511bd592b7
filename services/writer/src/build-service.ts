import type { Storage } from '@google-cloud/storage';
import { createOidcVerifier, type Logger } from '@strata/runtime';
import { createRegistry, loadBundledSchemas } from '@strata/schemas';
import type { Express } from 'express';
import { createApp } from './app.js';
import type { WriterConfig } from './config.js';
import { createGcsLakeStore } from './lake-store.js';
import { createLakeWriter, type LakeWriter } from './lake-writer.js';

export interface WriterService {
  app: Express;
  writer: LakeWriter;
}

/** Wires the writer once from its config and clients; shared by the Cloud Run server and the function entry. */
export function buildWriterService(config: WriterConfig, clients: { storage: Storage; logger: Logger }): WriterService {
  const { storage, logger } = clients;
  const registry = createRegistry(loadBundledSchemas());
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
  const app = createApp({ verifier, registry, writer, logger, projectId: config.projectId });
  return { app, writer };
}
