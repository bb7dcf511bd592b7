import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { PubSub, v1, type Message, type protos } from '@google-cloud/pubsub';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, createOidcVerifier, listen } from '@strata/runtime';
import { startPubsubEmulator } from './emulator.js';
import { OFFICIAL_EMULATOR_BIN, officialEmulatorInstalled, startOfficialEmulator } from './official-emulator.js';
import type { WrappedPushBody } from './push-body.js';

/**
 * One suite, run with the real @google-cloud/pubsub client against our emulator and against Google's
 * official one (when installed), so ours is held to the behaviour of the reference. Where the official
 * emulator lacks a feature the test says so in its title and asserts the official behaviour.
 */

// Without this the client probes the GCE metadata server, an address off this machine.
process.env.METADATA_SERVER_DETECTION = 'none';

// 'ours-durable' is ours with a journal: it must behave exactly as in memory.
type Kind = 'ours' | 'ours-durable' | 'official';

interface Profile {
  /** Push requests carry `Authorization: Bearer <jwt>` when pushConfig.oidcToken is set. */
  pushJwt: boolean;
  /** The wrapped push body has `deliveryAttempt` when the subscription has a dead-letter policy. */
  pushDeliveryAttempt: boolean;
  /** Push requests in flight at once for one subscription. */
  pushConcurrency: number;
  /** Least wait before a failed push is retried, with retryPolicy.minimumBackoff = 0.1 s. */
  pushRetryMinGapMs: number;
  /** StreamingPull stops sending at the stream's maxOutstandingMessages until some are acked. */
  streamFlowControl: boolean;
}

const OURS_MAX_CONCURRENT_PUSHES = 3;
const profiles: Record<Kind, Profile> = {
  ours: { pushJwt: true, pushDeliveryAttempt: true, pushConcurrency: OURS_MAX_CONCURRENT_PUSHES, pushRetryMinGapMs: 90, streamFlowControl: true },
  'ours-durable': { pushJwt: true, pushDeliveryAttempt: true, pushConcurrency: OURS_MAX_CONCURRENT_PUSHES, pushRetryMinGapMs: 90, streamFlowControl: true },
  // From the official emulator 0.8.20 (jar constants and observed requests): HttpEndpointPusher sends no
  // Authorization header and no deliveryAttempt; PushLoop runs NUM_CONCURRENT_PUSH_REQUESTS = 2 and retries
  // a failed push after a fixed PUSH_RETRY_AFTER_FAIL_DELAY_MS = 1000, whatever the retry policy says;
  // its StreamingPull sends everything regardless of max_outstanding_messages.
  official: { pushJwt: false, pushDeliveryAttempt: false, pushConcurrency: 2, pushRetryMinGapMs: 900, streamFlowControl: false },
};

interface Target {
  address: string;
  certsUrl: string | undefined;
  stop(): Promise<void>;
}

// Another install location (or a missing one, to see the skip) can be given here.
const officialBin = process.env.PUBSUB_OFFICIAL_EMULATOR_BIN || OFFICIAL_EMULATOR_BIN;

