import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPubsubPublisher, PublisherBusyError, PublishTimeoutError } from './publisher.js';

const message = (bytes = 10) => ({ data: Buffer.alloc(bytes), attributes: { log_type: 'user_action' } });

/** A topic whose publishes settle only when told to, as a slow or unreachable Pub/Sub. */
function stalledTopic() {
  const pending: Array<{ resolve: (id: string) => void; reject: (err: Error) => void }> = [];
  return {
    pending,
    publishMessage: () => new Promise<string>((resolve, reject) => pending.push({ resolve, reject })),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createPubsubPublisher', () => {
  it('answers within the timeout when Pub/Sub does not, with a failed outcome per message', async () => {
    vi.useFakeTimers();
    const topic = stalledTopic();
    const publisher = createPubsubPublisher(topic, { timeoutMs: 10_000, maxOutstandingBytes: 1 << 20 });
    const outcomes = publisher.publish([message(), message()]);
    await vi.advanceTimersByTimeAsync(9_999);
    let settled = false;
    void outcomes.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    const [a, b] = await outcomes;
    expect(a).toMatchObject({ ok: false, error: expect.any(PublishTimeoutError) });
    expect(b!.ok).toBe(false);
  });

  it('refuses at once while too many bytes wait for Pub/Sub, and takes messages again once they settle', async () => {
    const topic = stalledTopic();
    const publisher = createPubsubPublisher(topic, { timeoutMs: 60_000, maxOutstandingBytes: 100 });
    const first = publisher.publish([message(60), message(60)]);
    const refused = await publisher.publish([message(1)]);
    expect(refused).toEqual([{ ok: false, error: expect.any(PublisherBusyError) }]);
    expect(topic.pending).toHaveLength(2);
    topic.pending[0]!.resolve('m1');
    topic.pending[1]!.reject(new Error('UNAVAILABLE'));
    expect(await first).toMatchObject([{ ok: true, messageId: 'm1' }, { ok: false }]);
    const again = publisher.publish([message(1)]);
    topic.pending[2]!.resolve('m2');
    expect(await again).toEqual([{ ok: true, messageId: 'm2' }]);
  });
});
