import { logTypePrefix, type EventTimeWindow } from '@strata/schemas';

const DAY_MS = 86_400_000;

/**
 * Which days a run looks at. Events reach a partition only inside the event-time window that
 * ingest and the writer enforce (7 days late, 1 hour ahead by default), so only those days can
 * change; `marginDays` more on the old side cover a message published inside the window and
 * delivered later (Pub/Sub retries for up to a day of writer outage, say). Older days change only
 * by a backfill or a replay that bypasses the window: a run with scope "all" covers those.
 */
export interface CurationWindow {
  /** First day, YYYY-MM-DD. */
  fromDt: string;
  /** Last day, YYYY-MM-DD. */
  toDt: string;
}

export function curationWindow(nowMs: number, events: EventTimeWindow, marginDays: number): CurationWindow {
  const iso = (ms: number) => new Date(ms).toISOString().slice(0, 10);
  return { fromDt: iso(nowMs - events.maxLateMs - marginDays * DAY_MS), toDt: iso(nowMs + events.maxFutureMs) };
}

/**
 * The listing bounds of a log type's days in the window, for GCS's startOffset/endOffset: names sort
 * by dt, so one paginated list call per log type returns exactly the window's objects.
 */
export function windowOffsets(logType: string, window: CurationWindow): { prefix: string; startOffset: string; endOffset: string } {
  const prefix = logTypePrefix(logType);
  // "dt=<toDt>0" sorts right after every name of toDt ("/" < "0") and before the next day's.
  return { prefix, startOffset: `${prefix}dt=${window.fromDt}/`, endOffset: `${prefix}dt=${window.toDt}0` };
}
