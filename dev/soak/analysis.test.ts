import { describe, expect, it } from 'vitest';
import { freshnessOf, memoryOf, soakWindow, throughputOf } from './analysis.js';
import type { ProducerTick } from './producer.js';

const T0 = 1_700_000_000_000;
const window = soakWindow(T0, T0 + 600_000, 0.2, 5_000); // 10 minutes; warm-up ends at 2 min

describe('soakWindow', () => {
  it('puts the warm-up at the start, sizes buckets for about 120 points, and rate buckets to two flush cycles at least', () => {
    expect(window).toEqual({ loadStartedAt: T0, loadEndedAt: T0 + 600_000, warmUpEndsAt: T0 + 120_000, bucketMs: 5_000, rateBucketMs: 10_000 });
    expect(soakWindow(T0, T0 + 60_000, 0.2, 5_000)).toMatchObject({ bucketMs: 1_000, rateBucketMs: 10_000 });
    expect(soakWindow(T0, T0 + 3_600_000, 0.2, 5_000)).toMatchObject({ bucketMs: 30_000, rateBucketMs: 30_000 });
  });
});

describe('memoryOf', () => {
  it('fits the slope only after the warm-up, in MiB a minute', () => {
    // Climbs 100 → 200 MiB during the warm-up, then grows 0.5 MiB a minute.
    const samples: Array<[number, number]> = [];
    for (let s = 0; s <= 600; s += 10) {
      samples.push([T0 + s * 1000, s < 120 ? 100 + (s / 120) * 100 : 200 + ((s - 120) / 60) * 0.5]);
    }
    const [writer] = memoryOf([{ name: 'writer', samples }, { name: 'gone', samples: [] }], window);
    expect(writer).toMatchObject({ name: 'writer', startMiB: 100, endMiB: 204, peakMiB: 204 });
    expect(writer!.slopeMiBPerMinute).toBeCloseTo(0.5, 9);
    expect(writer!.floorSlopeMiBPerMinute).toBeCloseTo(0.5, 9);
    expect(writer!.lateFloorSlopeMiBPerMinute).toBeCloseTo(0.5, 9);
    expect(memoryOf([{ name: 'gone', samples: [] }], window)).toEqual([]);
  });

  it("judges growth by each minute's floor: a sawtooth and late spikes tilt the plain slope, not the floor", () => {
    // 300 MiB after every GC, climbing 50 MiB within each minute; spikes of +150 MiB in the last minutes.
    const samples: Array<[number, number]> = [];
    for (let s = 0; s <= 600; s += 2) {
      const sawtooth = 300 + ((s % 60) / 60) * 50;
      samples.push([T0 + s * 1000, s >= 480 && s % 30 === 0 ? sawtooth + 150 : sawtooth]);
    }
    const [curator] = memoryOf([{ name: 'curator', samples }], window);
    expect(curator!.slopeMiBPerMinute).toBeGreaterThan(1);
    // (A spike on a trough's own sample moves that minute's floor by a sample's worth.)
    expect(Math.abs(curator!.floorSlopeMiBPerMinute!)).toBeLessThan(0.5);
    // A real leak: the floor itself rises 3 MiB a minute.
    const leaking = samples.map(([at, mib]): [number, number] => [at, mib + ((at - T0) / 60_000) * 3]);
    expect(memoryOf([{ name: 'writer', samples: leaking }], window)[0]!.floorSlopeMiBPerMinute).toBeCloseTo(3, 0);
  });
});

describe('freshnessOf', () => {
  it('takes every event, and separately those received after the warm-up', () => {
    const receivedAt = Float64Array.from([T0, T0 + 1_000, T0 + 130_000, T0 + 140_000]);
    const landedAt = Float64Array.from([T0 + 9_000, T0 + 4_000, T0 + 132_000, T0 + 145_000]);
    expect(freshnessOf({ receivedAt, landedAt }, window)).toEqual({
      all: { count: 4, p50: 3_000, p99: 9_000, max: 9_000 },
      afterWarmUp: { count: 2, p50: 2_000, p99: 5_000, max: 5_000 },
    });
  });
});

describe('throughputOf', () => {
  it('turns running totals and landing times into events a second per bucket', () => {
    const tick = (s: number, accepted: number) => ({ at: T0 + s * 1000, accepted }) as ProducerTick;
    const landedAt = Float64Array.from([T0 + 6_000, T0 + 7_000, T0 + 8_000, T0 + 9_000, T0 + 21_000]);
    const { accepted, landed } = throughputOf([tick(1, 1000), tick(4, 5000), tick(12, 10_000)], { receivedAt: new Float64Array(5), landedAt }, window);
    // 10-second buckets: 5,000 accepted in the first, 5,000 in the second; 4 landed, none, 1.
    expect(accepted).toEqual([[5, 500], [15, 500]]);
    expect(landed).toEqual([[5, 0.4], [15, 0], [25, 0.1]]);
  });
});
