/**
 * The writer's flush policy: items (lake rows, quarantine records) are held in one batch per group
 * (a lake partition, a quarantine folder) and a batch is written when
 *   - it reaches `maxRows` or `maxBytes`                          → files of a bounded size;
 *   - its oldest item is `maxAgeMs` old                           → bounded latency under a trickle;
 *   - no item has arrived for `quietMs`                          → nothing more is coming: the load
 *     stopped, or every push Pub/Sub may have in flight is already held here (Cloud Run serves 80
 *     concurrent requests per instance by default), so waiting longer only delays them all;
 *   - `maxWaiting` messages wait for their flushes               → that is every push the service can
 *     have in flight (Cloud Run's concurrency), so none can arrive until some are answered: flush now
 *     rather than after `quietMs`;
 *   - opening one more batch would pass `maxOpenBatches`          → the oldest is written first, so a
 *     message spanning many hours never means unbounded batches;
 *   - the open batches hold more than half of `maxBufferedBytes`  → the largest is written first;
 *   - or on `flushAll` (shutdown), and from then on at once.
 *
 * Every `add` returns one promise for all of its items' flushes, so a push is answered only once all
 * of its rows are durable. A failed batch is dropped, not retried: its pushes are answered 5xx and
 * the messages come back through Pub/Sub redelivery.
 *
 * Memory is bounded in bytes across all groups, counted until a flush finishes (a batch is held while
 * it uploads): wasm memory never shrinks, so the buffer refuses instead of growing, and the caller
 * answers 429 so Pub/Sub push backs off. One timer serves every batch.
 */
export interface FlushLimits {
  maxRows: number;
  /** Approximate bytes per batch (the size of the events' JSON). */
  maxBytes: number;
  maxAgeMs: number;
  /** 0 turns the quiet trigger off. */
  quietMs: number;
  /** Bytes held across all groups, including batches being flushed. */
  maxBufferedBytes: number;
  maxOpenBatches: number;
  /** Messages (adds) waiting for their flushes at which everything open is flushed; 0 or absent: off. */
  maxWaiting?: number;
}

export type FlushOutcome = { ok: true } | { ok: false; error: unknown };

export type AddResult = { ok: true; flushed: Promise<FlushOutcome> } | { ok: false; reason: 'backpressure' };

export interface BufferEntry<G, T> {
  group: G;
  item: T;
  bytes: number;
}

export interface FlushSummary {
  batches: number;
  failed: number;
}

export interface BufferStats {
  /** Items held right now, open or being flushed. */
  items: number;
  bytes: number;
  openBatches: number;
  flushing: number;
}

export interface BatchBuffer<G, T> {
  /**
   * Adds all entries or none: refused (backpressure) when they would take the buffer past
   * `maxBufferedBytes` while it holds anything (one message always fits into an empty buffer).
   */
  add(entries: readonly BufferEntry<G, T>[]): AddResult;
  /**
   * Flushes every open batch now and, from then on, each entry as soon as it is added (draining
   * for shutdown). Resolves when every flush, including those already running, has finished.
   */
  flushAll(): Promise<FlushSummary>;
  stats(): BufferStats;
  /** True while the buffer holds its whole byte budget: any message would be refused. */
  full(): boolean;
}

export interface BatchBufferOptions<G, T> {
  limits: FlushLimits;
  keyOf(group: G): string;
  /** Writes one batch; a rejection fails every add waiting on it. `openedAt` (on `now`'s clock): when its first item arrived. */
  flush(group: G, items: T[], openedAt: number): Promise<void>;
  now?: () => number;
}

interface Batch<G, T> {
  key: string;
  group: G;
  items: T[];
  bytes: number;
  openedAt: number;
  settle: (outcome: FlushOutcome) => void;
  flushed: Promise<FlushOutcome>;
}

const ALL_OK: FlushOutcome = { ok: true };

