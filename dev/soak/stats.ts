/* The few statistics the soak report needs, dependency-free so they are easy to check by hand. */

/**
 * Nearest-rank percentile of values sorted ascending: the smallest value that at least `p` percent
 * of the values do not exceed (so p99 of 100 values is the 99th). NaN when there are none.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export interface Line {
  slope: number;
  intercept: number;
}

/** Ordinary least squares of y on x; undefined with fewer than two distinct x. */
export function linearRegression(points: ReadonlyArray<readonly [number, number]>): Line | undefined {
  const n = points.length;
  if (n < 2) return undefined;
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n;
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const [x, y] of points) {
    sxy += (x - meanX) * (y - meanY);
    sxx += (x - meanX) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { slope, intercept: meanY - slope * meanX };
}

export interface Distribution {
  count: number;
  p50: number;
  p99: number;
  max: number;
}

/** p50, p99 and max of values in any order (sorts a copy). */
export function distribution(values: ArrayLike<number>): Distribution {
  const sorted = Float64Array.from(values).sort();
  return { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN };
}

/**
 * Groups values by fixed-width time buckets: bucket i holds the values whose time t satisfies
 * start + i·width ≤ t < start + (i+1)·width. Buckets with no value are kept (empty).
 */
export function bucketByTime(times: ArrayLike<number>, values: ArrayLike<number>, start: number, width: number): number[][] {
  const buckets: number[][] = [];
  for (let i = 0; i < times.length; i++) {
    const index = Math.floor((times[i]! - start) / width);
    if (index < 0) continue;
    while (buckets.length <= index) buckets.push([]);
    buckets[index]!.push(values[i]!);
  }
  return buckets;
}
