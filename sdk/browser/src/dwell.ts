/**
 * When an element counts as seen (seed 003): it has stayed at least `threshold` visible for
 * `minVisibleMs` without a break. Each element counts once. The caller reports the element's
 * visible ratio whenever it may have changed (an IntersectionObserver entry, a measurement after a
 * scroll, a message from the parent page, the page being hidden); a ratio under the threshold
 * restarts the clock, so a link scrolled past faster than `minVisibleMs` never counts.
 */

export interface Seen {
  /** The last ratio reported before it counted. */
  visibleRatio: number;
  /** How long it had been visible without a break when it counted (≥ minVisibleMs). */
  visibleMs: number;
}

export interface DwellOptions<K> {
  threshold: number;
  minVisibleMs: number;
  onSeen: (key: K, seen: Seen) => void;
  now?: () => number;
}

export interface DwellTracker<K> {
  update(key: K, ratio: number): void;
  /** Whether the element already counted. */
  seen(key: K): boolean;
  /** Stops every running clock (nothing counts afterwards). */
  stop(): void;
}

// IntersectionObserver reports 0.99999… for an element that is exactly at a threshold.
const EPSILON = 1e-6;

export function createDwellTracker<K>({ threshold, minVisibleMs, onSeen, now = Date.now }: DwellOptions<K>): DwellTracker<K> {
  const state = new Map<K, { since?: number; ratio: number; timer?: ReturnType<typeof setTimeout> }>();
  const counted = new Set<K>();
  let stopped = false;

  const fire = (key: K) => {
    const s = state.get(key);
    if (!s || s.since === undefined || stopped) return;
    state.delete(key);
    counted.add(key);
    onSeen(key, { visibleRatio: s.ratio, visibleMs: Math.max(minVisibleMs, Math.round(now() - s.since)) });
  };

  return {
    update(key, ratio) {
      if (stopped || counted.has(key)) return;
      let s = state.get(key);
      if (!s) state.set(key, (s = { ratio }));
      s.ratio = ratio;
      if (ratio + EPSILON >= threshold && ratio > 0) {
        if (s.since === undefined) {
          s.since = now();
          s.timer = setTimeout(() => fire(key), minVisibleMs);
        }
      } else if (s.since !== undefined) {
        clearTimeout(s.timer);
        s.since = undefined;
        s.timer = undefined;
      }
    },
    seen: (key) => counted.has(key),
    stop() {
      stopped = true;
      for (const s of state.values()) clearTimeout(s.timer);
      state.clear();
    },
  };
}
