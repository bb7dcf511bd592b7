import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PubSub } from '@google-cloud/pubsub';
import { LOCAL } from '@strata/dev/local-config';
import { startStack, type Stack, type StackOptions } from '@strata/dev/stack';
import { testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { makeEvent, makeStoredEvent } from '../src/fixtures.js';

/** A local stack in a temp folder over a real PostgreSQL (see testDatabase), torn down by `stop`. */
export async function startTestStack(options: StackOptions = {}): Promise<{ stack: Stack; database: TestDatabase; stop: () => Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-e2e-'));
  const database = await testDatabase();
  try {
    const stack = await startStack({ dataDir, databaseUrl: database.url, logLevel: 'info', ...options });
    return {
      stack,
      database,
      stop: async () => {
        await stack.stop().finally(() => database.stop());
        // STRATA_KEEP_TEST_DATA=1 keeps the lake and the services' logs for a look after a failure.
        if (process.env.STRATA_KEEP_TEST_DATA) console.log(`test data kept in ${dataDir}`);
        else rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await database.stop();
    throw err;
  }
}

/** POSTs events to ingest as a producer would; returns the event ids ingest assigned. */
export async function postEvents(stack: Stack, events: Record<string, unknown>[]): Promise<string[]> {
  const res = await fetch(`${stack.urls.ingest}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': LOCAL.apiKey },
    body: JSON.stringify(events),
  });
  const body = (await res.json()) as { event_ids?: string[] };
  if (res.status !== 202 || !body.event_ids) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(body)}`);
  return body.event_ids;
}

/** Publishes events straight to the topic with the official client, as a backend service would. */
export async function publishDirect(stack: Stack, events: Record<string, unknown>[]): Promise<string[]> {
  const pubsub = new PubSub({ projectId: LOCAL.projectId, apiEndpoint: stack.clientEnv.PUBSUB_EMULATOR_HOST });
  try {
    const topic = pubsub.topic(LOCAL.topic);
    await Promise.all(
      events.map((event) =>
        topic.publishMessage({ json: event, attributes: { log_type: 'user_action', schema_version: '1' } }),
      ),
    );
    return events.map((e) => String(e.event_id));
  } finally {
    await pubsub.close();
  }
}

/** What the writer holds right now, as its GET /stats reports it (behind the push subscription's token). */
export async function writerBuffered(stack: Stack): Promise<{ items: number; bytes: number; openBatches: number; flushing: number }> {
  const res = await fetch(`${stack.urls.writer}/stats`, { headers: { authorization: `Bearer ${await stack.tokenFor('writer')}` } });
  const body = (await res.json()) as { buffered?: { items: number; bytes: number; openBatches: number; flushing: number } };
  if (!body.buffered) throw new Error(`writer /stats answered ${res.status} without buffer stats: ${JSON.stringify(body)}`);
  return body.buffered;
}

export async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!(await condition())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return Date.now() - started;
}

/** The start of the UTC hour `back` hours ago: event times ingest and the writer accept (within 7 days). */
export function recentHour(back: number): number {
  return Math.floor(Date.now() / 3_600_000) * 3_600_000 - back * 3_600_000;
}

/** `count` events spread over three event-time hours (so several partitions are written). */
export function eventsOverHours(count: number, base = recentHour(3)) {
  return Array.from({ length: count }, (_, i) =>
    makeEvent({ event: ['page_view', 'search', 'add_to_cart'][i % 3], ts: new Date(base + (i % 3) * 3_600_000 + i * 1000).toISOString(), user_id: `u${i % 7}` }),
  );
}

export { makeEvent, makeStoredEvent };