export function createBatchBuffer<G, T>(options: BatchBufferOptions<G, T>): BatchBuffer<G, T> {
  const { limits, now = Date.now } = options;
  // Insertion order is opening order, so the first batch is always the oldest.
  const open = new Map<string, Batch<G, T>>();
  const running = new Set<Promise<FlushOutcome>>();
  let items = 0;
  let bytes = 0;
  let openBytes = 0;
  let lastAddAt = 0;
  /** Adds whose `flushed` has not settled: the pushes held open right now. */
  let waiting = 0;
  let draining = false;
  let timer: ReturnType<typeof setTimeout> | undefined;

  function flush(batch: Batch<G, T>): void {
    open.delete(batch.key);
    openBytes -= batch.bytes;
    const done = (async (): Promise<FlushOutcome> => {
      try {
        await options.flush(batch.group, batch.items, batch.openedAt);
        return ALL_OK;
      } catch (error) {
        return { ok: false, error };
      }
    })().then((outcome) => {
      items -= batch.items.length;
      bytes -= batch.bytes;
      running.delete(done);
      batch.settle(outcome);
      return outcome;
    });
    running.add(done);
  }

  function openBatch(key: string, group: G): Batch<G, T> {
    if (open.size >= limits.maxOpenBatches) flush(open.values().next().value!);
    let settle!: (outcome: FlushOutcome) => void;
    const flushed = new Promise<FlushOutcome>((resolve) => (settle = resolve));
    const batch: Batch<G, T> = { key, group, items: [], bytes: 0, openedAt: now(), settle, flushed };
    open.set(key, batch);
    return batch;
  }

  // One timer for every batch: it fires at the earliest age or quiet deadline, flushes what is due
  // and arms itself again while anything is open.
  function onTimer(): void {
    timer = undefined;
    const t = now();
    const quiet = limits.quietMs > 0 && t - lastAddAt >= limits.quietMs;
    for (const batch of [...open.values()]) {
      if (quiet || t - batch.openedAt >= limits.maxAgeMs) flush(batch);
    }
    arm();
  }

  function arm(): void {
    if (timer || open.size === 0) return;
    const oldest = open.values().next().value!;
    let due = oldest.openedAt + limits.maxAgeMs;
    if (limits.quietMs > 0) due = Math.min(due, lastAddAt + limits.quietMs);
    timer = setTimeout(onTimer, Math.max(0, due - now()));
    // A pending flush must not keep the process alive on its own; shutdown flushes explicitly.
    timer.unref?.();
  }

  function largestOpen(): Batch<G, T> {
    let largest: Batch<G, T> | undefined;
    for (const batch of open.values()) if (!largest || batch.bytes > largest.bytes) largest = batch;
    return largest!;
  }

  return {
    add(entries) {
      const size = entries.reduce((sum, e) => sum + e.bytes, 0);
      if (bytes > 0 && bytes + size > limits.maxBufferedBytes) return { ok: false, reason: 'backpressure' };
      lastAddAt = now();
      // Grouped first, so each batch takes all of this message's entries at once: evicting the
      // oldest batch for a message spanning more groups than maxOpenBatches never splits one group
      // into many small files, and a draining buffer writes one file per group, not one per entry.
      const groups = new Map<string, { group: G; entries: BufferEntry<G, T>[] }>();
      for (const entry of entries) {
        const key = options.keyOf(entry.group);
        const found = groups.get(key);
        if (found) found.entries.push(entry);
        else groups.set(key, { group: entry.group, entries: [entry] });
      }
      const waits: Promise<FlushOutcome>[] = [];
      for (const [key, { group, entries: mine }] of groups) {
        let batch = open.get(key);
        for (const entry of mine) {
          batch ??= openBatch(key, group);
          batch.items.push(entry.item);
          batch.bytes += entry.bytes;
          openBytes += entry.bytes;
          items += 1;
          bytes += entry.bytes;
          if (batch.items.length >= limits.maxRows || batch.bytes >= limits.maxBytes) {
            waits.push(batch.flushed);
            flush(batch);
            batch = undefined;
          }
        }
        if (batch) {
          waits.push(batch.flushed);
          if (draining) flush(batch);
        }
      }
      waiting += 1;
      if (limits.maxWaiting && waiting >= limits.maxWaiting) for (const batch of [...open.values()]) flush(batch);
      while (open.size > 0 && openBytes > limits.maxBufferedBytes / 2) flush(largestOpen());
      arm();
      const flushed = Promise.all(waits).then((outcomes) => {
        waiting -= 1;
        return outcomes.find((o) => !o.ok) ?? ALL_OK;
      });
      return { ok: true, flushed };
    },
    async flushAll() {
      draining = true;
      for (const batch of [...open.values()]) flush(batch);
      const outcomes = await Promise.all([...running]);
      return { batches: outcomes.length, failed: outcomes.filter((o) => !o.ok).length };
    },
    stats: () => ({ items, bytes, openBatches: open.size, flushing: running.size }),
    full: () => bytes >= limits.maxBufferedBytes,
  };
}
