import { afterEach, describe, expect, it, vi } from 'vitest';
import { createPartitionBuffer, type BufferLimits } from './partition-buffer.js';

const roomy: BufferLimits = { maxRows: 100, maxBytes: 1_000_000, maxAgeMs: 60_000, maxBufferedRows: 1_000 };

function recordingBuffer(limits: Partial<BufferLimits> = {}) {
  const flushes: Array<{ group: string; items: number[] }> = [];
  let fail = false;
  const buffer = createPartitionBuffer<string, number>({
    limits: { ...roomy, ...limits },
    keyOf: (group) => group,
    async flush(group, items) {
      if (fail) throw new Error('store down');
      flushes.push({ group, items: [...items] });
    },
  });
  const add = (group: string, item: number, bytes = 1) => {
    const result = buffer.add(group, item, bytes);
    if (!result.ok) throw new Error(result.reason);
    return result.flushed;
  };
  return { buffer, flushes, add, failFlushes: () => (fail = true) };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('createPartitionBuffer', () => {
  it('flushes a group when it reaches maxRows, and only that group', async () => {
    const { flushes, add, buffer } = recordingBuffer({ maxRows: 3 });
    const first = [add('a', 1), add('a', 2), add('b', 9)];
    expect(flushes).toEqual([]);
    const third = add('a', 3);
    await expect(third).resolves.toEqual({ ok: true });
    await expect(first[0]).resolves.toEqual({ ok: true });
    expect(flushes).toEqual([{ group: 'a', items: [1, 2, 3] }]);
    expect(buffer.bufferedRows()).toBe(1);
  });

  it('flushes a group when its bytes reach maxBytes', async () => {
    const { flushes, add } = recordingBuffer({ maxBytes: 100 });
    void add('a', 1, 60);
    await add('a', 2, 40);
    expect(flushes).toEqual([{ group: 'a', items: [1, 2] }]);
  });

  it('flushes a group when its oldest row reaches maxAgeMs', async () => {
    vi.useFakeTimers();
    const { flushes, add } = recordingBuffer({ maxAgeMs: 5_000 });
    const flushed = add('a', 1);
    await vi.advanceTimersByTimeAsync(3_000);
    void add('a', 2); // joins the open batch; the age is the oldest row's
    await vi.advanceTimersByTimeAsync(1_999);
    expect(flushes).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await expect(flushed).resolves.toEqual({ ok: true });
    expect(flushes).toEqual([{ group: 'a', items: [1, 2] }]);
  });

  it('flushAll flushes every open batch, then flushes later rows at once (stop)', async () => {
    const { buffer, flushes, add } = recordingBuffer();
    const waiting = [add('a', 1), add('b', 2)];
    await expect(buffer.flushAll()).resolves.toEqual({ batches: 2, failed: 0 });
    expect(flushes).toEqual([{ group: 'a', items: [1] }, { group: 'b', items: [2] }]);
    await expect(Promise.all(waiting)).resolves.toEqual([{ ok: true }, { ok: true }]);
    await add('a', 3);
    expect(flushes.at(-1)).toEqual({ group: 'a', items: [3] });
    expect(buffer.bufferedRows()).toBe(0);
  });

  it('reports a failed flush to every row waiting on it and keeps none of them', async () => {
    const { buffer, add, failFlushes } = recordingBuffer({ maxRows: 2 });
    failFlushes();
    const first = add('a', 1);
    const second = add('a', 2);
    expect(await first).toMatchObject({ ok: false, error: expect.objectContaining({ message: 'store down' }) });
    expect(await second).toMatchObject({ ok: false });
    expect(buffer.bufferedRows()).toBe(0);
  });

  it('refuses rows beyond maxBufferedRows until a flush finishes', async () => {
    const { buffer, add } = recordingBuffer({ maxBufferedRows: 2 });
    void add('a', 1);
    void add('b', 2);
    expect(buffer.add('c', 3, 1)).toEqual({ ok: false, reason: 'backpressure' });
    await buffer.flushAll();
    expect(buffer.add('c', 3, 1).ok).toBe(true);
  });
});
