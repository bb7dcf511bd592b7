/**
 * The soak run's producer, a process of its own so that neither its event loop nor the ids it
 * collects weigh on the stack's process, whose memory the soak measures. It POSTs batches of
 * shopper events with client-side ULID event_ids at a fixed rate (an open model: a batch is due
 * every batchSize / rate seconds whatever the answers, so a slow pipeline shows as retries and
 * backlog, not as a lower rate), retries 429, 503 and lost connections with backoff (the same ids,
 * so dedup removes what a partial 503 already published), appends every accepted event_id to
 * `idsFile`, and prints a JSON line of running totals (ProducerTick) every second and one last
 * line (`done: true`) when every batch is settled. Started by main.ts with its options as JSON in
 * argv[2]; not meant to be run by hand.
 */
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { createUlidFactory } from '@strata/runtime';
import { shopperAction } from '../bench/shopper-events.js';

export interface ProducerOptions {
  ingestUrl: string;
  apiKey: string;
  /** Events per second. */
  rate: number;
  batchSize: number;
  seconds: number;
  idsFile: string;
}

/** Running totals, in events unless named otherwise; times are epoch ms. */
export interface ProducerTick {
  at: number;
  /** When the first batch was due: the load runs from here for `seconds`. */
  startedAt: number;
  /** Events sent once (retries not counted again). */
  sent: number;
  accepted: number;
  /** Requests sent again after a 429, a 503 or a lost connection. */
  retries: number;
  /** Events ingest refused for good (a 4xx, or rejected inside a 202). */
  refused: number;
  /** Events of batches still unaccepted when the retry budget ran out. */
  abandoned: number;
  /** Batches sent or waiting to be sent again. */
  inFlight: number;
  done?: boolean;
}

// Past this many batches in flight the pipeline is not keeping up; new batches wait for a slot.
const MAX_IN_FLIGHT = 256;
const FIRST_BACKOFF_MS = 200;
const LONGEST_BACKOFF_MS = 5_000;
// A batch is abandoned after retrying this long: beyond it the run's figures are about an outage.
const RETRY_BUDGET_MS = 120_000;
const TICK_MS = 1_000;

type Answer = { kind: 'accepted'; ids: string[]; rejected: number } | { kind: 'retry'; afterMs?: number } | { kind: 'refused' };

async function post(options: ProducerOptions, body: string): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(`${options.ingestUrl}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': options.apiKey },
      body,
    });
  } catch {
    return { kind: 'retry' }; // no answer: the events may or may not be published; resending is safe
  }
  const answer = (await res.json().catch(() => ({}))) as { event_ids?: Array<string | null> };
  if (res.status === 202 && answer.event_ids) {
    const ids = answer.event_ids.filter((id): id is string => typeof id === 'string');
    return { kind: 'accepted', ids, rejected: answer.event_ids.length - ids.length };
  }
  if (res.status === 429 || res.status === 503) {
    const retryAfter = Number(res.headers.get('retry-after'));
    return { kind: 'retry', ...(retryAfter > 0 ? { afterMs: retryAfter * 1000 } : {}) };
  }
  return { kind: 'refused' };
}

async function main(options: ProducerOptions): Promise<void> {
  const ids = createWriteStream(options.idsFile);
  const newId = createUlidFactory();
  const totals: ProducerTick = { at: Date.now(), startedAt: Date.now(), sent: 0, accepted: 0, retries: 0, refused: 0, abandoned: 0, inFlight: 0 };
  const print = (extra: Partial<ProducerTick> = {}) => process.stdout.write(`${JSON.stringify({ ...totals, at: Date.now(), ...extra })}\n`);

  const sendBatch = async () => {
    const events = Array.from({ length: options.batchSize }, () => ({ ...shopperAction(Math.random, new Date().toISOString()), event_id: newId() }));
    const body = JSON.stringify(events);
    const started = Date.now();
    totals.sent += events.length;
    for (let attempt = 0; ; attempt++) {
      const answer = await post(options, body);
      if (answer.kind === 'accepted') {
        totals.accepted += answer.ids.length;
        totals.refused += answer.rejected;
        if (answer.ids.length > 0) ids.write(`${answer.ids.join('\n')}\n`);
        return;
      }
      if (answer.kind === 'refused') {
        totals.refused += events.length;
        return;
      }
      // Full jitter on an exponential backoff, or the server's Retry-After when it gave one.
      const waitMs = answer.afterMs ?? Math.random() * Math.min(LONGEST_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** attempt);
      if (Date.now() + waitMs - started > RETRY_BUDGET_MS) {
        totals.abandoned += events.length;
        return;
      }
      await sleep(waitMs);
      totals.retries += 1;
    }
  };

  const ticker = setInterval(print, TICK_MS);
  const pending = new Set<Promise<void>>();
  const intervalMs = (options.batchSize / options.rate) * 1000;
  const start = Date.now();
  totals.startedAt = start;
  const end = start + options.seconds * 1000;
  // Due times from the start, not from the previous send, so a late batch does not shift the rest.
  for (let due = start; due < end; due += intervalMs) {
    const wait = due - Date.now();
    if (wait > 0) await sleep(wait);
    while (pending.size >= MAX_IN_FLIGHT) await Promise.race(pending);
    const batch = sendBatch().finally(() => {
      pending.delete(batch);
      totals.inFlight = pending.size;
    });
    pending.add(batch);
    totals.inFlight = pending.size;
  }
  await Promise.all(pending);
  clearInterval(ticker);
  await new Promise<void>((resolve, reject) => ids.end((err?: Error | null) => (err ? reject(err) : resolve())));
  print({ done: true });
}

await main(JSON.parse(process.argv[2] ?? '{}') as ProducerOptions);
