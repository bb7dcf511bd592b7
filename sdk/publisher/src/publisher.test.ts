import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRegistry, loadBundledSchemas, type OrderEvent, type UserAction } from '@strata/schemas';
import { createPublisher, PublishError, PublisherClosedError, PublisherOptionsError, type PublisherOptions, type TrackResult } from './publisher.js';
import { FakeTopic } from './topic.fake.js';

const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;
const registry = createRegistry(loadBundledSchemas());

const pageView = (n: number): UserAction => ({ event: 'page_view', ts: '2026-11-21T10:15:30.123Z', user_id: `u-${n}`, page_url: `https://shop.example/p/${n}` });
const orderPaid = (n: number): OrderEvent => ({ event: 'order_paid', ts: '2026-11-21T11:05:09Z', order_id: `o-${n}`, amount: 10 + n, currency: 'EUR' });

// Roomy limits, so each test trips only the one it is about.
function publisherWith(options: Partial<PublisherOptions> = {}) {
  const topic = new FakeTopic();
  const publisher = createPublisher({ topic, maxEvents: 100, maxBytes: 1_000_000, maxDelayMs: 60_000, ...options });
  return { topic, publisher };
}

function idOf(result: TrackResult): string {
  if (!result.ok) throw new Error(result.reason);
  return result.eventId;
}

afterEach(() => {
  vi.useRealTimers();
});

describe('batching', () => {
  it('publishes a log type once it holds maxEvents, as one batch message, and keeps the rest queued', async () => {
    const { topic, publisher } = publisherWith({ maxEvents: 3 });
    const ids = [1, 2, 3, 4].map((n) => idOf(publisher.track('user_action', pageView(n))));
    await vi.waitFor(() => expect(topic.published).toHaveLength(1));
    expect(topic.published[0]!.attributes).toEqual({ log_type: 'user_action', event_count: '3', encoding: 'ndjson', source: 'publisher-node' });
    expect((await topic.events()).map((e) => e.event_id)).toEqual(ids.slice(0, 3));
    expect(publisher.pending().events).toBe(1);
  });

  it('batches each log type on its own', async () => {
    const { topic, publisher } = publisherWith({ maxEvents: 2 });
    publisher.track('user_action', pageView(1));
    publisher.track('order_event', orderPaid(1));
    expect(topic.attempts).toBe(0);
    publisher.track('order_event', orderPaid(2));
    await vi.waitFor(() => expect(topic.published).toHaveLength(1));
    expect(topic.published[0]!.attributes).toMatchObject({ log_type: 'order_event', event_count: '2' });
  });

  it('publishes before the event that would take a batch past maxBytes, so every message stays within it', async () => {
    const bytes = Buffer.byteLength(JSON.stringify({ ...pageView(1), event_id: 'x'.repeat(26) })) + 1;
    const { topic, publisher } = publisherWith({ maxBytes: bytes * 2 + 10, gzip: false });
    [1, 2].forEach((n) => publisher.track('user_action', pageView(n)));
    expect(topic.attempts).toBe(0);
    publisher.track('user_action', pageView(3));
    await vi.waitFor(() => expect(topic.published).toHaveLength(1));
    expect(topic.published[0]!.attributes.event_count).toBe('2');
    expect(topic.published[0]!.data.length).toBeLessThanOrEqual(bytes * 2 + 10);
    expect(publisher.pending().events).toBe(1);
  });

  it('publishes a batch whose bytes reach maxBytes exactly at once', async () => {
    const bytes = Buffer.byteLength(JSON.stringify({ ...pageView(1), event_id: 'x'.repeat(26) })) + 1;
    const { topic, publisher } = publisherWith({ maxBytes: bytes * 2, gzip: false });
    [1, 2].forEach((n) => publisher.track('user_action', pageView(n)));
    await vi.waitFor(() => expect(topic.published).toHaveLength(1));
    expect(topic.published[0]!.attributes.event_count).toBe('2');
  });

  it('publishes a batch once its oldest event has waited maxDelayMs, not before', async () => {
    vi.useFakeTimers();
    const { topic, publisher } = publisherWith({ maxDelayMs: 1000 });
    publisher.track('user_action', pageView(1));
    await vi.advanceTimersByTimeAsync(600);
    publisher.track('user_action', pageView(2)); // joins the open batch; the age is the oldest event's
    await vi.advanceTimersByTimeAsync(399);
    expect(topic.attempts).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(topic.published).toHaveLength(1);
    expect(topic.published[0]!.attributes.event_count).toBe('2');
    expect(publisher.pending()).toEqual({ events: 0, bytes: 0 });
  });

  it('gzips a batch when it pays and names the source given', async () => {
    const { topic, publisher } = publisherWith({ source: 'orders-service' });
    for (let n = 0; n < 50; n++) publisher.track('order_event', orderPaid(n));
    await publisher.flush();
    expect(topic.published[0]!.attributes).toMatchObject({ encoding: 'ndjson+gzip', source: 'orders-service', event_count: '50' });
    expect(await topic.events()).toHaveLength(50);
  });
});

