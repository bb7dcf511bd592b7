import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { SendResult } from './retry.js';
import { createSender, type Transport } from './sender.js';

/** A transport that records bodies and answers from a script (ok by default). */
function fakeTransport(answers: Array<SendResult | 'network'> = []) {
  const posts: { at: number; ids: string[] }[] = [];
  const beacons: string[][] = [];
  let beaconOk = true;
  const ids = (body: string) => (JSON.parse(body) as { events: { event_id: string }[] }).events.map((e) => e.event_id);
  const transport: Transport = {
    post: async (body) => {
      posts.push({ at: Date.now(), ids: ids(body) });
      const answer = answers.shift() ?? { ok: true };
      if (answer === 'network') throw new TypeError('Failed to fetch');
      return answer;
    },
    beacon: (body) => {
      if (beaconOk) beacons.push(ids(body));
      return beaconOk;
    },
  };
  return { transport, posts, beacons, refuseBeacons: () => (beaconOk = false) };
}

const ev = (n: number) => ({ event_id: `e${n}`, log_type: 'user_action', event: 'page_view', ts: 't' });
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `e${from + i}`);

describe('createSender', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  it('sends a batch as soon as it holds 20 events', async () => {
    const { transport, posts } = fakeTransport();
    const sender = createSender(transport);
    for (let i = 1; i <= 19; i++) sender.enqueue(ev(i));
    expect(posts).toHaveLength(0);
    sender.enqueue(ev(20));
    expect(posts).toEqual([{ at: 0, ids: range(1, 20) }]);
  });

  it('sends once no event came for 2 s, on either side of the limit', async () => {
    const { transport, posts } = fakeTransport();
    const sender = createSender(transport);
    sender.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(1000);
    sender.enqueue(ev(2));
    await vi.advanceTimersByTimeAsync(1999);
    expect(posts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts).toEqual([{ at: 3000, ids: ['e1', 'e2'] }]);
  });

  it('never lets the first event wait more than 5 s, however steadily events trickle in', async () => {
    const { transport, posts } = fakeTransport();
    const sender = createSender(transport);
    for (let i = 1; i <= 6; i++) {
      sender.enqueue(ev(i));
      await vi.advanceTimersByTimeAsync(999);
    }
    // 6 events, one every 999 ms: the quiet period never passes; the 5 s bound fires at 5000.
    expect(posts).toEqual([{ at: 5000, ids: range(1, 6) }]);
  });

  it('retries a failed batch with backoff, with the same events (and so the same event_ids)', async () => {
    const { transport, posts } = fakeTransport(['network', { ok: false, retry: true }]);
    const sender = createSender(transport, { random: () => 0, backoff: { baseMs: 1000, maxMs: 60_000 } });
    sender.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(2000); // sent, fails
    await vi.advanceTimersByTimeAsync(499);
    expect(posts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 500 ms: attempt 1's backoff with jitter 0
    expect(posts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(999);
    expect(posts).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1); // 1000 ms: attempt 2's
    expect(posts.map((p) => [p.at, p.ids])).toEqual([[2000, ['e1']], [2500, ['e1']], [3500, ['e1']]]);
    expect(sender.stats()).toMatchObject({ queued: 0, sent: 1, retried: 2 });
  });

  it('waits at least Retry-After on a 429, and then only for what a 503 left unpublished', async () => {
    const { transport, posts } = fakeTransport([
      { ok: false, retry: true, retryAfterMs: 10_000 },
      { ok: false, retry: true, retryAfterMs: 1000, only: [1] },
    ]);
    const sender = createSender(transport, { random: () => 0 });
    sender.enqueue(ev(1));
    sender.enqueue(ev(2));
    await vi.advanceTimersByTimeAsync(2000);
    await vi.advanceTimersByTimeAsync(9999);
    expect(posts).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(posts[1]).toEqual({ at: 12_000, ids: ['e1', 'e2'] });
    await vi.advanceTimersByTimeAsync(1000);
    expect(posts[2]).toEqual({ at: 13_000, ids: ['e2'] });
    expect(sender.stats()).toMatchObject({ queued: 0, sent: 2 });
  });

  it('drops a batch ingest refused for good, and says so', async () => {
    const onReject = vi.fn();
    const { transport, posts } = fakeTransport([{ ok: false, retry: false, status: 403, reason: 'forbidden_origin' }]);
    const sender = createSender(transport, { onReject });
    sender.enqueue(ev(1));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(posts).toHaveLength(1);
    expect(onReject).toHaveBeenCalledWith({ ok: false, retry: false, status: 403, reason: 'forbidden_origin' }, 1);
    expect(sender.stats()).toMatchObject({ queued: 0, rejected: 1 });
  });

  it('holds at most maxQueuedEvents, dropping the oldest and counting them', async () => {
    const onDrop = vi.fn();
    const { transport, posts } = fakeTransport(['network']);
    const sender = createSender(transport, { maxQueuedEvents: 30, random: () => 0, onDrop });
    for (let i = 1; i <= 20; i++) sender.enqueue(ev(i)); // in flight, will fail
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 21; i <= 35; i++) sender.enqueue(ev(i)); // 20 back in the queue + 15 = 35 > 30
    expect(sender.stats()).toMatchObject({ queued: 30, dropped: 5 });
    expect(onDrop).toHaveBeenLastCalledWith(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(posts[1]!.ids).toEqual(range(6, 25));
  });

  it('hands everything to sendBeacon when the page is hidden, in batches, ignoring delays and backoff', async () => {
    const { transport, posts, beacons } = fakeTransport(['network']);
    const sender = createSender(transport, { random: () => 0 });
    sender.enqueue(ev(0));
    await vi.advanceTimersByTimeAsync(2000); // failed: backing off
    for (let i = 1; i <= 25; i++) sender.enqueue(ev(i));
    sender.flushOnHide();
    expect(beacons).toEqual([['e0', ...range(1, 19)], range(20, 25)]);
    expect(sender.stats()).toMatchObject({ queued: 0 });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(posts).toHaveLength(1);
  });

  it('falls back to a (keepalive) fetch when the browser refuses the beacon', async () => {
    const { transport, posts, refuseBeacons } = fakeTransport();
    const sender = createSender(transport);
    sender.enqueue(ev(1));
    refuseBeacons();
    sender.flushOnHide();
    expect(posts).toEqual([{ at: 0, ids: ['e1'] }]);
  });

  it('splits a batch whose body is over maxBodyBytes', async () => {
    const { transport, posts } = fakeTransport();
    const sender = createSender(transport, { maxBodyBytes: 700 });
    const big = (n: number) => ({ ...ev(n), padding: 'x'.repeat(100 + n) });
    for (let i = 1; i <= 20; i++) sender.enqueue(big(i));
    await vi.advanceTimersByTimeAsync(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(posts.every((p) => p.ids.length < 20)).toBe(true);
    await sender.flush();
    expect(posts.flatMap((p) => p.ids)).toEqual(range(1, 20));
  });

  it('flush() sends everything queued now', async () => {
    const { transport, posts } = fakeTransport();
    const sender = createSender(transport);
    for (let i = 1; i <= 25; i++) sender.enqueue(ev(i));
    await sender.flush();
    expect(posts.map((p) => p.ids.length)).toEqual([20, 5]);
    expect(sender.stats()).toMatchObject({ queued: 0, inFlight: 0, sent: 25 });
  });
});
