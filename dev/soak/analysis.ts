import type { LandedEvents } from './landed-events.js';
import type { ProducerTick } from './producer.js';
import type { RssSeries } from './rss-sampler.js';
import { bucketByTime, distribution, linearRegression, type Distribution } from './stats.js';

/**
 * From what the soak measured to the figures and plot series of its report. Times are epoch ms
 * in, seconds since the load started on the plots' x axes.
 */
export interface Window {
  loadStartedAt: number;
  loadEndedAt: number;
  /** Samples and events before this are the warm-up: left out of slopes and "after warm-up" figures. */
  warmUpEndsAt: number;
  /** Width of a freshness bucket: about 120 a run. */
  bucketMs: number;
  /**
   * Width of a throughput bucket: at least two flush cycles, as the writer lands events in bursts
   * once per flush age, and narrower buckets alias those bursts into spikes and gaps.
   */
  rateBucketMs: number;
}

/** The warm-up is the first `fraction` of the load. */
export function soakWindow(loadStartedAt: number, loadEndedAt: number, warmUpFraction: number, flushMaxAgeMs: number): Window {
  const duration = loadEndedAt - loadStartedAt;
  const bucketMs = Math.max(1, Math.round(duration / 120_000)) * 1000;
  return {
    loadStartedAt,
    loadEndedAt,
    warmUpEndsAt: loadStartedAt + duration * warmUpFraction,
    bucketMs,
    rateBucketMs: Math.max(bucketMs, Math.ceil((2 * flushMaxAgeMs) / 1000) * 1000),
  };
}

export interface ProcessMemory {
  name: string;
  startMiB: number;
  endMiB: number;
  peakMiB: number;
  /** Least-squares slope of RSS over time after the warm-up; undefined with fewer than two samples there. */
  slopeMiBPerMinute: number | undefined;
  /**
   * The same through each minute's lowest sample: the floor the heap returns to after each GC.
   * A leak raises the floor; a GC sawtooth or a busy spike (a curator run) does not, though either
   * can tilt the slope through every sample. Undefined with fewer than two whole minutes.
   */
  floorSlopeMiBPerMinute: number | undefined;
  /**
   * The floor slope over the second half of the load only: a heap still settling (the first GC of
   * a big old space, PGlite's start-up buffers freed) moves the floor early on; a leak keeps it
   * rising to the end. This is what "flat" is judged on.
   */
  lateFloorSlopeMiBPerMinute: number | undefined;
}

/** The lowest sample of each whole minute after `from`, as [minute, MiB] at the minute's middle. */
function minuteFloors(samples: Array<[number, number]>, from: number): Array<[number, number]> {
  const floors = new Map<number, number>();
  for (const [at, mib] of samples) {
    if (at < from) continue;
    const minute = Math.floor((at - from) / 60_000);
    floors.set(minute, Math.min(floors.get(minute) ?? Infinity, mib));
  }
  const last = Math.floor((samples[samples.length - 1]![0] - from) / 60_000);
  // The last minute is cut short by the end of the load: a partial minute's floor is not comparable.
  return [...floors].filter(([minute]) => minute < last).map(([minute, mib]): [number, number] => [minute + 0.5, mib]);
}

export function memoryOf(series: RssSeries[], window: Window): ProcessMemory[] {
  return series
    .filter((s) => s.samples.length > 0)
    .map(({ name, samples }) => {
      const after = samples.filter(([at]) => at >= window.warmUpEndsAt).map(([at, mib]): [number, number] => [at / 60_000, mib]);
      return {
        name,
        startMiB: samples[0]![1],
        endMiB: samples[samples.length - 1]![1],
        peakMiB: samples.reduce((peak, [, mib]) => Math.max(peak, mib), 0),
        slopeMiBPerMinute: linearRegression(after)?.slope,
        floorSlopeMiBPerMinute: linearRegression(minuteFloors(samples, window.warmUpEndsAt))?.slope,
        lateFloorSlopeMiBPerMinute: linearRegression(minuteFloors(samples, (window.loadStartedAt + window.loadEndedAt) / 2))?.slope,
      };
    });
}

export interface Freshness {
  /** Every event, in ms. */
  all: Distribution;
  /** Events received after the warm-up, in ms. */
  afterWarmUp: Distribution;
}

const freshnessMs = (landed: LandedEvents) => landed.landedAt.map((at, i) => at - landed.receivedAt[i]!);

export function freshnessOf(landed: LandedEvents, window: Window): Freshness {
  const all = freshnessMs(landed);
  // receivedAt is ascending: the events after the warm-up are a suffix.
  const firstAfter = landed.receivedAt.findIndex((at) => at >= window.warmUpEndsAt);
  return { all: distribution(all), afterWarmUp: distribution(firstAfter < 0 ? [] : all.subarray(firstAfter)) };
}

type Points = Array<[number, number]>;
const seconds = (window: Window, at: number) => (at - window.loadStartedAt) / 1000;
/** The middle of bucket i of `width` ms, in seconds since the load started. */
const middle = (i: number, width: number) => ((i + 0.5) * width) / 1000;
const perSecond = (buckets: number[][], width: number): Points =>
  buckets.map((values, i) => [middle(i, width), values.reduce((a, b) => a + b, 0) / (width / 1000)]);

/** Events per second accepted by ingest (from the producer's totals) and landed in the lake (by file creation). */
export function throughputOf(ticks: ProducerTick[], landed: LandedEvents, window: Window): { accepted: Points; landed: Points } {
  const acceptedSteps = ticks.map((t, i) => t.accepted - (ticks[i - 1]?.accepted ?? 0));
  const { loadStartedAt: start, rateBucketMs: width } = window;
  return {
    accepted: perSecond(bucketByTime(ticks.map((t) => t.at), acceptedSteps, start, width), width),
    landed: perSecond(bucketByTime(landed.landedAt, new Float64Array(landed.landedAt.length).fill(1), start, width), width),
  };
}

/** Freshness (s) by when the event was received: p50, p99 and max of each bucket. */
export function freshnessOverTime(landed: LandedEvents, window: Window): { p50: Points; p99: Points; max: Points } {
  const buckets = bucketByTime(landed.receivedAt, freshnessMs(landed), window.loadStartedAt, window.bucketMs);
  const out = { p50: [] as Points, p99: [] as Points, max: [] as Points };
  buckets.forEach((values, i) => {
    if (values.length === 0) return;
    const d = distribution(values);
    const x = middle(i, window.bucketMs);
    out.p50.push([x, d.p50 / 1000]);
    out.p99.push([x, d.p99 / 1000]);
    out.max.push([x, d.max / 1000]);
  });
  return out;
}

export function rssOverTime(series: RssSeries[], window: Window): Array<{ name: string; points: Points }> {
  return series.map(({ name, samples }) => ({ name, points: samples.map(([at, mib]): [number, number] => [seconds(window, at), mib]) }));
}
