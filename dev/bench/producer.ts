/**
 * The benchmark's producer, run as its own process so that building and sending requests does not
 * share an event loop with the emulators the benchmark measures: `CONNECTIONS` loopback clients
 * POST batches of current user_action events to ingest for `SECONDS`, append the event_id of every
 * 202 to `IDS_FILE` (one a line), and print one JSON line of timings (epoch ms) at the end.
 * Started by pipeline.ts with BENCH_PRODUCER_* variables; not meant to be run by hand.
 */
import { createWriteStream } from 'node:fs';
import { shopperAction } from './shopper-events.js';

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

// Fresh choices every run: the pipeline bench reconciles ids, not bytes, so it needs no seed.
const userAction = () => shopperAction(Math.random, new Date().toISOString());

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
