import { describe, expect, it } from 'vitest';
import type { StoredMessage } from './messages.js';
import { createSubscriptionState, type Consumer, type Delivery, type SubscriptionSettings } from './subscription.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms`);
    await sleep(2);
  }
}

function message(id: string, data = 'payload'): StoredMessage {
  return { messageId: id, data: Buffer.from(data), attributes: {}, publishTime: new Date(), orderingKey: '' };
}

/** A consumer that records what it gets, with the flow-control limits a StreamingPull stream sends. */
function collector(limits: { maxMessages?: number; maxBytes?: number; leaseMs?: number } = {}) {
  const received: Delivery[] = [];
  const consumer: Consumer = {
    mode: 'pull',
    maxOutstandingMessages: () => limits.maxMessages ?? 0,
    maxOutstandingBytes: () => limits.maxBytes ?? 0,
    leaseMs: () => limits.leaseMs ?? 10_000,
    deliver: (deliveries) => received.push(...deliveries),
  };
  return { consumer, received };
}

function subscription(settings: Partial<SubscriptionSettings> = {}, deadLetter: (m: StoredMessage, n: number) => boolean = () => true) {
  let ackIds = 0;
  const deadLettered: Array<{ id: string; attempts: number }> = [];
  const state = createSubscriptionState(
    { name: 'projects/p/subscriptions/sub', ackDeadlineMs: 10_000, ...settings },
    {
      nextAckId: () => `projects/p/subscriptions/sub:${++ackIds}`,
      deadLetter: (m, attempts) => {
        const forwarded = deadLetter(m, attempts);
        if (forwarded) deadLettered.push({ id: m.messageId, attempts });
        return forwarded;
      },
    },
  );
  return { state, deadLettered };
}

describe('subscription leases', () => {
  it('delivers to a consumer and forgets an acked message', async () => {
    const { state } = subscription();
    const { consumer, received } = collector();
    state.addConsumer(consumer);
    state.enqueue(message('1'));
    state.enqueue(message('2'));
    await sleep(5);
    expect(received.map((d) => [d.message.messageId, d.deliveryAttempt])).toEqual([
      ['1', 1],
      ['2', 1],
    ]);
    state.ack(received.map((d) => d.ackId));
    state.ack(['projects/p/subscriptions/sub:999']);
    expect(state.stats()).toEqual({ ready: 0, delayed: 0, outstanding: 0 });
  });

  it('redelivers a nacked message at once with the next delivery attempt', async () => {
    const { state } = subscription();
    const { consumer, received } = collector();
    state.addConsumer(consumer);
    state.enqueue(message('1'));
    await sleep(5);
    state.modifyDeadline([received[0]!.ackId], 0);
    await sleep(5);
    expect(received.map((d) => d.deliveryAttempt)).toEqual([1, 2]);
    expect(received[1]!.ackId).not.toBe(received[0]!.ackId);
  });

  it('redelivers when the lease expires, unless the deadline was extended', async () => {
    const { state } = subscription();
    const { consumer, received } = collector({ leaseMs: 150 });
    state.addConsumer(consumer);
    state.enqueue(message('1'));
    state.enqueue(message('2'));
    await waitFor(() => received.length === 2);
    const leasedAt = Date.now();
    state.modifyDeadline([received[1]!.ackId], 5);
    await waitFor(() => received.length === 3);
    expect(Date.now() - leasedAt).toBeGreaterThanOrEqual(100);
    expect(received.map((d) => d.message.messageId)).toEqual(['1', '2', '1']);
    state.close();
  });

  it('backs off exponentially between redeliveries under a retry policy', async () => {
    const { state } = subscription({ retry: { minMs: 60, maxMs: 1000 } });
    const { consumer, received } = collector();
    state.addConsumer(consumer);
    state.enqueue(message('1'));
    await waitFor(() => received.length === 1);
    let nackedAt = Date.now();
    state.nack(received[0]!.ackId);
    expect(state.stats().delayed).toBe(1);
    await waitFor(() => received.length === 2);
    expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(55);
    nackedAt = Date.now();
    state.nack(received[1]!.ackId);
    await waitFor(() => received.length === 3);
    expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(115);
    state.close();
  });

  it('dead-letters after maxDeliveryAttempts, and keeps the message when it cannot', async () => {
    const { state, deadLettered } = subscription({ deadLetter: { topic: 'projects/p/topics/dlq', maxDeliveryAttempts: 2 } });
    const { consumer, received } = collector();
    state.addConsumer(consumer);
    state.enqueue(message('1'));
    await sleep(5);
    state.nack(received[0]!.ackId);
    await sleep(5);
    state.nack(received[1]!.ackId);
    await sleep(5);
    expect(received).toHaveLength(2);
    expect(deadLettered).toEqual([{ id: '1', attempts: 2 }]);
    expect(state.stats()).toEqual({ ready: 0, delayed: 0, outstanding: 0 });

    const stuck = subscription({ deadLetter: { topic: 'projects/p/topics/gone', maxDeliveryAttempts: 1 } }, () => false);
    const other = collector();
    stuck.state.addConsumer(other.consumer);
    stuck.state.enqueue(message('2'));
    await sleep(5);
    stuck.state.nack(other.received[0]!.ackId);
    await sleep(5);
    expect(other.received.map((d) => d.deliveryAttempt)).toEqual([1, 2]);
    stuck.state.close();
  });

  it('holds back messages past a consumer’s max outstanding messages and bytes', async () => {
    const { state } = subscription();
    const byCount = collector({ maxMessages: 2 });
    state.addConsumer(byCount.consumer);
    for (const id of ['1', '2', '3', '4']) state.enqueue(message(id));
    await sleep(5);
    expect(byCount.received).toHaveLength(2);
    state.ack([byCount.received[0]!.ackId]);
    await sleep(5);
    expect(byCount.received.map((d) => d.message.messageId)).toEqual(['1', '2', '3']);
    state.removeConsumer(byCount.consumer);

    // 7-byte payloads under a 10-byte budget: one at a time, but never none.
    const byBytes = collector({ maxBytes: 10 });
    state.addConsumer(byBytes.consumer);
    await sleep(5);
    expect(byBytes.received.map((d) => d.message.messageId)).toEqual(['4']);
    state.close();
  });
});

describe('subscription pull', () => {
  it('answers at once when messages are ready, or empty when told not to wait', async () => {
    const { state } = subscription();
    expect(await state.pull(10, 0)).toEqual([]);
    state.enqueue(message('1'));
    state.enqueue(message('2'));
    state.enqueue(message('3'));
    expect((await state.pull(2, 0)).map((d) => d.message.messageId)).toEqual(['1', '2']);
    state.close();
  });

  it('waits for a message, and gives up empty on timeout, abort or close', async () => {
    const { state } = subscription();
    const waiting = state.pull(5, 1000);
    setTimeout(() => state.enqueue(message('1')), 20);
    expect((await waiting).map((d) => d.message.messageId)).toEqual(['1']);

    expect(await state.pull(5, 30)).toEqual([]);
    const aborted = new AbortController();
    const cancelled = state.pull(5, 10_000, aborted.signal);
    aborted.abort();
    expect(await cancelled).toEqual([]);
    const closing = state.pull(5, 10_000);
    state.close();
    expect(await closing).toEqual([]);
  });
});
