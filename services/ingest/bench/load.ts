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
import { seededRandom, shopperAction } from '@strata/dev/bench/shopper-events';

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

const random = seededRandom(11);

const started = Date.now();
const bodies = Array.from({ length: BODIES }, (_, b) =>
  Buffer.from(JSON.stringify(Array.from({ length: eventsPerRequest }, (_, i) => shopperAction(random, new Date(started - (b * eventsPerRequest + i)).toISOString())))),
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
