import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { frameVisibleBox, throttle, visibleRatio } from './geometry.js';

const box = (top: number, left: number, bottom: number, right: number) => ({ top, left, bottom, right });
const viewport = box(0, 0, 600, 800);

describe('visibleRatio', () => {
  it('is the share of the element inside the viewport', () => {
    expect(visibleRatio(box(100, 0, 200, 100), viewport)).toBe(1);
    expect(visibleRatio(box(550, 0, 650, 100), viewport)).toBe(0.5);
    expect(visibleRatio(box(700, 0, 800, 100), viewport)).toBe(0);
    expect(visibleRatio(box(-50, 750, 50, 850), viewport)).toBe(0.25);
  });

  it('is 0 for an element with no area (display: none measures all zeros)', () => {
    expect(visibleRatio(box(0, 0, 0, 0), viewport)).toBe(0);
  });
});

describe('frameVisibleBox', () => {
  it('gives the visible part of an iframe in the iframe\'s own coordinates, past its border', () => {
    // An iframe at (400, 100), 300 tall with a 2 px border, in a 600 px tall viewport: its top 200 px show.
    const frame = box(400, 100, 700, 500);
    expect(frameVisibleBox(box(400, 100, 600, 500), frame, { left: 2, top: 2 })).toEqual(box(-2, -2, 198, 398));
    expect(frameVisibleBox(box(0, 0, 0, 0), frame, { left: 0, top: 0 })).toBeNull();
  });
});

describe('throttle', () => {
  beforeEach(() => vi.useFakeTimers({ now: 1000 }));
  afterEach(() => vi.useRealTimers());

  it('runs at once, then at most once per interval, and always after the last call', () => {
    const fn = vi.fn();
    const throttled = throttle(fn, 100);
    throttled();
    expect(fn).toHaveBeenCalledTimes(1);
    throttled();
    throttled();
    expect(fn).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(100);
    expect(fn).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(2);
  });
});