describe('event ids and fields', () => {
  it('assigns a ULID to each event without one and keeps an id the producer gave', async () => {
    const { topic, publisher } = publisherWith();
    const assigned = idOf(publisher.track('user_action', pageView(1)));
    const given = idOf(publisher.track('user_action', { ...pageView(2), event_id: 'order-551-paid' }));
    expect(assigned).toMatch(ULID);
    expect(given).toBe('order-551-paid');
    await publisher.flush();
    expect((await topic.events()).map((e) => e.event_id)).toEqual([assigned, given]);
  });

  it('sends the event as given, without log_type or received_at (the writer fills it from publishTime)', async () => {
    const { topic, publisher } = publisherWith();
    const eventId = idOf(publisher.track('user_action', pageView(1)));
    await publisher.flush();
    expect(await topic.events()).toEqual([{ ...pageView(1), event_id: eventId }]);
  });

  it('moves a log_type field matching the log type into the attribute, and refuses one that does not match', async () => {
    const { topic, publisher } = publisherWith();
    expect(publisher.track('user_action', { ...pageView(1), log_type: 'order_event' })).toMatchObject({ ok: false, errors: [{ path: '/log_type' }] });
    const eventId = idOf(publisher.track('user_action', { ...pageView(1), log_type: 'user_action' }));
    await publisher.flush();
    expect(await topic.events()).toEqual([{ ...pageView(1), event_id: eventId }]);
  });

  it('is typed by the generated LogTypes (checked by npm run typecheck)', () => {
    const { publisher } = publisherWith();
    // @ts-expect-error order_id is required for order_event
    publisher.track('order_event', { event: 'order_paid', ts: '2026-11-21T11:05:09Z' });
    // @ts-expect-error page_view is not an order_event event
    publisher.track('order_event', { ...orderPaid(1), event: 'page_view' });
    // @ts-expect-error seller_action rejects fields it does not declare
    publisher.track('seller_action', { event: 'listing_created', ts: '2026-11-21T11:05:09Z', seller_id: 's-1', coupon: 'X' });
    // @ts-expect-error not a log type
    publisher.track('page_views', pageView(1));
    // user_action keeps unknown fields (in `extra`), so its type allows them.
    expect(publisher.track('user_action', { ...pageView(1), experiment: 'b' })).toMatchObject({ ok: true });
  });

  it('does not change the event object it was given', () => {
    const { publisher } = publisherWith({ validate: registry });
    const event = pageView(1);
    publisher.track('user_action', event);
    expect(event).toEqual(pageView(1));
  });

  it('refuses an event_id that is not a non-empty string, and what cannot be serialised', () => {
    const { publisher } = publisherWith();
    expect(publisher.track('user_action', { ...pageView(1), event_id: '' })).toMatchObject({ ok: false, error: 'invalid_event', errors: [{ path: '/event_id' }] });
    expect(publisher.track('user_action', { ...pageView(1), big: 1n })).toMatchObject({ ok: false, error: 'invalid_event', reason: expect.stringMatching(/cannot be serialised/) });
    expect(publisher.track('user_action', 'page_view' as unknown as UserAction)).toMatchObject({ ok: false, errors: [{ path: '', message: 'must be a JSON object' }] });
    expect(publisher.pending().events).toBe(0);
  });

  it('refuses an event larger than one Pub/Sub message may carry', () => {
    const { publisher } = publisherWith();
    const result = publisher.track('user_action', { ...pageView(1), blob: 'x'.repeat(9 * 1024 * 1024) });
    expect(result).toMatchObject({ ok: false, error: 'invalid_event', reason: expect.stringMatching(/more than the 8388608/) });
  });
});

