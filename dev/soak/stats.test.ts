import { describe, expect, it } from 'vitest';
import { bucketByTime, distribution, linearRegression, percentile } from './stats.js';

describe('percentile', () => {
  it('is the nearest rank: the smallest value at least p percent of the values do not exceed', () => {
    const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(hundred, 50), percentile(hundred, 99), percentile(hundred, 100)]).toEqual([50, 99, 100]);
    expect([percentile([7], 1), percentile([7], 99)]).toEqual([7, 7]);
    expect(percentile([1, 2, 3], 0)).toBe(1);
    expect(percentile([10, 20, 30, 40], 75)).toBe(30);
    expect(percentile([], 50)).toBeNaN();
  });
});

describe('distribution', () => {
  it('sorts a copy numerically, not as text', () => {
    const values = [900, 10, 1000, 20, 3];
    expect(distribution(values)).toEqual({ count: 5, p50: 20, p99: 1000, max: 1000 });
    expect(values).toEqual([900, 10, 1000, 20, 3]);
    expect(distribution([]).count).toBe(0);
  });
});

describe('linearRegression', () => {
  it('recovers an exact line and the least-squares fit of noisy points', () => {
    expect(linearRegression([[0, 1], [1, 3], [2, 5]])).toEqual({ slope: 2, intercept: 1 });
    // y = 0, 2, 1, 3 at x = 0..3: slope 0.8, intercept 0.3 (by hand: Sxy = 4, Sxx = 5).
    const fit = linearRegression([[0, 0], [1, 2], [2, 1], [3, 3]])!;
    expect(fit.slope).toBeCloseTo(0.8, 12);
    expect(fit.intercept).toBeCloseTo(0.3, 12);
    expect(linearRegression([[5, 100], [6, 100], [7, 100]])).toEqual({ slope: 0, intercept: 100 });
  });

  it('has no line through fewer than two distinct x', () => {
    expect(linearRegression([])).toBeUndefined();
    expect(linearRegression([[1, 1]])).toBeUndefined();
    expect(linearRegression([[2, 1], [2, 5]])).toBeUndefined();
  });
});

describe('bucketByTime', () => {
  it('puts each value in its half-open bucket, keeps empty buckets and skips times before the start', () => {
    expect(bucketByTime([1000, 1999, 2000, 4500, 500], [1, 2, 3, 4, 5], 1000, 1000)).toEqual([[1, 2], [3], [], [4]]);
  });
});
