import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDwellTracker, type Seen } from './dwell.js';

describe('createDwellTracker', () => {
  beforeEach(() => vi.useFakeTimers({ now: 0 }));
  afterEach(() => vi.useRealTimers());

  const tracker = () => {
    const seen: Array<[string, Seen, number]> = [];
    const dwell = createDwellTracker<string>({ threshold: 0.5, minVisibleMs: 1000, onSeen: (key, s) => seen.push([key, s, Date.now()]) });
    return { dwell, seen };
  };

  it('counts an element once it stayed at least threshold visible for minVisibleMs, on either side of the limit', () => {
    const { dwell, seen } = tracker();
    dwell.update('a', 0.6);
    vi.advanceTimersByTime(999);
    expect(seen).toEqual([]);
    dwell.update('a', 0.8); // still visible: the clock keeps running
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([['a', { visibleRatio: 0.8, visibleMs: 1000 }, 1000]]);
  });

  it('restarts the clock when the element drops under the threshold: a link scrolled past does not count', () => {
    const { dwell, seen } = tracker();
    dwell.update('a', 1);
    vi.advanceTimersByTime(600);
    dwell.update('a', 0.49);
    vi.advanceTimersByTime(600);
    dwell.update('a', 0.5); // exactly the threshold counts
    vi.advanceTimersByTime(999);
    expect(seen).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual([['a', { visibleRatio: 0.5, visibleMs: 1000 }, 2200]]);
  });

  it('counts each element once, and each on its own clock', () => {
    const { dwell, seen } = tracker();
    dwell.update('a', 1);
    vi.advanceTimersByTime(500);
    dwell.update('b', 1);
    vi.advanceTimersByTime(1000);
    dwell.update('a', 0);
    dwell.update('a', 1);
    vi.advanceTimersByTime(5000);
    expect(seen.map(([key, , at]) => [key, at])).toEqual([['a', 1000], ['b', 1500]]);
    expect(dwell.seen('a')).toBe(true);
  });

  it('counts nothing once stopped', () => {
    const { dwell, seen } = tracker();
    dwell.update('a', 1);
    dwell.stop();
    vi.advanceTimersByTime(5000);
    dwell.update('a', 1);
    vi.advanceTimersByTime(5000);
    expect(seen).toEqual([]);
  });

  it('treats IntersectionObserver\'s 0.99999… at a threshold as reaching it, and 0 as never visible', () => {
    const seen: string[] = [];
    const full = createDwellTracker<string>({ threshold: 1, minVisibleMs: 0, onSeen: (key) => seen.push(key) });
    full.update('a', 0.9999999);
    const zero = createDwellTracker<string>({ threshold: 1e-9, minVisibleMs: 0, onSeen: (key) => seen.push(key) });
    zero.update('b', 0);
    vi.advanceTimersByTime(1);
    expect(seen).toEqual(['a']);
  });
});
