import { PubSub, v1, type protos } from '@google-cloud/pubsub';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startPubsubEmulator, type PubsubEmulator } from '@strata/dev/pubsub-emulator';
import { decodeBatch, type OrderEvent, type UserAction } from '@strata/schemas';
import { createPublisher, PublishError, type TrackResult } from './index.js';

/**
 * End to end against the local Pub/Sub emulator through the real @google-cloud/pubsub client: what
 * the publisher sends is pulled back and decoded exactly as the writer decodes a push.
 */

const PROJECT = 'strata-publisher-test';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const pageView = (n: number): UserAction => ({ event: 'page_view', ts: '2026-11-21T10:15:30.123Z', user_id: `u-${n}`, source: 'web', page_url: `https://shop.example/p/${n}` });
const orderPaid = (n: number): OrderEvent => ({ event: 'order_paid', ts: '2026-11-21T11:05:09Z', order_id: `o-${n}`, amount: 10 + n, currency: 'EUR', item_count: 1 });

interface Received {
  attributes: Record<string, string>;
  events: Array<Record<string, unknown>>;
}

function idOf(result: TrackResult): string {
  if (!result.ok) throw new Error(result.reason);
  return result.eventId;
}

describe('publisher against the Pub/Sub emulator', () => {
  let emulator: PubsubEmulator;
  let pubsub: PubSub;
  let subscriber: v1.SubscriberClient;
  let counter = 0;

  beforeAll(async () => {
    emulator = await startPubsubEmulator();
    // The publisher's own client finds the emulator the way every service does: this variable.
    vi.stubEnv('PUBSUB_EMULATOR_HOST', emulator.address);
    pubsub = new PubSub({ projectId: PROJECT });
    subscriber = new v1.SubscriberClient((await pubsub.getClientConfig()) as ConstructorParameters<typeof v1.SubscriberClient>[0]);
  });

  afterAll(async () => {
    await subscriber?.close();
    await pubsub?.close();
    await emulator?.stop();
    vi.unstubAllEnvs();
  });

  async function topicWithSubscription(topicId = `events-${++counter}`) {
    const [topic] = await pubsub.createTopic(topicId);
    const [subscription] = await topic.createSubscription(`${topicId}-pull`);
    return { topic, topicId, subscription: subscription.name };
  }

  /** Pulls (and acks) until `count` events have arrived, decoding each message as the writer does. */
  async function receiveEvents(subscription: string, count: number, timeoutMs = 20_000): Promise<Received[]> {
    const received: Received[] = [];
    const deadline = Date.now() + timeoutMs;
    const total = () => received.reduce((sum, message) => sum + message.events.length, 0);
    while (total() < count) {
      if (Date.now() > deadline) throw new Error(`received ${total()} of ${count} events in ${timeoutMs} ms`);
      const [response] = await subscriber.pull({ subscription, maxMessages: 100, returnImmediately: true });
      const messages: protos.google.pubsub.v1.IReceivedMessage[] = response.receivedMessages ?? [];
      for (const { message } of messages) {
        const attributes = (message?.attributes ?? {}) as Record<string, string>;
        const decoded = await decodeBatch(attributes, Buffer.from(message?.data ?? ''));
        if (!decoded.ok) throw new Error(`undecodable message: ${decoded.reason}`);
        received.push({ attributes, events: decoded.lines.map((line) => (line.ok ? (line.value as Record<string, unknown>) : { unreadable: line.reason })) });
      }
      if (messages.length) await subscriber.acknowledge({ subscription, ackIds: messages.map((m) => m.ackId!) });
      else await sleep(25);
    }
    return received;
  }

  it('delivers typed events of two log types as batch messages, every one with its event_id', async () => {
    const { topicId, subscription } = await topicWithSubscription();
    const publisher = createPublisher({ topic: topicId, projectId: PROJECT, source: 'orders-service', validate: true, maxEvents: 100 });
    const sent = new Map<string, Record<string, unknown>>();
    for (let n = 0; n < 300; n++) {
      const event = pageView(n);
      sent.set(idOf(publisher.track('user_action', event)), { ...event, schema_version: 2 });
    }
    for (let n = 0; n < 200; n++) {
      const event = orderPaid(n);
      sent.set(idOf(publisher.track('order_event', event)), { ...event, schema_version: 1 });
    }
    await publisher.close();

    const received = await receiveEvents(subscription, sent.size);
    const events = received.flatMap((message) => message.events);
    expect(events).toHaveLength(sent.size);
    for (const event of events) expect(event).toEqual({ ...sent.get(String(event.event_id)), event_id: event.event_id });
    expect(new Set(events.map((e) => e.event_id)).size).toBe(sent.size);

    // Many events per message: 500 events in five full batches.
    expect(received).toHaveLength(5);
    for (const { attributes, events: carried } of received) {
      const logType = attributes.log_type;
      expect(attributes).toEqual({
        log_type: logType,
        schema_version: logType === 'user_action' ? '2' : '1',
        event_count: '100',
        encoding: 'ndjson+gzip',
        source: 'orders-service',
      });
      expect(carried).toHaveLength(100);
      expect(carried.every((e) => e.event === (logType === 'user_action' ? 'page_view' : 'order_paid'))).toBe(true);
    }
    expect(received.filter((m) => m.attributes.log_type === 'user_action')).toHaveLength(3);
  });

  it('keeps events a failed publish did not deliver and delivers them, with the same ids, on the next flush', async () => {
    const topicId = `events-${++counter}`;
    const publisher = createPublisher({ topic: topicId, projectId: PROJECT });
    const ids = [1, 2, 3].map((n) => idOf(publisher.track('order_event', orderPaid(n))));
    // The topic does not exist yet: Pub/Sub answers NOT_FOUND, which the client does not retry.
    const failed = await publisher.flush().catch((err: unknown) => err);
    expect(failed).toBeInstanceOf(PublishError);
    expect((failed as PublishError).eventIds).toEqual(ids);

    const { subscription } = await topicWithSubscription(topicId);
    await publisher.close();
    const received = await receiveEvents(subscription, 3);
    expect(received.flatMap((m) => m.events.map((e) => e.event_id))).toEqual(ids);
    expect(received[0]!.attributes).toMatchObject({ log_type: 'order_event', event_count: '3', encoding: 'ndjson', source: 'publisher-node' });
  });

  it('publishes through a Topic passed in and leaves its client open on close', async () => {
    const { topic, subscription } = await topicWithSubscription();
    const publisher = createPublisher({ topic, maxDelayMs: 50 });
    const id = idOf(publisher.track('user_action', pageView(1)));
    // No flush: the timer publishes it.
    expect((await receiveEvents(subscription, 1)).flatMap((m) => m.events.map((e) => e.event_id))).toEqual([id]);
    await publisher.close();
    await expect(topic.publishMessage({ data: Buffer.from('{}') })).resolves.toEqual(expect.any(String));
  });
});
