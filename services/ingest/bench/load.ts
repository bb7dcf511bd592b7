/**
 * The ingest benchmark's load generator, run as its own process (as dev/bench/producer.ts is) so
 * that building and sending requests does not share an event loop with the server it measures.
 *
 * It builds BODIES distinct 100-event user_action bodies once, up front (current timestamps, well
 * inside ingest's 7-day window for the few seconds a run lasts), so the load costs little CPU per
 * request; then `CONNECTIONS` keep-alive loopback connections POST them back to back: WARMUP_MS
 * unrecorded, then MEASURE_MS recorded. A request counts in the window its answer arrives in; no
 * request starts after the window ends, and the ones in flight are waited for but not counted.
 *
 * Prints `measuring` on stdout when the recorded window opens (ingest.ts samples the server's CPU
 * then) and one JSON line (LoadResult) at the end. Started by ingest.ts with BENCH_LOAD_* variables.
 */
import { Agent, request } from 'node:http';

export interface LoadResult {
  /** Requests answered in the recorded window. */
  requests: number;
  /** Events the server said it accepted, in those answers. */
  accepted: number;
  /** Answers other than 202 with every event accepted, and failed connections. */
  errors: number;
  /** The first error seen, for the report. */
  firstError: string | undefined;
  /** Length of the recorded window, ms. */
  elapsedMs: number;
  p50Ms: number;
  p99Ms: number;
  /** Mean bytes per event and per request body, as sent. */
  eventBytes: number;
  bodyBytes: number;
}

// A benchmark's knobs are its environment (this process is started by ingest.ts only).
// eslint-disable-next-line no-restricted-properties
const env = process.env;
const required = (name: string): string => {
  const value = env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};

const url = new URL('/v1/events', required('BENCH_LOAD_URL'));
const apiKey = required('BENCH_LOAD_API_KEY');
const connections = Number(required('BENCH_LOAD_CONNECTIONS'));
const eventsPerRequest = Number(required('BENCH_LOAD_EVENTS_PER_REQUEST'));
const warmUpMs = Number(required('BENCH_LOAD_WARMUP_MS'));
const measureMs = Number(required('BENCH_LOAD_MEASURE_MS'));
const BODIES = 64;

/** mulberry32: every run (and every endpoint) is sent the same shapes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(11);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const EVENTS = ['page_view', 'product_view', 'search', 'add_to_cart', 'remove_from_cart', 'checkout_started'] as const;
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
] as const;
const TITLES = ['Blue mug', 'Oak serving board', 'Linen napkins, set of 4', 'Cast iron tea pot'] as const;

/** A shopper's action as a browser SDK sends it (the shape of dev/bench/producer.ts), ~550 B as JSON. */
function userAction(ts: string): Record<string, unknown> {
  const event = pick(EVENTS);
  const user = Math.floor(random() * 50_000);
  const product = `p-${Math.floor(random() * 5_000)}`;
  const base: Record<string, unknown> = {
    log_type: 'user_action',
    event,
    ts,
    user_id: `u-${user}`,
    session_id: `s-${user}-${Math.floor(Date.now() / 1_800_000)}`,
    source: pick(['web', 'ios', 'android']),
    page_url: `https://shop.example/p/${product}`,
    referrer: pick(['https://www.google.com/', 'https://shop.example/']),
    context: {
      user_agent: pick(USER_AGENTS),
      locale: pick(['de-DE', 'en-GB', 'fr-FR']),
      // Redacted by ingest (x-pii: redact): Strata pays for PII handling as production does.
      ip: '203.0.113.7',
      page: { url: `https://shop.example/p/${product}`, title: pick(TITLES) },
    },
  };
  if (event === 'search') return { ...base, search_query: pick(['blue mug', 'tea pot', 'linen napkins', 'oak board']) };
  if (event === 'page_view') return base;
  const priced = { ...base, product_id: product, price: Math.round(random() * 10_000) / 100, currency: 'EUR' };
  return event === 'product_view' ? priced : { ...priced, cart_id: `c-${user}`, quantity: 1 + Math.floor(random() * 3) };
}

const started = Date.now();
const bodies = Array.from({ length: BODIES }, (_, b) =>
  Buffer.from(JSON.stringify(Array.from({ length: eventsPerRequest }, (_, i) => userAction(new Date(started - (b * eventsPerRequest + i)).toISOString())))),
);
const bodyBytes = bodies.reduce((sum, b) => sum + b.length, 0) / bodies.length;

const agent = new Agent({ keepAlive: true, maxSockets: connections });

function post(body: Buffer): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length, 'x-api-key': apiKey },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const latencies: number[] = [];
let accepted = 0;
let errors = 0;
let firstError: string | undefined;
const measureFrom = performance.now() + warmUpMs;
const measureUntil = measureFrom + measureMs;
let announced = false;
const recordError = (reason: string) => {
  errors += 1;
  firstError ??= reason;
};

async function connection(index: number): Promise<void> {
  for (let n = index; performance.now() < measureUntil; n += connections) {
    const sentAt = performance.now();
    let outcome: { ok: true; accepted: number } | { ok: false; reason: string };
    try {
      const res = await post(bodies[n % BODIES]!);
      const answer = res.status === 202 ? (JSON.parse(res.text) as { accepted?: unknown }) : undefined;
      outcome =
        answer?.accepted === eventsPerRequest
          ? { ok: true, accepted: eventsPerRequest }
          : { ok: false, reason: `${res.status} ${res.text.slice(0, 200)}` };
    } catch (err) {
      outcome = { ok: false, reason: err instanceof Error ? err.message : String(err) };
    }
    const answeredAt = performance.now();
    if (!announced && answeredAt >= measureFrom) {
      announced = true;
      process.stdout.write('measuring\n');
    }
    // Counted by when the answer arrived, so the window's events/s is what the server delivered in it.
    if (answeredAt < measureFrom || answeredAt > measureUntil) continue;
    latencies.push(answeredAt - sentAt);
    if (outcome.ok) accepted += outcome.accepted;
    else recordError(outcome.reason);
  }
}

await Promise.all(Array.from({ length: connections }, (_, i) => connection(i)));
agent.destroy();

const sorted = Float64Array.from(latencies).sort();
const quantile = (q: number) => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
const result: LoadResult = {
  requests: latencies.length,
  accepted,
  errors,
  firstError,
  elapsedMs: measureMs,
  p50Ms: quantile(0.5),
  p99Ms: quantile(0.99),
  eventBytes: bodyBytes / eventsPerRequest,
  bodyBytes,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
