import { Analytics } from '@segment/analytics-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLake } from '@strata/dev/query';
import { LOCAL } from '@strata/dev/local-config';
import type { Stack } from '@strata/dev/stack';
import { startTestStack, waitFor } from './harness.js';

/**
 * The real Segment Node SDK, unmodified, pointed at the local stack's ingest: what it sends
 * (batches to /v1/batch with Basic auth) lands in the lake as the README's mapping table says.
 */
describe('Segment SDK → Strata', () => {
  let stack: Stack;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, stop } = await startTestStack({ flushMaxAgeMs: 1000 }));
  });
  afterAll(async () => stop?.());

  /** An SDK as an app would configure it, with small batches so several requests are made. */
  const client = () => {
    const analytics = new Analytics({ writeKey: LOCAL.apiKey, host: stack.urls.ingest, path: '/v1/batch', flushAt: 3, flushInterval: 200, maxRetries: 2 });
    const statuses: number[] = [];
    const errors: unknown[] = [];
    analytics.on('http_response', (response) => statuses.push(response.status));
    analytics.on('error', (err) => errors.push(err));
    return { analytics, statuses, errors };
  };

  const rows = async (sql: string) => (await queryLake(sql, stack.dataDir)).rows;
  const json = (text: unknown) => JSON.parse(String(text)) as Record<string, unknown>;

  it('lands every call analytics-node sends, with its ids, time, users and properties', async () => {
    const before = stack.counters.values().rowsWritten;
    const { analytics, statuses, errors } = client();
    // A minute ago, so the events are in a recent hour whatever the time of the run.
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 60_000);
    const later = new Date(at.getTime() + 1000);
    analytics.track({ messageId: 'seg-e2e-order-1', userId: 'u-seg-1', event: 'Order Completed', timestamp: at, properties: { revenue: 37.9, currency: 'EUR', coupon: 'WINTER' } });
    analytics.track({ messageId: 'seg-e2e-cart-1', anonymousId: 'a-seg-1', event: 'Add To Cart', timestamp: at, properties: { product_id: 'p-42', price: 12.5, quantity: 2, color: 'red' } });
    analytics.page({ messageId: 'seg-e2e-page-1', anonymousId: 'a-seg-1', name: 'Home', timestamp: at, properties: { url: 'https://shop.example/', path: '/', title: 'Shop' } });
    analytics.screen({ messageId: 'seg-e2e-screen-1', userId: 'u-seg-1', name: 'Settings', timestamp: later });
    analytics.identify({ messageId: 'seg-e2e-identify-1', userId: 'u-seg-1', timestamp: at, traits: { name: 'Ada', plan: 'pro' } });
    analytics.group({ messageId: 'seg-e2e-group-1', userId: 'u-seg-1', groupId: 'g-7', timestamp: later, traits: { name: 'Initech', employees: 300 } });
    analytics.alias({ messageId: 'seg-e2e-alias-1', userId: 'u-seg-1', previousId: 'a-seg-1', timestamp: later });
    await analytics.closeAndFlush({ timeout: 30_000 });
    expect(errors).toEqual([]);
    // 7 calls in batches of 3: three requests, each answered as Segment would.
    expect(statuses).toEqual([200, 200, 200]);

    await waitFor('the 7 Segment calls written', () => stack.counters.values().rowsWritten >= before + 7);
    const ms = (d: Date) => String(d.getTime());

    const tracks = await rows(`select event_id, event, event_name, user_id, epoch_ms(ts), revenue, currency, source, extra from segment_track where event_id like 'seg-e2e-%'`);
    expect(tracks.map((r) => r.slice(0, 8))).toEqual([['seg-e2e-order-1', 'order_completed', 'Order Completed', 'u-seg-1', ms(at), 37.9, 'EUR', 'local-dev']]);
    const trackExtra = json(tracks[0]![8]);
    expect(trackExtra).toMatchObject({ coupon: 'WINTER', segment: { context: { library: { name: '@segment/analytics-node', version: '3.1.0' } } } });

    // "Add To Cart" is user_action's add_to_cart: its typed columns, the unknown property in extra.
    const carts = await rows(`select event_id, event, anonymous_id, epoch_ms(ts), product_id, price, quantity, extra from user_action where event_id like 'seg-e2e-%'`);
    expect(carts.map((r) => r.slice(0, 7))).toEqual([['seg-e2e-cart-1', 'add_to_cart', 'a-seg-1', ms(at), 'p-42', 12.5, '2']]);
    expect(json(carts[0]![7])).toMatchObject({ color: 'red', segment: { event: 'Add To Cart' } });

    const pages = await rows(`select event_id, event, user_id, anonymous_id, epoch_ms(ts), name, url, path, title from segment_page where event_id like 'seg-e2e-%' order by event_id`);
    expect(pages).toEqual([
      ['seg-e2e-page-1', 'page', null, 'a-seg-1', ms(at), 'Home', 'https://shop.example/', '/', 'Shop'],
      ['seg-e2e-screen-1', 'screen', 'u-seg-1', null, ms(later), 'Settings', null, null, null],
    ]);

    const identities = await rows(`select event_id, event, user_id, epoch_ms(ts), group_id, previous_id, name, extra from segment_identify where event_id like 'seg-e2e-%' order by event_id`);
    expect(identities.map((r) => r.slice(0, 7))).toEqual([
      ['seg-e2e-alias-1', 'alias', 'u-seg-1', ms(later), null, 'a-seg-1', null],
      ['seg-e2e-group-1', 'group', 'u-seg-1', ms(later), 'g-7', null, 'Initech'],
      ['seg-e2e-identify-1', 'identify', 'u-seg-1', ms(at), null, null, 'Ada'],
    ]);
    expect(json(identities[1]![7])).toMatchObject({ employees: 300 });
    expect(json(identities[2]![7])).toMatchObject({ plan: 'pro' });
  });

  it('dedups a call the SDK sends again with the same messageId, and quarantines an invalid one', async () => {
    const before = stack.counters.values();
    const { analytics, statuses, errors } = client();
    const at = new Date(Math.floor(Date.now() / 1000) * 1000 - 30_000);
    const call = { messageId: 'seg-e2e-again-1', userId: 'u-seg-2', event: 'Checkout Viewed', timestamp: at };
    analytics.track(call);
    analytics.track(call);
    // user_action's price is a number: kept in quarantine, and the SDK is answered 200 all the same.
    analytics.track({ messageId: 'seg-e2e-bad-1', userId: 'u-seg-2', event: 'Add To Cart', timestamp: at, properties: { price: 'cheap' } });
    await analytics.closeAndFlush({ timeout: 30_000 });
    expect(errors).toEqual([]);
    expect(statuses).toEqual([200]);

    await waitFor('the retried call written', () => stack.counters.values().rowsWritten >= before.rowsWritten + 2);
    await waitFor('the invalid call quarantined', () => stack.counters.values().quarantined > before.quarantined);
    expect(await rows(`select count(*) from segment_track where event_id = 'seg-e2e-again-1'`)).toEqual([['2']]);
    expect(await rows(`select count(*) from segment_track_deduped where event_id = 'seg-e2e-again-1'`)).toEqual([['1']]);
    expect(await rows(`select count(*) from user_action where event_id = 'seg-e2e-bad-1'`)).toEqual([['0']]);
  });
});
