import { createServer, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { closeServer, listen } from '@strata/runtime';
import { createOidcIssuer } from '../oidc-issuer.js';
import type { StoredMessage } from './messages.js';
import { createPushConsumer } from './push.js';
import type { WrappedPushBody } from './push-body.js';
import { createSubscriptionState } from './subscription.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(10);
  }
}

const message = (id: string): StoredMessage => ({ messageId: id, data: Buffer.from(id), attributes: {}, publishTime: new Date(), orderingKey: '' });

describe('push delivery', () => {
  const stops: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  /** A push endpoint that answers each request with what `respond` says; undefined = never answer. */
  async function endpoint(respond: (n: number) => number | undefined) {
    const seen: Array<{ at: number; body: WrappedPushBody }> = [];
    const hanging: ServerResponse[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        seen.push({ at: Date.now(), body: JSON.parse(Buffer.concat(chunks).toString()) as WrappedPushBody });
        const code = respond(seen.length);
        if (code === undefined) hanging.push(res);
        else res.writeHead(code).end();
      });
    });
    const port = await listen(server, 0, '127.0.0.1');
    stops.push(() => {
      server.closeAllConnections();
      return closeServer(server)();
    });
    return { url: `http://127.0.0.1:${port}/push`, seen };
  }

  async function pushSubscription(url: string, ackDeadlineMs: number) {
    let ackIds = 0;
    const state = createSubscriptionState(
      { name: 'projects/p/subscriptions/push', ackDeadlineMs, retry: { minMs: 20, maxMs: 100 } },
      { nextAckId: () => `projects/p/subscriptions/push:${++ackIds}`, deadLetter: () => false },
    );
    const consumer = createPushConsumer(state, () => ({ pushEndpoint: url }), { issuer: await createOidcIssuer(), maxConcurrentPushes: 10 });
    state.addConsumer(consumer);
    stops.push(() => {
      consumer.close();
      state.close();
    });
    return state;
  }

  it('acks on 201 and redelivers after a 429', async () => {
    const { url, seen } = await endpoint((n) => (n === 1 ? 429 : 201));
    const state = await pushSubscription(url, 5000);
    state.enqueue(message('1'));
    await waitFor(() => seen.length >= 2);
    await waitFor(() => state.stats().outstanding === 0);
    await sleep(150);
    expect(seen.map((s) => s.body.message.messageId)).toEqual(['1', '1']);
    expect(state.stats()).toEqual({ ready: 0, delayed: 0, outstanding: 0 });
  });

  it('nacks a push not answered within the ack deadline and delivers it again', async () => {
    const { url, seen } = await endpoint((n) => (n === 1 ? undefined : 204));
    const state = await pushSubscription(url, 150);
    state.enqueue(message('1'));
    await waitFor(() => seen.length >= 2);
    expect(seen[1]!.at - seen[0]!.at).toBeGreaterThanOrEqual(150);
    await waitFor(() => state.stats().outstanding === 0);
  });
});
