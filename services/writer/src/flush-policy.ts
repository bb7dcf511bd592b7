/**
 * Buffers items per group (a lake partition, a quarantine folder) and flushes a group's batch
 * when it reaches `maxRows` or `maxBytes`, when its oldest item is `maxAgeMs` old, or on
 * `flushAll` (shutdown). Every `add` returns a promise of its batch's flush outcome, so the push
 * handler acks only once its row is durable. A failed batch is dropped, not retried: the
 * unacked messages come back through Pub/Sub redelivery.
 *
 * Memory is bounded by `maxBufferedRows` (counted until a flush finishes, since the batch is
 * still held while it uploads): wasm memory never shrinks, so the buffer refuses instead of
 * growing, and the caller answers 429 so Pub/Sub push backs off.
 */
export interface BufferLimits {
  maxRows: number;
  /** Approximate bytes per batch (the size of the decoded payloads). */
  maxBytes: number;
  maxAgeMs: number;
  /** Items held across all groups, including batches being flushed. */
  maxBufferedRows: number;
}

export type FlushOutcome = { ok: true } | { ok: false; error: unknown };

export type AddResult = { ok: true; flushed: Promise<FlushOutcome> } | { ok: false; reason: 'backpressure' };

export interface FlushSummary {
  batches: number;
  failed: number;
}

export interface PartitionBuffer<G, T> {
  add(group: G, item: T, bytes: number): AddResult;
  /**
   * Flushes every open batch now and, from then on, each item as soon as it is added (draining
   * for shutdown). Resolves when every flush, including those already running, has finished.
   */
  flushAll(): Promise<FlushSummary>;
  /** Items held right now, open or being flushed. */
  bufferedRows(): number;
}

export interface PartitionBufferOptions<G, T> {
  limits: BufferLimits;
  keyOf(group: G): string;
  /** Writes one batch; a rejection fails every add waiting on it. */
  flush(group: G, items: T[]): Promise<void>;
}

interface Batch<G, T> {
  key: string;
  group: G;
  items: T[];
  bytes: number;
  timer: ReturnType<typeof setTimeout> | undefined;
  settle: (outcome: FlushOutcome) => void;
  flushed: Promise<FlushOutcome>;
}

export function createPartitionBuffer<G, T>(options: PartitionBufferOptions<G, T>): PartitionBuffer<G, T> {
  const { limits } = options;
  const open = new Map<string, Batch<G, T>>();
  const running = new Set<Promise<FlushOutcome>>();
  let buffered = 0;
  let draining = false;

  function flush(batch: Batch<G, T>): Promise<FlushOutcome> {
    open.delete(batch.key);
    clearTimeout(batch.timer);
    const done = (async (): Promise<FlushOutcome> => {
      try {
        await options.flush(batch.group, batch.items);
        return { ok: true };
      } catch (error) {
        return { ok: false, error };
      }
    })().then((outcome) => {
      buffered -= batch.items.length;
      running.delete(done);
      batch.settle(outcome);
      return outcome;
    });
    running.add(done);
    return done;
  }

  function openBatch(key: string, group: G): Batch<G, T> {
    let settle!: (outcome: FlushOutcome) => void;
    const flushed = new Promise<FlushOutcome>((resolve) => (settle = resolve));
    const batch: Batch<G, T> = { key, group, items: [], bytes: 0, timer: undefined, settle, flushed };
    // The age trigger bounds a row's wait (and the push request's latency) when traffic is thin.
    batch.timer = setTimeout(() => void flush(batch), limits.maxAgeMs);
    // A pending age flush must not keep the process alive on its own; shutdown flushes explicitly.
    batch.timer.unref?.();
    open.set(key, batch);
    return batch;
  }

  return {
    add(group, item, bytes) {
      if (buffered >= limits.maxBufferedRows) return { ok: false, reason: 'backpressure' };
      const key = options.keyOf(group);
      const batch = open.get(key) ?? openBatch(key, group);
      batch.items.push(item);
      batch.bytes += bytes;
      buffered += 1;
      if (draining || batch.items.length >= limits.maxRows || batch.bytes >= limits.maxBytes) void flush(batch);
      return { ok: true, flushed: batch.flushed };
    },
    async flushAll() {
      draining = true;
      for (const batch of [...open.values()]) void flush(batch);
      const outcomes = await Promise.all([...running]);
      return { batches: outcomes.length, failed: outcomes.filter((o) => !o.ok).length };
    },
    bufferedRows: () => buffered,
  };
}
