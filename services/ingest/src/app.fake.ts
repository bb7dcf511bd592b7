import { createLogger } from '@strata/runtime';
import { createPiiHasher } from '@strata/schemas';
import type { Express } from 'express';
import { createApp, type IngestDeps } from './app.js';
import { FakePublisher } from './publisher.fake.js';

/** The PII hasher the route tests use, so they can compute the hashes they expect. */
export const testHasher = createPiiHasher('test-secret-0123456789');

/**
 * The app the route tests build before each test: a fresh FakePublisher, ids `id-1`, `id-2`, … in
 * the order events are given them, a fixed clock, the test hasher and a silent logger.
 */
export function testApp(deps: Pick<IngestDeps, 'config' | 'registry'> & Partial<Omit<IngestDeps, 'now'>> & { now: string }): { app: Express; publisher: FakePublisher } {
  const publisher = new FakePublisher();
  let ids = 0;
  const { now, ...rest } = deps;
  const app = createApp({
    publisher,
    hash: testHasher,
    logger: createLogger({ service: 'ingest', level: 'silent' }),
    newId: () => `id-${++ids}`,
    ...rest,
    now: () => new Date(now),
  });
  return { app, publisher };
}
