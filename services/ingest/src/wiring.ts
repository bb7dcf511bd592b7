import { PubSub, type Topic } from '@google-cloud/pubsub';
import type { Logger } from '@strata/runtime';
import { createRegistry, loadBundledSchemas } from '@strata/schemas';
import type { Express } from 'express';
import { ulid } from 'ulid';
import { createApp } from './app.js';
import type { IngestConfig } from './config.js';
import { createPubsubPublisher } from './publisher.js';

/** Builds every dependency once (PostHog-style) for both entry points: main.ts and function.ts. */
export function wireIngest(config: IngestConfig, logger: Logger): { app: Express; pubsub: PubSub; topic: Topic } {
  // PUBSUB_EMULATOR_HOST, when set, is honoured by the client itself: no local branch here.
  const pubsub = new PubSub({ projectId: config.projectId });
  const topic = pubsub.topic(config.topic, { batching: { maxMessages: 1000, maxMilliseconds: 10 } });
  const app = createApp({
    config,
    registry: createRegistry(loadBundledSchemas()),
    publisher: createPubsubPublisher(topic),
    logger,
    newId: ulid,
  });
  return { app, pubsub, topic };
}