describe('validation', () => {
  it('returns every error of an invalid event and does not queue it', async () => {
    const { topic, publisher } = publisherWith({ validate: registry });
    const result = publisher.track('order_event', { event: 'order_paid', ts: 'yesterday', amount: 'ten' } as unknown as OrderEvent);
    expect(result).toMatchObject({ ok: false, error: 'invalid_event' });
    expect(result.ok ? [] : (result as { errors: unknown[] }).errors).toEqual(
      expect.arrayContaining([
        { path: '/order_id', message: 'is required' },
        { path: '/ts', message: expect.any(String) },
        { path: '/amount', message: 'must be number' },
      ]),
    );
    expect(publisher.pending().events).toBe(0);
    await publisher.flush();
    expect(topic.attempts).toBe(0);
  });

  it('refuses a field a rejecting log type does not declare, and an unknown log type', () => {
    const { publisher } = publisherWith({ validate: true });
    expect(publisher.track('order_event', { ...orderPaid(1), coupon: 'X' } as OrderEvent)).toMatchObject({ ok: false, errors: [{ path: '/coupon', message: 'is not a known field' }] });
    expect(publisher.track('nope' as 'order_event', orderPaid(1))).toMatchObject({ ok: false, errors: [{ path: '/log_type' }] });
  });

  it('stamps the version a valid event was validated against, so the writer validates against the same', async () => {
    const { topic, publisher } = publisherWith({ validate: registry });
    publisher.track('user_action', pageView(1));
    publisher.track('user_action', { ...pageView(2), schema_version: 1 });
    await publisher.flush();
    expect((await topic.events()).map((e) => e.schema_version)).toEqual([2, 1]);
    // Two versions in one batch: the attribute is left out and each event carries its own.
    expect(topic.published[0]!.attributes.schema_version).toBeUndefined();
  });

  it('sets the schema_version attribute when every event of a batch shares one', async () => {
    const { topic, publisher } = publisherWith({ validate: registry });
    publisher.track('order_event', orderPaid(1));
    await publisher.flush();
    expect(topic.published[0]!.attributes).toMatchObject({ log_type: 'order_event', schema_version: '1', event_count: '1' });
  });
});

describe('flush and failures', () => {
  it('flush resolves once every queued event is published, across log types', async () => {
    const { topic, publisher } = publisherWith();
    publisher.track('user_action', pageView(1));
    publisher.track('order_event', orderPaid(1));
    await publisher.flush();
    expect(topic.published.map((m) => m.attributes.log_type).sort()).toEqual(['order_event', 'user_action']);
    expect(publisher.pending()).toEqual({ events: 0, bytes: 0 });
    await publisher.flush(); // nothing left: no publish
    expect(topic.attempts).toBe(2);
  });

  it('a failed flush names the events, keeps them queued, and the next flush publishes them with the same ids', async () => {
    const { topic, publisher } = publisherWith();
    const ids = [1, 2, 3].map((n) => idOf(publisher.track('user_action', pageView(n))));
    topic.fail();
    const failed = await publisher.flush().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(PublishError);
    expect((failed as PublishError).eventIds).toEqual(ids);
    expect((failed as PublishError).message).toMatch(/UNAVAILABLE/);
    expect(publisher.pending().events).toBe(3);

    topic.heal();
    await publisher.flush();
    expect((await topic.events()).map((e) => e.event_id)).toEqual(ids);
    expect(publisher.pending()).toEqual({ events: 0, bytes: 0 });
  });

  it('only the events of failed messages stay queued', async () => {
    const { topic, publisher } = publisherWith();
    const order = idOf(publisher.track('order_event', orderPaid(1)));
    const user = idOf(publisher.track('user_action', pageView(1)));
    topic.fail((message) => message.attributes.log_type === 'order_event');
    await expect(publisher.flush()).rejects.toMatchObject({ eventIds: [order] });
    expect((await topic.events()).map((e) => e.event_id)).toEqual([user]);
    topic.heal();
    await publisher.flush();
    expect((await topic.events()).map((e) => e.event_id)).toEqual([user, order]);
  });

  it('flush waits for publishes already under way and reports theirs too', async () => {
    const { topic, publisher } = publisherWith({ maxEvents: 2 });
    topic.fail();
    const ids = [1, 2].map((n) => idOf(publisher.track('user_action', pageView(n)))); // a full batch: publishing now
    await expect(publisher.flush()).rejects.toMatchObject({ eventIds: ids });
  });

  it('a failed background publish is told to onError and retried after maxDelayMs, not on the next track', async () => {
    vi.useFakeTimers();
    const errors: PublishError[] = [];
    const { topic, publisher } = publisherWith({ maxEvents: 2, maxDelayMs: 1000, onError: (error) => errors.push(error) });
    topic.fail();
    const ids = [1, 2].map((n) => idOf(publisher.track('user_action', pageView(n))));
    await vi.advanceTimersByTimeAsync(0);
    expect(errors.map((e) => e.eventIds)).toEqual([ids]);
    expect(topic.attempts).toBe(1);

    ids.push(idOf(publisher.track('user_action', pageView(3))), idOf(publisher.track('user_action', pageView(4))));
    await vi.advanceTimersByTimeAsync(999);
    expect(topic.attempts).toBe(1); // backing off: a full lane does not hammer a failing topic
    topic.heal();
    await vi.advanceTimersByTimeAsync(1);
    expect((await topic.events()).map((e) => e.event_id)).toEqual(ids);
    expect(topic.published.map((m) => m.attributes.event_count)).toEqual(['2', '2']);
    expect(publisher.pending().events).toBe(0);
  });
});

