import { gzipSync } from 'node:zlib';
import { http } from '@google-cloud/functions-framework';
import { getTestServer } from '@google-cloud/functions-framework/testing';
import { createLogger } from '@strata/runtime';
import { createPiiHasher, createRegistry, DEFAULT_EVENT_TIME_WINDOW, loadBundledSchemas } from '@strata/schemas';
import { makeEvent } from '@strata/test';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { testKeys } from './keys.fake.js';
import { FakePublisher } from './publisher.fake.js';

/**
 * Deployed, ingest runs inside the Functions Framework (function.ts), whose body-parser reads every
 * request body before the app sees it. The app must take those bodies (they arrive drained, with
 * the bytes on req.rawBody, decompressed) instead of waiting for a stream that has ended. This runs
 * the app behind the real framework's server.
 */
const NOW = '2026-11-21T12:00:00.000Z';
let publisher: FakePublisher;
let server: ReturnType<typeof getTestServer>;
let url: string;

beforeAll(async () => {
  publisher = new FakePublisher();
  let ids = 0;
  const app = createApp({
    config: { keys: testKeys('k'), maxEventsPerRequest: 10, maxBodyBytes: 10_000, maxDecodedBytes: 20_000, projectId: 'p', eventTimeWindow: DEFAULT_EVENT_TIME_WINDOW },
    registry: { current: async () => createRegistry(loadBundledSchemas()) },
    publisher,
    hash: createPiiHasher('test-secret-0123456789'),
    logger: createLogger({ service: 'ingest', level: 'silent' }),
    newId: () => `id-${++ids}`,
    now: () => new Date(NOW),
  });
  http('ingest-behind-the-framework', app);
  server = getTestServer('ingest-behind-the-framework');
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/events`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const event = (overrides: Record<string, unknown> = {}) => makeEvent({ ts: '2026-11-21T11:59:00Z', ...overrides });
/** fetch, not supertest: the bytes go on the wire exactly as given, compressed ones included. */
async function post(contentType: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'x-api-key': 'k', 'content-type': contentType, ...headers }, body });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not ours: the framework's own error page, kept in `text` for the failure message.
  }
  return { status: res.status, body: parsed, text };
}

describe('ingest behind the Functions Framework', () => {
  it('takes a JSON array, NDJSON, text/plain and a gzip body', async () => {
    const json = JSON.stringify([event(), event()]);
    const answers = await Promise.all([
      post('application/json', json),
      post('application/x-ndjson', `${JSON.stringify(event())}\n${JSON.stringify(event())}\n`),
      post('text/plain', json),
      post('application/json', gzipSync(json), { 'content-encoding': 'gzip' }),
    ]);
    expect(answers.map((r) => [r.status, r.body.accepted ?? r.text])).toEqual([
      [202, 2],
      [202, 2],
      [202, 2],
      [202, 2],
    ]);
  });

  it('applies the same limits to the bytes it was handed (the memory was spent by the framework already), and quarantines an invalid event', async () => {
    // Valid JSON, so the framework's own JSON parse passes it on: the limit is ours to apply.
    const bomb = gzipSync(`[${' '.repeat(50_000)}]`);
    const tooBig = await post('application/json', bomb, { 'content-encoding': 'gzip' });
    expect({ status: tooBig.status, code: tooBig.body.error }).toEqual({ status: 413, code: 'payload_too_large' });
    const plain = await post('application/json', `[${' '.repeat(12_000)}]`);
    expect({ status: plain.status, code: plain.body.error }).toEqual({ status: 413, code: 'payload_too_large' });
    const mixed = await post('application/json', JSON.stringify([event(), event({ price: 'free' })]));
    expect({ status: mixed.status, accepted: mixed.body.accepted, rejected: (mixed.body.rejected as Array<{ index: number }>).map((r) => r.index) }).toEqual({ status: 202, accepted: 1, rejected: [1] });
  });
});
