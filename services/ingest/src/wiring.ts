import { PubSub, type Topic } from '@google-cloud/pubsub';
import { createUlidFactory, type Logger } from '@strata/runtime';
import { createPiiHasher } from '@strata/schemas';
import { openRegistrySource, type RegistrySource } from '@strata/schemas/postgres';
import type { Express } from 'express';
import { createApp } from './app.js';
import type { IngestConfig } from './config.js';
import { createPreparePool, type PreparePool } from './prepare-pool.js';
import { createPubsubPublisher } from './publisher.js';

export interface IngestWiring {
  app: Express;
  pubsub: PubSub;
  topic: Topic;
  /** Close it on shutdown: it ends the registry's database pool. */
  registry: RegistrySource;
  /** The /v1/events worker threads, when config.workerThreads > 0; close it after the server stopped. */
  pool: PreparePool | undefined;
  /** From now on the app answers 503, so requests on kept-alive connections do not hold the stop open. */
  beginStopping(): void;
}

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireIngest(config: IngestConfig, logger: Logger): IngestWiring {
  // PUBSUB_EMULATOR_HOST, when set, is honoured by the client itself: no local branch here.
  const pubsub = new PubSub({ projectId: config.projectId });
  // Every request waits for its publish, so the batching delay is paid by every request: 2 ms still
  // coalesces the messages of concurrent requests into one RPC, where the client's default 10 ms
  // left the CPU idle between waves (npm run bench -w @strata/ingest: about +25 % events/s).
  const topic = pubsub.topic(config.topic, { batching: { maxMessages: 1000, maxMilliseconds: 2 } });
  const registry = openRegistrySource({ databaseUrl: config.schemaRegistryDatabaseUrl, ttlMs: config.schemaRegistryTtlMs, logger });
  let stopping = false;
  const hash = createPiiHasher(config.pii.secret, config.pii.keyId);
  const newId = createUlidFactory();
  const pool =
    config.workerThreads > 0
      ? createPreparePool(
          config.workerThreads,
          {
            pii: config.pii,
            maxEvents: config.maxEventsPerRequest,
            window: config.eventTimeWindow,
            schemaRegistryDatabaseUrl: config.schemaRegistryDatabaseUrl,
            schemaRegistryTtlMs: config.schemaRegistryTtlMs,
            logLevel: config.logLevel,
          },
          { logger, maxQueuedBytes: config.maxQueuedBytes },
        )
      : undefined;
  const app = createApp({
    config,
    registry,
    publisher: createPubsubPublisher(topic, { timeoutMs: config.publishTimeoutMs, maxOutstandingBytes: config.maxOutstandingPublishBytes }),
    hash,
    piiExtraKeys: config.pii.extraKeys,
    logger,
    newId,
    stopping: () => stopping,
    offload: pool?.preparer,
  });
  return { app, pubsub, topic, registry, pool, beginStopping: () => (stopping = true) };
}
