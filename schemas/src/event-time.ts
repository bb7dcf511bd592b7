import { readInt, type Env } from '@strata/runtime';
import type { FieldError } from './registry.js';
import { toMillis } from './timestamps.js';

/**
 * How far an event's own `ts` may lie from the time Strata received it. Partitions follow `ts`, so
 * an event claiming to be from years ago or next week would land in a partition nobody looks at (or
 * make every curator run re-curate an ancient one); outside the window it goes to quarantine with a
 * reason instead, and can be replayed once fixed. Ingest checks against its receive time; the
 * writer checks events from direct publishers against the message's publish time.
 */
export interface EventTimeWindow {
  /** How late an event may arrive. */
  maxLateMs: number;
  /** How far ahead of the receive time an event's clock may run. */
  maxFutureMs: number;
}

export const DEFAULT_EVENT_TIME_WINDOW: EventTimeWindow = { maxLateMs: 7 * 24 * 3_600_000, maxFutureMs: 3_600_000 };

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
const describe = (ms: number) => (ms % 86_400_000 === 0 ? plural(ms / 86_400_000, 'day') : ms % 3_600_000 === 0 ? plural(ms / 3_600_000, 'hour') : `${ms / 1000} s`);

/** The reason `ts` is outside the window around `receivedAtMs`, or undefined when it is inside. */
export function checkEventTime(ts: string, receivedAtMs: number, window: EventTimeWindow): FieldError | undefined {
  const at = toMillis(ts);
  if (at < receivedAtMs - window.maxLateMs) {
    return { path: '/ts', message: `is more than ${describe(window.maxLateMs)} before the event was received (${new Date(receivedAtMs).toISOString()})` };
  }
  if (at > receivedAtMs + window.maxFutureMs) {
    return { path: '/ts', message: `is more than ${describe(window.maxFutureMs)} after the event was received (${new Date(receivedAtMs).toISOString()})` };
  }
  return undefined;
}

/** The window from EVENT_MAX_LATE_SECONDS and EVENT_MAX_FUTURE_SECONDS, read the same by ingest and the writer. */
export function readEventTimeWindow(env: Env): EventTimeWindow {
  const day = 86_400;
  return {
    maxLateMs: readInt(env, 'EVENT_MAX_LATE_SECONDS', DEFAULT_EVENT_TIME_WINDOW.maxLateMs / 1000, { min: 0, max: 3650 * day }) * 1000,
    maxFutureMs: readInt(env, 'EVENT_MAX_FUTURE_SECONDS', DEFAULT_EVENT_TIME_WINDOW.maxFutureMs / 1000, { min: 0, max: 365 * day }) * 1000,
  };
}