describe('bounded queue', () => {
  it('refuses events beyond maxQueuedEvents as a value, counting those published but not acked, and takes them again once acked', async () => {
    const { topic, publisher } = publisherWith({ maxEvents: 2, maxQueuedEvents: 3 });
    topic.fail();
    [1, 2, 3].forEach((n) => idOf(publisher.track('user_action', pageView(n))));
    const refused = publisher.track('user_action', pageView(4));
    expect(refused).toMatchObject({ ok: false, error: 'queue_full', reason: expect.stringMatching(/holds 3 events.*maxQueuedEvents 3/) });
    await publisher.flush().catch(() => undefined);
    expect(publisher.pending().events).toBe(3);

    topic.heal();
    await publisher.flush();
    expect(publisher.track('user_action', pageView(4))).toMatchObject({ ok: true });
  });

  it('refuses events beyond maxQueuedBytes', () => {
    const { publisher } = publisherWith({ maxBytes: 1000, maxQueuedBytes: 1000 });
    const results = Array.from({ length: 20 }, (_, n) => publisher.track('user_action', pageView(n)));
    expect(results.filter((r) => !r.ok)).not.toHaveLength(0);
    expect(publisher.pending().bytes).toBeLessThanOrEqual(1000);
  });
});

describe('close', () => {
  it('flushes, then refuses further events with a clear error', async () => {
    const { topic, publisher } = publisherWith();
    publisher.track('user_action', pageView(1));
    await publisher.close();
    expect(topic.published).toHaveLength(1);
    expect(() => publisher.track('user_action', pageView(2))).toThrow(PublisherClosedError);
    await publisher.close(); // idempotent
  });

  it('rejects when its flush fails, keeping the events for another close()', async () => {
    vi.useFakeTimers();
    const { topic, publisher } = publisherWith({ maxDelayMs: 10 });
    const id = idOf(publisher.track('user_action', pageView(1)));
    topic.fail();
    await expect(publisher.close()).rejects.toMatchObject({ eventIds: [id] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(topic.attempts).toBe(1); // closed: no background retry
    topic.heal();
    await publisher.close();
    expect((await topic.events()).map((e) => e.event_id)).toEqual([id]);
  });
});

describe('options', () => {
  const topic = new FakeTopic();
  it.each([
    ['maxEvents 0', { maxEvents: 0 }, /option maxEvents must be an integer from 1 to 10000, got 0/],
    ['maxEvents above the batch limit', { maxEvents: 20_000 }, /maxEvents/],
    ['a fractional maxBytes', { maxBytes: 1.5 }, /option maxBytes must be an integer/],
    ['maxBytes above a message', { maxBytes: 9 * 1024 * 1024 }, /maxBytes .* to 8388608/],
    ['a negative maxDelayMs', { maxDelayMs: -1 }, /maxDelayMs/],
    ['a queue smaller than a batch', { maxEvents: 10, maxQueuedEvents: 5 }, /option maxQueuedEvents must be an integer from 10/],
    ['an empty source', { source: '' }, /option source/],
    ['validate neither boolean nor registry', { validate: 'yes' }, /option validate/],
    ['a non-boolean gzip', { gzip: 'no' }, /option gzip/],
    ['projectId with a Topic passed in', { projectId: 'p' }, /option projectId/],
    ['an empty topic name', { topic: '' }, /option topic/],
    ['a topic without publishMessage', { topic: {} }, /option topic/],
  ])('refuses %s', (_label, options, message) => {
    const create = () => createPublisher({ topic, ...options } as PublisherOptions);
    expect(create).toThrow(PublisherOptionsError);
    expect(create).toThrow(message);
  });
});
