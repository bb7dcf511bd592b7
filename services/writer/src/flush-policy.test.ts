import { afterEach, describe, expect, it, vi } from 'vitest';
import { createBatchBuffer, type FlushLimits } from './flush-policy.js';

const roomy: FlushLimits = { maxRows: 100, maxBytes: 1_000_000, maxAgeMs: 60_000, quietMs: 0, maxBufferedBytes: 1_000_000, maxOpenBatches: 100 };

function recordingBuffer(limits: Partial<FlushLimits> = {}) {
  const flushes: Array<{ group: string; items: number[] }> = [];
  let fail: ((group: string) => boolean) | undefined;
  let release: (() => void) | undefined;
  let hold: Promise<void> | undefined;
  const buffer = createBatchBuffer<string, number>({
    limits: { ...roomy, ...limits },
    keyOf: (group) => group,
    async flush(group, items) {
      if (hold) await hold;
      if (fail?.(group)) throw new Error(`store down for ${group}`);
      flushes.push({ group, items: [...items] });
    },
  });
  /** Adds one message's entries, each `[group, item, bytes?]`. */
  const add = (...entries: Array<[string, number, number?]>) => {
    const result = buffer.add(entries.map(([group, item, bytes = 1]) => ({ group, item, bytes })));
    if (!result.ok) throw new Error(result.reason);
    return result.flushed;
  };
  return {
    buffer,
    flushes,
    add,
    failFlushes: (which: (group: string) => boolean = () => true) => (fail = which),
    holdFlushes: () => (hold = new Promise((resolve) => (release = () => { hold = undefined; resolve(); }))),
    releaseFlushes: () => release?.(),
  };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createBatchBuffer', () => {
  it('flushes a group when it reaches maxRows, and only that group', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxRows: 3 });
    const first = [add(['a', 1]), add(['a', 2]), add(['b', 9])];
    expect(flushes).toEqual([]);
    const third = add(['a', 3]);
    await expect(third).resolves.toEqual({ ok: true });
    await expect(first[0]).resolves.toEqual({ ok: true });
    expect(flushes).toEqual([{ group: 'a', items: [1, 2, 3] }]);
    expect(buffer.stats()).toMatchObject({ items: 1, openBatches: 1 });
  });

  it('flushes a group when its bytes reach maxBytes', async () => {
    const { flushes, add } = recordingBuffer({ maxBytes: 100 });
    void add(['a', 1, 60]);
    await add(['a', 2, 40]);
    expect(flushes).toEqual([{ group: 'a', items: [1, 2] }]);
  });

  it('answers one message spanning several groups only once every group is flushed', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxRows: 2 });
    let settled = false;
    const message = add(['a', 1], ['a', 2], ['b', 3]).then((o) => ((settled = true), o));
    await vi.waitFor(() => expect(flushes).toHaveLength(1));
    expect(settled).toBe(false); // b is still open
    await buffer.flushAll();
    await expect(message).resolves.toEqual({ ok: true });
    expect(flushes).toEqual([{ group: 'a', items: [1, 2] }, { group: 'b', items: [3] }]);
  });

  it('fails a message when any of its groups fails, though the others were written', async () => {
    const { flushes, add, buffer, failFlushes } = recordingBuffer();
    failFlushes((group) => group === 'b');
    const message = add(['a', 1], ['b', 2], ['c', 3]);
    await buffer.flushAll();
    expect(await message).toMatchObject({ ok: false, error: expect.objectContaining({ message: 'store down for b' }) });
    expect(flushes.map((f) => f.group)).toEqual(['a', 'c']);
    expect(buffer.stats()).toEqual({ items: 0, bytes: 0, openBatches: 0, flushing: 0 });
  });

  it('flushes a group when its oldest row reaches maxAgeMs, with fake timers on both sides', async () => {
    vi.useFakeTimers();
    const { flushes, add } = recordingBuffer({ maxAgeMs: 5_000 });
    const flushed = add(['a', 1]);
    await vi.advanceTimersByTimeAsync(3_000);
    void add(['a', 2]); // joins the open batch; the age is the oldest row's
    await vi.advanceTimersByTimeAsync(1_999);
    expect(flushes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(flushed).resolves.toEqual({ ok: true });
    expect(flushes).toEqual([{ group: 'a', items: [1, 2] }]);
  });

  it('flushes everything once no row has arrived for quietMs, not before', async () => {
    vi.useFakeTimers();
    const { flushes, add } = recordingBuffer({ maxAgeMs: 5_000, quietMs: 200 });
    void add(['a', 1]);
    await vi.advanceTimersByTimeAsync(150);
    void add(['b', 2]); // still arriving: the quiet period starts again
    await vi.advanceTimersByTimeAsync(199);
    expect(flushes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushes).toEqual([{ group: 'a', items: [1] }, { group: 'b', items: [2] }]);
  });

  it('keeps flushing by age under a steady trickle that is never quiet', async () => {
    vi.useFakeTimers();
    const { flushes, add } = recordingBuffer({ maxAgeMs: 1_000, quietMs: 200 });
    for (let i = 0; i < 12; i++) {
      void add(['a', i]);
      await vi.advanceTimersByTimeAsync(100);
    }
    expect(flushes).toEqual([{ group: 'a', items: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] }]);
  });

  it('bounds open batches: opening one too many flushes the oldest first', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxOpenBatches: 3 });
    const message = add(['h00', 1], ['h01', 2], ['h02', 3], ['h03', 4], ['h04', 5]);
    expect(buffer.stats().openBatches).toBe(3);
    await vi.waitFor(() => expect(flushes.map((f) => f.group)).toEqual(['h00', 'h01']));
    await buffer.flushAll();
    await expect(message).resolves.toEqual({ ok: true });
  });

  it('writes the largest open batch once open batches hold more than half the byte budget', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxBufferedBytes: 1_000 });
    void add(['a', 1, 100], ['b', 2, 300]);
    expect(flushes).toEqual([]);
    void add(['a', 3, 150]); // 550 open > 500
    await vi.waitFor(() => expect(buffer.stats()).toMatchObject({ openBatches: 1, bytes: 250, flushing: 0 }));
    expect(flushes).toEqual([{ group: 'b', items: [2] }]);
  });

  it('refuses a message that would pass maxBufferedBytes, counting batches still uploading, until they finish', async () => {
    const { buffer, add, holdFlushes, releaseFlushes } = recordingBuffer({ maxBufferedBytes: 100, maxRows: 1 });
    holdFlushes();
    const first = add(['a', 1, 60]); // flushed at once (maxRows 1) but still uploading
    expect(buffer.stats()).toMatchObject({ bytes: 60, flushing: 1 });
    expect(buffer.add([{ group: 'b', item: 2, bytes: 50 }])).toEqual({ ok: false, reason: 'backpressure' });
    releaseFlushes();
    await first;
    expect(buffer.add([{ group: 'b', item: 2, bytes: 50 }]).ok).toBe(true);
  });

  it('takes a message larger than the whole budget into an empty buffer, so nothing is refused forever', () => {
    const { buffer } = recordingBuffer({ maxBufferedBytes: 100 });
    expect(buffer.add([{ group: 'a', item: 1, bytes: 500 }]).ok).toBe(true);
  });

  it('flushAll flushes every open batch, then flushes later rows at once (stop)', async () => {
    const { buffer, flushes, add } = recordingBuffer();
    const waiting = [add(['a', 1]), add(['b', 2])];
    await expect(buffer.flushAll()).resolves.toEqual({ batches: 2, failed: 0 });
    expect(flushes).toEqual([{ group: 'a', items: [1] }, { group: 'b', items: [2] }]);
    await expect(Promise.all(waiting)).resolves.toEqual([{ ok: true }, { ok: true }]);
    await add(['a', 3]);
    expect(flushes.at(-1)).toEqual({ group: 'a', items: [3] });
    expect(buffer.stats().items).toBe(0);
  });

  it('splits one large message at maxRows into full batches, and waits for all of them', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxRows: 2 });
    const message = add(['a', 1], ['a', 2], ['a', 3], ['a', 4], ['a', 5]);
    await vi.waitFor(() => expect(flushes).toHaveLength(2));
    await buffer.flushAll();
    await expect(message).resolves.toEqual({ ok: true });
    expect(flushes).toEqual([{ group: 'a', items: [1, 2] }, { group: 'a', items: [3, 4] }, { group: 'a', items: [5] }]);
  });

  it('writes one file per group, not per event, for a message that arrives while draining', async () => {
    const { flushes, add, buffer } = recordingBuffer();
    await buffer.flushAll();
    await add(['a', 1], ['b', 2], ['a', 3], ['b', 4], ['a', 5]);
    expect(flushes).toEqual([{ group: 'a', items: [1, 3, 5] }, { group: 'b', items: [2, 4] }]);
  });

  it('writes one file per group for a message spanning more groups than maxOpenBatches, interleaved', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxOpenBatches: 4 });
    // 10 events round-robin over 5 hours: each group is evicted whole, never one event at a time.
    const entries = Array.from({ length: 10 }, (_, i): [string, number] => [`h${i % 5}`, i]);
    const message = add(...entries);
    await buffer.flushAll();
    await expect(message).resolves.toEqual({ ok: true });
    expect(flushes).toHaveLength(5);
    expect(flushes.find((f) => f.group === 'h0')).toEqual({ group: 'h0', items: [0, 5] });
  });

  it('flushes everything at once when maxWaiting messages wait, without waiting for quiet or age', async () => {
    vi.useFakeTimers();
    const { flushes, add } = recordingBuffer({ maxAgeMs: 5_000, quietMs: 250, maxWaiting: 3 });
    const first = add(['a', 1]);
    void add(['b', 2]);
    expect(flushes).toEqual([]);
    void add(['a', 3]); // the third message: every push the service may hold is here
    await vi.advanceTimersByTimeAsync(0);
    expect(flushes).toEqual([{ group: 'a', items: [1, 3] }, { group: 'b', items: [2] }]);
    await expect(first).resolves.toEqual({ ok: true });
    // Answered, they wait no more: the next message waits for quiet again.
    void add(['a', 4]);
    await vi.advanceTimersByTimeAsync(249);
    expect(flushes).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(flushes).toHaveLength(3);
  });
});
