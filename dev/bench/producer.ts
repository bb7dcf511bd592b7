/**
 * The benchmark's producer, run as its own process so that building and sending requests does not
 * share an event loop with the emulators the benchmark measures: `CONNECTIONS` loopback clients
 * POST batches of current user_action events to ingest for `SECONDS`, append the event_id of every
 * 202 to `IDS_FILE` (one a line), and print one JSON line of timings (epoch ms) at the end.
 * Started by pipeline.ts with BENCH_PRODUCER_* variables; not meant to be run by hand.
 */
import { createWriteStream } from 'node:fs';

export interface ProducerResult {
  firstRequestAt: number;
  /** The first 202, epoch ms (0 when none). */
  firstAcceptAt: number;
  lastAcceptAt: number;
  accepted: number;
  requests: number;
  /** Requests answered anything but 202 (their events were not accepted). */
  refused: number;
}

const required = (name: string) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const EVENTS = ['page_view', 'product_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout_started'] as const;
const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!;

/** A shopper's action as a browser SDK would send it now: routing field, event, and its details. */
function userAction(): Record<string, unknown> {
  const event = pick(EVENTS);
  const user = Math.floor(Math.random() * 50_000);
  const product = `p-${Math.floor(Math.random() * 5_000)}`;
  const base: Record<string, unknown> = {
    log_type: 'user_action',
    event,
    ts: new Date().toISOString(),
    user_id: `u-${user}`,
    session_id: `s-${user}-${Math.floor(Date.now() / 1_800_000)}`,
    source: pick(['web', 'ios', 'android']),
    page_url: `https://shop.example/p/${product}`,
    referrer: pick(['https://www.google.com/', 'https://shop.example/']),
    context: {
      user_agent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
      locale: pick(['de-DE', 'en-GB', 'fr-FR']),
      // Redacted by ingest (x-pii: redact): the benchmark pays for PII handling as production does.
      ip: '203.0.113.7',
      page: { url: `https://shop.example/p/${product}`, title: 'Blue mug' },
    },
  };
  if (event === 'search') return { ...base, search_query: pick(['blue mug', 'tea pot', 'linen napkins', 'oak board']) };
  if (event === 'page_view') return base;
  const priced = { ...base, product_id: product, price: Math.round(Math.random() * 10_000) / 100, currency: 'EUR' };
  return event === 'product_view' ? priced : { ...priced, cart_id: `c-${user}`, quantity: 1 + Math.floor(Math.random() * 3) };
}

async function main(): Promise<void> {
  const ingestUrl = required('BENCH_PRODUCER_INGEST_URL');
  const apiKey = required('BENCH_PRODUCER_API_KEY');
  const seconds = Number(required('BENCH_PRODUCER_SECONDS'));
  const connections = Number(required('BENCH_PRODUCER_CONNECTIONS'));
  const eventsPerRequest = Number(required('BENCH_PRODUCER_EVENTS_PER_REQUEST'));
  const ids = createWriteStream(required('BENCH_PRODUCER_IDS_FILE'));

  const result: ProducerResult = { firstRequestAt: Date.now(), firstAcceptAt: 0, lastAcceptAt: 0, accepted: 0, requests: 0, refused: 0 };
  const until = result.firstRequestAt + seconds * 1000;
  const connection = async () => {
    while (Date.now() < until) {
      const body = JSON.stringify(Array.from({ length: eventsPerRequest }, userAction));
      result.requests += 1;
      try {
        const res = await fetch(`${ingestUrl}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
          body,
        });
        const answer = (await res.json()) as { event_ids?: string[] };
        if (res.status === 202 && answer.event_ids) {
          result.lastAcceptAt = Date.now();
          result.firstAcceptAt ||= result.lastAcceptAt;
          result.accepted += answer.event_ids.length;
          ids.write(`${answer.event_ids.join('\n')}\n`);
        } else {
          result.refused += 1;
        }
      } catch {
        result.refused += 1;
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, connection));
  await new Promise<void>((resolve, reject) => ids.end((err?: Error | null) => (err ? reject(err) : resolve())));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
