import { workerData } from 'node:worker_threads';
import { createLogger } from '@strata/runtime';
import { openRegistrySource } from '@strata/schemas/postgres';
import { preparerFor, type BatchInput, type BatchOutcome } from './prepare-batch.js';
import type { PrepareWorkerSettings } from './prepare-pool.js';

/** A prepare-pool.ts worker: prepareBatch with this thread's own registry source, hasher and ids. */
const settings = workerData as PrepareWorkerSettings;
const logger = createLogger({ service: 'ingest', level: settings.logLevel });
const registry = openRegistrySource({ databaseUrl: settings.schemaRegistryDatabaseUrl, ttlMs: settings.schemaRegistryTtlMs, logger });
const prepare = preparerFor(settings, registry);

export default function prepareInWorker(input: BatchInput): Promise<BatchOutcome> {
  return prepare(input);
}
