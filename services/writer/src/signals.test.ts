import { createLogger, type OidcVerifier } from '@strata/runtime';
import { captureLogs, signalGaps } from '@strata/runtime/signals-testing';
import { createPiiHasher, loadBundledSchemas, loadEnvelope } from '@strata/schemas';
import { createRegistrySource } from '@strata/schemas/postgres';
import request from 'supertest';
import { describe, expect, it, vi } from 'vitest';
import { createApp } from './app.js';
import { createMemoryLakeStore } from './lake-store.fake.js';
import { createLakeWriter } from './lake-writer.js';
import { batchPushBody, pushBody, userAction } from './push-fixtures.js';

const source = createRegistrySource({ bundled: loadBundledSchemas(), envelope: loadEnvelope(), ttlMs: 30_000, logger: createLogger({ service: 'writer', level: 'silent' }) });
// Tokens are app.test.ts's subject; here every push is let in.
const anyPush: OidcVerifier = { verify: async () => ({ ok: true, email: 'push@strata-test.iam.gserviceaccount.com' }) };

// The local counters and the log-based metrics count the writer's signals (runtime/src/signals.ts):
// this fails when the writer stops emitting one of them, or one of its fields.
describe("the writer's signals", () => {
  it('emits every signal declared for the writer, each with its declared fields', async () => {
    const { logger, lines } = captureLogs('writer');
    const store = createMemoryLakeStore();
    let clock = 1_000;
    const writer = createLakeWriter({
      store,
      registry: await source.current(),
      logger,
      // A batch of two rows: the first opens it at 1000, the second arrives 250 ms later and flushes it.
      limits: { maxRows: 2, maxBytes: 1 << 20, maxAgeMs: 60_000, quietMs: 0, maxBufferedBytes: 1 << 20, maxOpenBatches: 100, maxWaiting: 0 },
      now: () => clock,
    });
    const app = createApp({ verifier: anyPush, registry: source, writer, hash: createPiiHasher('test-secret-0123456789'), logger });
    const push = (path: string, body: unknown) => request(app).post(path).set('authorization', 'Bearer t').send(body as object);

    const first = push('/push', pushBody(userAction(), { messageId: 'm-1' })).then((res) => res.status);
    await vi.waitFor(() => expect(writer.stats().items).toBe(1));
    clock += 250;
    expect(await push('/push', pushBody(userAction(), { messageId: 'm-2' })).then((res) => res.status)).toBe(204);
    expect(await first).toBe(204);
    // Two invalid events (one quarantine file) and two dead letters (one dead-letter file).
    const bodies: Array<[string, unknown]> = [
      ['/push', pushBody(userAction({ quantity: 'two' }), { messageId: 'bad-1' })],
      ['/push', pushBody(userAction({ quantity: 'three' }), { messageId: 'bad-2' })],
      ['/dead-letter', await batchPushBody([userAction()], { messageId: 'dl-1' })],
      ['/dead-letter', await batchPushBody([userAction()], { messageId: 'dl-2' })],
    ];
    expect((await Promise.all(bodies.map(([path, body]) => push(path, body)))).map((res) => res.status)).toEqual([204, 204, 204, 204]);

    expect(signalGaps('writer', lines)).toEqual([]);
    expect(lines.find((l) => l.signal === 'writer.partition_flushed')).toMatchObject({ log_type: 'user_action', rows: 2, flushLatencyMs: 250, bytes: expect.any(Number) });
    expect(lines.find((l) => l.signal === 'writer.quarantined')).toMatchObject({ log_type: 'user_action', count: 2 });
  });
});
