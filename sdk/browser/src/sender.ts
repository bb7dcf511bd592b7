import { encodeBatch, utf8Length, type WireEvent } from './batch.js';
import { DEFAULT_BACKOFF, retryDelay, type BackoffPolicy, type SendResult } from './retry.js';

/**
 * The queue between `track()` and the network, free of DOM APIs so it is tested in Node with fake
 * timers. A batch leaves when it holds `maxBatchEvents`, or once no event came for
 * `flushIntervalMs`, and the oldest event never waits (short of a retry) more than `maxWaitMs`:
 * 20 events, 2 s, 5 s by default, as seed 003's SDK sends. One request is in flight at a time; a
 * failed one is retried with backoff, and the queue is bounded (the oldest events are dropped and
 * counted). When the page is hidden everything queued leaves at once by `sendBeacon`.
 */

/** How batches reach ingest (the browser's is transport.ts; tests use a fake). */
export interface Transport {
  /** POSTs one batch body; never rejects (a network failure is `{ ok: false, retry: true }`). */
  post(body: string): Promise<SendResult>;
  /** Hands one batch body to `navigator.sendBeacon`; false when the browser refused to queue it. */
  beacon(body: string): boolean;
}

export interface SenderOptions {
  maxBatchEvents?: number;
  flushIntervalMs?: number;
  maxWaitMs?: number;
  maxQueuedEvents?: number;
  /** A request body above this is split (by halving the batch); keepalive fetch and sendBeacon share a 64 KiB budget. */
  maxBodyBytes?: number;
  backoff?: BackoffPolicy;
  random?: () => number;
  now?: () => number;
  /** Told how many of the oldest events were dropped because the queue was full. */
  onDrop?: (count: number) => void;
  /** Told of a batch ingest refused for good; its events are not sent again. */
  onReject?: (result: Extract<SendResult, { retry: false }>, events: number) => void;
}

export const SENDER_DEFAULTS = {
  maxBatchEvents: 20,
  flushIntervalMs: 2000,
  maxWaitMs: 5000,
  maxQueuedEvents: 1000,
  // Under the 64 KiB that Chromium and the Beacon spec allow for keepalive requests in flight.
  maxBodyBytes: 60_000,
} as const;

export interface SenderStats {
  queued: number;
  inFlight: number;
  sent: number;
  /** Sent again after a failed attempt (counted per event and attempt). */
  retried: number;
  dropped: number;
  rejected: number;
}

export interface Sender {
  enqueue(event: WireEvent): void;
  /** Sends everything queued now, ignoring the batching delays (not a backoff in progress). */
  flush(): Promise<void>;
  /** The page is being hidden or unloaded: hand everything queued to sendBeacon. */
  flushOnHide(): void;
  stats(): SenderStats;
}

interface Queued {
  event: WireEvent;
  at: number;
}

export function createSender(transport: Transport, options: SenderOptions = {}): Sender {
  const maxBatchEvents = options.maxBatchEvents ?? SENDER_DEFAULTS.maxBatchEvents;
  const flushIntervalMs = options.flushIntervalMs ?? SENDER_DEFAULTS.flushIntervalMs;
  const maxWaitMs = options.maxWaitMs ?? SENDER_DEFAULTS.maxWaitMs;
  const maxQueuedEvents = options.maxQueuedEvents ?? SENDER_DEFAULTS.maxQueuedEvents;
  const maxBodyBytes = options.maxBodyBytes ?? SENDER_DEFAULTS.maxBodyBytes;
  const { backoff = DEFAULT_BACKOFF, random = Math.random, now = Date.now, onDrop, onReject } = options;

  const queue: Queued[] = [];
  const counts = { sent: 0, retried: 0, dropped: 0, rejected: 0 };
  let inFlight: { events: number; done: Promise<void> } | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastEnqueuedAt = 0;
  let failures = 0;
  let retryAt = 0;

  const trim = () => {
    const over = queue.length - maxQueuedEvents;
    if (over <= 0) return;
    queue.splice(0, over);
    counts.dropped += over;
    onDrop?.(over);
  };

  /** The next batch from the front of the queue, halved until its body fits (a lone event always goes). */
  const take = (): { items: Queued[]; body: string } => {
    let n = Math.min(maxBatchEvents, queue.length);
    for (;;) {
      const items = queue.slice(0, n);
      const body = encodeBatch(items.map((q) => q.event));
      if (n === 1 || utf8Length(body) <= maxBodyBytes) {
        queue.splice(0, n);
        return { items, body };
      }
      n = Math.ceil(n / 2);
    }
  };

  const settle = (items: Queued[], result: SendResult) => {
    if (result.ok) {
      counts.sent += items.length;
      failures = 0;
      return;
    }
    if (!result.retry) {
      counts.rejected += items.length;
      failures = 0;
      onReject?.(result, items.length);
      return;
    }
    const again = result.only ? items.filter((_, i) => result.only!.includes(i)) : items;
    counts.sent += items.length - again.length;
    counts.retried += again.length;
    queue.unshift(...again);
    trim();
    failures += 1;
    retryAt = now() + retryDelay(failures, result.retryAfterMs, backoff, random);
  };

  const send = () => {
    const { items, body } = take();
    let result: Promise<SendResult>;
    try {
      result = transport.post(body);
    } catch {
      result = Promise.resolve({ ok: false, retry: true });
    }
    const done = result
      .catch((): SendResult => ({ ok: false, retry: true }))
      .then((r) => settle(items, r))
      .finally(() => {
        inFlight = undefined;
        schedule();
      });
    inFlight = { events: items.length, done };
  };

  /** Sends now or sets the timer for when the next batch is due. */
  function schedule(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    if (inFlight || queue.length === 0) return;
    const t = now();
    const due =
      retryAt > t ? retryAt : queue.length >= maxBatchEvents ? t : Math.min(lastEnqueuedAt + flushIntervalMs, queue[0]!.at + maxWaitMs);
    if (due <= t) send();
    else timer = setTimeout(schedule, due - t);
  }

  return {
    enqueue(event) {
      lastEnqueuedAt = now();
      queue.push({ event, at: lastEnqueuedAt });
      trim();
      schedule();
    },
    async flush() {
      for (;;) {
        if (inFlight) await inFlight.done;
        if (queue.length === 0 || retryAt > now()) return;
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        send();
      }
    },
    flushOnHide() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      // A backoff does not hold these back: the page may be gone before it ends. A request already
      // in flight is a keepalive fetch and outlives the page on its own.
      while (queue.length > 0) {
        const { items, body } = take();
        if (!transport.beacon(body)) {
          // Over the beacon budget: leave the rest to a keepalive fetch, the last chance there is.
          queue.unshift(...items);
          retryAt = 0;
          if (!inFlight) send();
          return;
        }
        counts.sent += items.length;
      }
    },
    stats: () => ({ queued: queue.length, inFlight: inFlight?.events ?? 0, ...counts }),
  };
}