async function startTarget(kind: Kind): Promise<Target> {
  if (kind === 'official') {
    const official = await startOfficialEmulator({ bin: officialBin });
    return { address: official.address, certsUrl: undefined, stop: official.stop };
  }
  const dataDir = kind === 'ours-durable' ? mkdtempSync(join(tmpdir(), 'pubsub-durable-')) : undefined;
  const ours = await startPubsubEmulator({ maxConcurrentPushes: OURS_MAX_CONCURRENT_PUSHES, dataDir });
  return {
    address: ours.address,
    certsUrl: ours.certsUrl,
    stop: async () => {
      await ours.stop();
      if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const PROJECT = 'strata-conformance';
const SERVICE_ACCOUNT = 'pubsub-push@strata-conformance.iam.gserviceaccount.com';
const RETRY_FAST = { minimumBackoff: { seconds: 0, nanos: 100_000_000 }, maximumBackoff: { seconds: 1 } };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

interface PushReceived {
  at: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: WrappedPushBody;
}

const kinds: Kind[] = officialEmulatorInstalled(officialBin) ? ['ours', 'ours-durable', 'official'] : ['ours', 'ours-durable'];

if (!kinds.includes('official')) {
  console.warn(
    `Google's official Pub/Sub emulator is not installed (${officialBin}); the conformance suite runs against ours alone. ` +
      'Install the Debian package google-cloud-cli-pubsub-emulator to compare both.',
  );
  describe.skip(`official emulator not installed (${officialBin}): conformance against Google's emulator not run`, () => {
    it('runs the suite against the official emulator', () => undefined);
  });
}

describe.each(kinds)('Pub/Sub conformance: %s emulator', (kind) => {
  const profile = profiles[kind];
  let target: Target;
  let pubsub: PubSub;
  let subscriber: v1.SubscriberClient;
  let cleanups: Array<() => Promise<unknown>> = [];
  let counter = 0;
  const unique = (base: string) => `${base}-${++counter}`;
  const subscriptionPath = (id: string) => `projects/${PROJECT}/subscriptions/${id}`;

  beforeAll(async () => {
    target = await startTarget(kind);
    pubsub = new PubSub({ projectId: PROJECT, apiEndpoint: target.address });
    // The same endpoint and insecure channel the PubSub object uses (its ClientConfig types differ only nominally).
    subscriber = new v1.SubscriberClient((await pubsub.getClientConfig()) as ConstructorParameters<typeof v1.SubscriberClient>[0]);
  });

  afterEach(async () => {
    const steps = cleanups.reverse();
    cleanups = [];
    for (const step of steps) await step().catch(() => undefined);
  });

  afterAll(async () => {
    await subscriber?.close();
    await pubsub?.close();
    await target?.stop();
  });

  async function topicWithSubscription(options: Parameters<PubSub['createSubscription']>[2] = {}) {
    const [topic] = await pubsub.createTopic(unique('topic'));
    const [subscription] = await topic.createSubscription(unique('sub'), options);
    cleanups.push(() => subscription.delete(), () => topic.delete());
    return { topic, subscription, id: subscription.name.split('/').pop()! };
  }

  /** Unary Pull with returnImmediately, polled: the official emulator holds an empty Pull open indefinitely. */
  async function pullAtLeast(id: string, count: number, timeoutMs = 5000): Promise<protos.google.pubsub.v1.IReceivedMessage[]> {
    const received: protos.google.pubsub.v1.IReceivedMessage[] = [];
    const deadline = Date.now() + timeoutMs;
    while (received.length < count) {
      if (Date.now() > deadline) throw new Error(`pulled ${received.length} of ${count} messages from ${id} in ${timeoutMs} ms`);
      const [response] = await subscriber.pull({ subscription: subscriptionPath(id), maxMessages: 100, returnImmediately: true });
      received.push(...(response.receivedMessages ?? []));
      if (received.length < count) await sleep(25);
    }
    return received;
  }

  async function pullNothingFor(id: string, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const [response] = await subscriber.pull({ subscription: subscriptionPath(id), maxMessages: 100, returnImmediately: true });
      expect(response.receivedMessages ?? []).toEqual([]);
      await sleep(100);
    }
  }

  const nack = (id: string, ackIds: string[]) => subscriber.modifyAckDeadline({ subscription: subscriptionPath(id), ackIds, ackDeadlineSeconds: 0 });

  async function startPushReceiver(respond: (attempt: number) => number | Promise<number> = () => 204) {
    const received: PushReceived[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        inFlight += 1;
        maxInFlight = Math.max(maxInFlight, inFlight);
        received.push({ at: Date.now(), path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()) as WrappedPushBody });
        void Promise.resolve(respond(received.length)).then((code) => {
          inFlight -= 1;
          res.writeHead(code).end();
        });
      });
    });
    const port = await listen(server, 0, '127.0.0.1');
    // Runs after the subscriptions pushing here are deleted; keep-alive sockets would hold close() for 5 s.
    cleanups.push(async () => {
      const closed = closeServer(server)();
      server.closeAllConnections();
      await closed;
    });
    return { url: `http://127.0.0.1:${port}`, received, maxInFlight: () => maxInFlight };
  }

  it('creates, gets, lists and deletes topics with the service error codes', async () => {
    const id = unique('topic');
    const [topic] = await pubsub.createTopic(id);
    expect(topic.name).toBe(`projects/${PROJECT}/topics/${id}`);
    await expect(pubsub.createTopic(id)).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    await expect(pubsub.createTopic('ab')).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect((await topic.exists())[0]).toBe(true);
    const [topics] = await pubsub.getTopics();
    expect(topics.map((t) => t.name)).toContain(topic.name);
    await expect(pubsub.topic('missing-topic').get()).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(pubsub.topic('missing-topic').publishMessage({ data: Buffer.from('x') })).rejects.toMatchObject({ code: status.NOT_FOUND });
    await topic.delete();
    expect((await topic.exists())[0]).toBe(false);
    await expect(topic.delete()).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('creates, gets, lists, re-points and deletes subscriptions with the service error codes', async () => {
    const [topic] = await pubsub.createTopic(unique('topic'));
    const id = unique('sub');
    const [subscription] = await topic.createSubscription(id, { ackDeadlineSeconds: 15 });
    cleanups.push(() => topic.delete().catch(() => undefined));
    const [metadata] = await subscription.getMetadata();
    expect(metadata).toMatchObject({ name: subscriptionPath(id), topic: topic.name, ackDeadlineSeconds: 15 });
    await expect(topic.createSubscription(id)).rejects.toMatchObject({ code: status.ALREADY_EXISTS });
    await expect(pubsub.topic('missing-topic').createSubscription(unique('sub'))).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(pubsub.subscription('missing-sub').getMetadata()).rejects.toMatchObject({ code: status.NOT_FOUND });
    await expect(pubsub.subscription('missing-sub').delete()).rejects.toMatchObject({ code: status.NOT_FOUND });
    expect((await pubsub.getSubscriptions())[0].map((s) => s.name)).toContain(subscription.name);
    expect((await topic.getSubscriptions())[0].map((s) => s.name)).toContain(subscription.name);

    await subscription.modifyPushConfig({ pushEndpoint: 'http://127.0.0.1:9/push' });
    expect((await subscription.getMetadata())[0].pushConfig?.pushEndpoint).toBe('http://127.0.0.1:9/push');
    await subscription.modifyPushConfig({});
    expect((await subscription.getMetadata())[0].pushConfig?.pushEndpoint ?? '').toBe('');

    // A subscription outlives its topic, detached.
    await topic.delete();
    expect((await subscription.getMetadata())[0].topic).toBe('_deleted-topic_');
    await subscription.delete();
    await expect(subscription.getMetadata()).rejects.toMatchObject({ code: status.NOT_FOUND });
  });

  it('publish → pull → ack: data, attributes and id arrive; an acked message is not redelivered', async () => {
    const { topic, id } = await topicWithSubscription({ ackDeadlineSeconds: 1 });
    const messageId = await topic.publishMessage({ data: Buffer.from('hello'), attributes: { log_type: 'page_view', schema_version: '2' } });
    const [received] = await pullAtLeast(id, 1);
    expect(received!.message).toMatchObject({ messageId, attributes: { log_type: 'page_view', schema_version: '2' } });
    expect(Buffer.from(received!.message!.data!).toString()).toBe('hello');
    // Without a dead-letter policy the service reports no delivery attempt.
    expect(received!.deliveryAttempt ?? 0).toBe(0);
    await subscriber.acknowledge({ subscription: subscriptionPath(id), ackIds: [received!.ackId!] });
    await pullNothingFor(id, 1500);
  });

  it('fans a message out to every subscription that existed when it was published', async () => {
    const { topic, id } = await topicWithSubscription();
    const [second] = await topic.createSubscription(unique('sub'));
    cleanups.push(() => second.delete());
    const messageId = await topic.publishMessage({ data: Buffer.from('fan-out') });
    const [late] = await topic.createSubscription(unique('sub'));
    cleanups.push(() => late.delete());
    expect((await pullAtLeast(id, 1))[0]!.message!.messageId).toBe(messageId);
    expect((await pullAtLeast(second.name.split('/').pop()!, 1))[0]!.message!.messageId).toBe(messageId);
    await pullNothingFor(late.name.split('/').pop()!, 300);
  });

  it('redelivers a nacked message (ModifyAckDeadline 0) at once', async () => {
    const { topic, id } = await topicWithSubscription({ ackDeadlineSeconds: 60 });
    const messageId = await topic.publishMessage({ data: Buffer.from('nack me') });
    const [first] = await pullAtLeast(id, 1);
    const nackedAt = Date.now();
    await nack(id, [first!.ackId!]);
    const [again] = await pullAtLeast(id, 1, 2000);
    expect(again!.message!.messageId).toBe(messageId);
    expect(again!.ackId).not.toBe(first!.ackId);
    expect(Date.now() - nackedAt).toBeLessThan(2000);
  });

  it('redelivers a message whose ack deadline expired', async () => {
    const { topic, id } = await topicWithSubscription({ ackDeadlineSeconds: 1 });
    const messageId = await topic.publishMessage({ data: Buffer.from('let me expire') });
    await pullAtLeast(id, 1);
    const pulledAt = Date.now();
    const [again] = await pullAtLeast(id, 1, 6000);
    expect(again!.message!.messageId).toBe(messageId);
    expect(Date.now() - pulledAt).toBeGreaterThanOrEqual(900);
  });

  it('streams messages to subscription.on("message") and redelivers a nacked one', async () => {
    const { topic, subscription } = await topicWithSubscription();
    const published = await Promise.all(
      ['a', 'b', 'c'].map((d, i) => topic.publishMessage({ data: Buffer.from(d), attributes: { index: String(i) } })),
    );
    const before = Date.now();
    const seen: Message[] = [];
    let nacked = false;
    subscription.on('message', (message: Message) => {
      seen.push(message);
      if (message.data.toString() === 'b' && !nacked) {
        nacked = true;
        message.nack();
      } else message.ack();
    });
    cleanups.push(() => subscription.close());
    await waitFor(() => seen.length >= 4, 10_000, 'three messages and one redelivery');
    const byId = (id: string) => seen.filter((m) => m.id === id);
    expect(byId(published[1]!)).toHaveLength(2);
    for (const [i, id] of published.entries()) {
      const [message] = byId(id);
      expect(message!.data.toString()).toBe(['a', 'b', 'c'][i]);
      expect(message!.attributes).toEqual({ index: String(i) });
      expect(message!.publishTime.getTime()).toBeGreaterThan(before - 60_000);
      expect(message!.publishTime.getTime()).toBeLessThanOrEqual(Date.now());
    }
  });

  it('keeps attributes exactly, including an attribute-only message', async () => {
    const { topic, id } = await topicWithSubscription();
    const attributes = { log_type: 'order_confirmed', schema_version: '1', 'x-unicode': 'Grüße, 世界', empty: '' };
    await topic.publishMessage({ attributes: { only: 'attributes' } });
    await topic.publishMessage({ data: Buffer.from([0, 1, 2, 255]), attributes });
    const received = await pullAtLeast(id, 2);
    const byData = (len: number) => received.find((r) => (r.message?.data?.length ?? 0) === len)!.message!;
    expect(byData(0).attributes).toEqual({ only: 'attributes' });
    expect(byData(4).attributes).toEqual(attributes);
    expect([...Buffer.from(byData(4).data!)]).toEqual([0, 1, 2, 255]);
  });

  it(
    profile.streamFlowControl
      ? 'honours the StreamingPull max outstanding messages and acks sent on the stream'
      : 'honours the StreamingPull max outstanding messages (official emulator: ignores it, asserts all are sent)',
    async () => {
      const { topic, id } = await topicWithSubscription();
      const stream = subscriber.streamingPull();
      const received: protos.google.pubsub.v1.IReceivedMessage[] = [];
      stream.on('data', (response: protos.google.pubsub.v1.IStreamingPullResponse) => received.push(...(response.receivedMessages ?? [])));
      stream.on('error', () => undefined);
      cleanups.push(async () => stream.cancel());
      stream.write({ subscription: subscriptionPath(id), streamAckDeadlineSeconds: 30, maxOutstandingMessages: 2 });
      await Promise.all([1, 2, 3, 4, 5].map((n) => topic.publishMessage({ data: Buffer.from(`m${n}`) })));
      await waitFor(() => received.length >= 2, 5000, 'the first two messages');
      await sleep(500);
      if (!profile.streamFlowControl) {
        expect(received).toHaveLength(5);
        return;
      }
      expect(received).toHaveLength(2);
      stream.write({ ackIds: [received[0]!.ackId!] });
      await waitFor(() => received.length >= 3, 5000, 'one more message after an ack');
      await sleep(500);
      expect(received).toHaveLength(3);
    },
  );

  it('dead-letters after maxDeliveryAttempts, keeping data and attributes', async () => {
    const [deadLetters] = await pubsub.createTopic(unique('dead-letters'));
    const [held] = await deadLetters.createSubscription(unique('dead-letter-hold'));
    cleanups.push(() => deadLetters.delete(), () => held.delete());
    const { topic, id } = await topicWithSubscription({ deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 } });
    await expect(
      topic.createSubscription(unique('sub'), { deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 3 } }),
    ).rejects.toMatchObject({ code: expect.any(Number) });
    const messageId = await topic.publishMessage({ data: Buffer.from('poison'), attributes: { log_type: 'page_view' } });
    const attempts: number[] = [];
    for (let i = 0; i < 5; i++) {
      const [received] = await pullAtLeast(id, 1);
      expect(received!.message!.messageId).toBe(messageId);
      attempts.push(received!.deliveryAttempt ?? 0);
      await nack(id, [received!.ackId!]);
    }
    expect(attempts).toEqual([1, 2, 3, 4, 5]);
    // Not offered again; the official emulator forwards to the dead-letter topic on this next pull.
    await pullNothingFor(id, 300);
    const [deadLettered] = await pullAtLeast(held.name.split('/').pop()!, 1);
    expect(Buffer.from(deadLettered!.message!.data!).toString()).toBe('poison');
    expect(deadLettered!.message!.attributes).toMatchObject({
      log_type: 'page_view',
      CloudPubSubDeadLetterSourceDeliveryCount: '5',
      CloudPubSubDeadLetterSourceSubscription: id,
      CloudPubSubDeadLetterSourceSubscriptionProject: PROJECT,
    });
  });

  it(
    profile.pushDeliveryAttempt
      ? 'pushes the wrapped JSON body, with deliveryAttempt only under a dead-letter policy'
      : 'pushes the wrapped JSON body (official emulator: never sends deliveryAttempt, asserts absence)',
    async () => {
      const receiver = await startPushReceiver();
      const [deadLetters] = await pubsub.createTopic(unique('dead-letters'));
      cleanups.push(() => deadLetters.delete());
      const { topic, id } = await topicWithSubscription({
        pushConfig: { pushEndpoint: `${receiver.url}/with-dlq` },
        deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
      });
      const [plain] = await topic.createSubscription(unique('sub'), { pushConfig: { pushEndpoint: `${receiver.url}/plain` } });
      cleanups.push(() => plain.delete());
      const before = Date.now();
      const messageId = await topic.publishMessage({ data: Buffer.from('{"event":"page_view"}'), attributes: { log_type: 'page_view', schema_version: '1' } });
      await waitFor(() => receiver.received.length >= 2, 5000, 'two pushes');
      const withDlq = receiver.received.find((r) => r.path === '/with-dlq')!;
      const withoutDlq = receiver.received.find((r) => r.path === '/plain')!;
      expect(withDlq.headers['content-type']).toMatch(/^application\/json/);
      expect(withDlq.body).toMatchObject({
        subscription: subscriptionPath(id),
        message: {
          data: Buffer.from('{"event":"page_view"}').toString('base64'),
          attributes: { log_type: 'page_view', schema_version: '1' },
          messageId,
          message_id: messageId,
        },
      });
      const { publishTime, publish_time } = withDlq.body.message;
      expect(publish_time).toBe(publishTime);
      expect(publishTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
      expect(Date.parse(publishTime)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(publishTime)).toBeLessThanOrEqual(Date.now());
      expect(withoutDlq.body.subscription).toBe(plain.name);
      expect(withoutDlq.body).not.toHaveProperty('deliveryAttempt');
      if (profile.pushDeliveryAttempt) expect(withDlq.body.deliveryAttempt).toBe(1);
      else expect(withDlq.body).not.toHaveProperty('deliveryAttempt');
    },
  );

  it(`retries a push answered 500, then stops once it is acked (${kind === 'official' ? 'official emulator: fixed 1 s retry delay' : 'retry policy backoff 0.1 s'})`, async () => {
    const receiver = await startPushReceiver((attempt) => (attempt === 1 ? 500 : 204));
    const [deadLetters] = await pubsub.createTopic(unique('dead-letters'));
    cleanups.push(() => deadLetters.delete());
    const { topic } = await topicWithSubscription({
      ackDeadlineSeconds: 10,
      pushConfig: { pushEndpoint: `${receiver.url}/push` },
      retryPolicy: RETRY_FAST,
      deadLetterPolicy: { deadLetterTopic: deadLetters.name, maxDeliveryAttempts: 5 },
    });
    const messageId = await topic.publishMessage({ data: Buffer.from('retry me') });
    await waitFor(() => receiver.received.length >= 2, 5000, 'a retried push');
    const [first, second] = receiver.received;
    expect(first!.body.message.messageId).toBe(messageId);
    expect(second!.body.message.messageId).toBe(messageId);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(profile.pushRetryMinGapMs);
    if (profile.pushDeliveryAttempt) expect([first!.body.deliveryAttempt, second!.body.deliveryAttempt]).toEqual([1, 2]);
    else expect(second!.body).not.toHaveProperty('deliveryAttempt');
    await sleep(1500);
    expect(receiver.received).toHaveLength(2);
  });

  it(`limits concurrent push requests per subscription to ${profile.pushConcurrency}${kind === 'official' ? ' (official emulator: fixed)' : ' (maxConcurrentPushes)'}`, async () => {
    const receiver = await startPushReceiver(async () => {
      await sleep(250);
      return 204;
    });
    const { topic } = await topicWithSubscription({ pushConfig: { pushEndpoint: `${receiver.url}/push` } });
    const count = profile.pushConcurrency * 3;
    await Promise.all(Array.from({ length: count }, (_, i) => topic.publishMessage({ data: Buffer.from(`m${i}`) })));
    await waitFor(() => receiver.received.length >= count, 10_000, `${count} pushes`);
    expect(receiver.maxInFlight()).toBe(profile.pushConcurrency);
    expect(new Set(receiver.received.map((r) => r.body.message.messageId)).size).toBe(count);
  });

  it(
    profile.pushJwt
      ? 'push carries an OIDC JWT that createOidcVerifier accepts (audience defaults to the endpoint)'
      : 'push carries an OIDC JWT (official emulator: not supported, asserts absence)',
    async () => {
      const receiver = await startPushReceiver();
      const audience = 'https://writer.strata.test/push';
      const { topic } = await topicWithSubscription({
        pushConfig: { pushEndpoint: `${receiver.url}/explicit`, oidcToken: { serviceAccountEmail: SERVICE_ACCOUNT, audience } },
      });
      const [implicit] = await topic.createSubscription(unique('sub'), {
        pushConfig: { pushEndpoint: `${receiver.url}/implicit`, oidcToken: { serviceAccountEmail: SERVICE_ACCOUNT } },
      });
      cleanups.push(() => implicit.delete());
      await topic.publishMessage({ data: Buffer.from('signed') });
      await waitFor(() => receiver.received.length >= 2, 5000, 'two pushes');
      const explicit = receiver.received.find((r) => r.path === '/explicit')!;
      const implicitPush = receiver.received.find((r) => r.path === '/implicit')!;
      if (!profile.pushJwt) {
        expect(explicit.headers.authorization).toBeUndefined();
        expect(implicitPush.headers.authorization).toBeUndefined();
        return;
      }
      const verify = (aud: string, header: string | undefined) =>
        createOidcVerifier({ audience: aud, serviceAccountEmail: SERVICE_ACCOUNT, certsUrl: target.certsUrl }).verify(header);
      expect(await verify(audience, explicit.headers.authorization)).toEqual({ ok: true, email: SERVICE_ACCOUNT });
      expect(await verify(`${receiver.url}/implicit`, implicitPush.headers.authorization)).toEqual({ ok: true, email: SERVICE_ACCOUNT });
      expect((await verify('https://someone-else.test/', explicit.headers.authorization)).ok).toBe(false);
    },
  );
});
