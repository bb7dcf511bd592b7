import { randomUUID } from 'node:crypto';
import { LOCAL } from '@strata/dev/local-config';
import { recentHour } from './harness.js';

/**
 * A producer that keeps POSTing batches to ingest at a steady pace while faults come and go, and
 * behaves as the README tells producers to: every event has its own `event_id`, and a batch that
 * did not get a 2xx (a 503, a connection refused while ingest restarts, a timeout) is sent again,
 * unchanged, after a backoff. An event counts as accepted only once ingest answered 2xx for it;
 * those are the ids a reconciliation must find in the lake.
 */
export interface SteadyLoad {
  accepted: ReadonlySet<string>;
  /** Batches sent again after a failure, and the answers or errors that caused it. */
  retries(): number;
  failures(): ReadonlyMap<string, number>;
  /** Stops sending new batches and waits until every batch in hand got its 2xx. */
  stop(): Promise<void>;
}

export interface SteadyLoadOptions {
  ingestUrl: string;
  /** Events per request. */
  batchSize?: number;
  /** Pause between the answer to one batch and the next batch, per sender. */
  intervalMs?: number;
  /** Senders working at once. */
  concurrency?: number;
}

const BACKOFF_MS = [100, 200, 400, 800, 1000];

export function startSteadyLoad({ ingestUrl, batchSize = 50, intervalMs = 50, concurrency = 4 }: SteadyLoadOptions): SteadyLoad {
  const accepted = new Set<string>();
  const failures = new Map<string, number>();
  let retries = 0;
  let stopping = false;
  const base = recentHour(2);
  let sequence = 0;

  const batch = () =>
    Array.from({ length: batchSize }, () => {
      const i = sequence++;
      return {
        log_type: 'user_action',
        event_id: randomUUID(),
        event: ['page_view', 'search', 'add_to_cart'][i % 3],
        // Three event-time hours, so several partitions are open at once.
        ts: new Date(base + (i % 3) * 3_600_000 + (i % 3_600) * 1000).toISOString(),
        user_id: `u${i % 97}`,
        page_url: 'https://shop.example/',
      };
    });

  async function send(events: Record<string, unknown>[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let why: string;
      try {
        const res = await fetch(`${ingestUrl}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': LOCAL.apiKey },
          body: JSON.stringify(events),
          signal: AbortSignal.timeout(15_000),
        });
        const body = (await res.json().catch(() => ({}))) as { accepted?: number; error?: string };
        if (res.status === 202 && body.accepted === events.length) {
          for (const event of events) accepted.add(String(event.event_id));
          return;
        }
        // Every event here is valid: anything but a full 202 is a failure to retry (a 4xx would be a bug, and shows up in failures).
        why = `${res.status} ${body.error ?? ''}`.trim();
      } catch (err) {
        why = (err as Error).cause ? String(((err as Error).cause as Error).message ?? (err as Error).cause) : (err as Error).message;
      }
      failures.set(why, (failures.get(why) ?? 0) + 1);
      retries += 1;
      await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)]!));
    }
  }

  const senders = Array.from({ length: concurrency }, async () => {
    while (!stopping) {
      await send(batch());
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  });

  return {
    accepted,
    retries: () => retries,
    failures: () => failures,
    async stop() {
      stopping = true;
      await Promise.all(senders);
    },
  };
}
