import { describe, expect, it } from 'vitest';
import { checkEventTime, DEFAULT_EVENT_TIME_WINDOW } from './event-time.js';
import { isTimestamp } from './timestamps.js';

const received = Date.parse('2026-11-21T12:00:00Z');

describe('checkEventTime', () => {
  it('accepts events up to 7 days late and 1 hour early by default, on both sides of each limit', () => {
    expect(checkEventTime('2026-11-14T12:00:00Z', received, DEFAULT_EVENT_TIME_WINDOW)).toBeUndefined();
    expect(checkEventTime('2026-11-14T11:59:59.999Z', received, DEFAULT_EVENT_TIME_WINDOW)).toEqual({
      path: '/ts',
      message: 'is more than 7 days before the event was received (2026-11-21T12:00:00.000Z)',
    });
    expect(checkEventTime('2026-11-21T13:00:00Z', received, DEFAULT_EVENT_TIME_WINDOW)).toBeUndefined();
    expect(checkEventTime('2026-11-21T14:00:00.001+01:00', received, DEFAULT_EVENT_TIME_WINDOW)).toEqual({
      path: '/ts',
      message: 'is more than 1 hour after the event was received (2026-11-21T12:00:00.000Z)',
    });
  });

  it('takes a configured window', () => {
    expect(checkEventTime('2026-11-21T11:00:00Z', received, { maxLateMs: 60_000, maxFutureMs: 0 })?.message).toMatch(/more than 60 s before/);
  });
});

describe('timestamps BigQuery can hold', () => {
  it.each([
    ['0000-12-31T23:59:59Z', false],
    ['0001-01-01T00:00:00Z', true],
    ['0001-01-01T00:30:00+01:00', false], // year 0 once in UTC
    ['9999-12-31T23:59:59.999999Z', true],
    ['9999-12-31T23:30:00-01:00', false], // year 10000 once in UTC
  ])('%s → %s', (ts, ok) => {
    expect(isTimestamp(ts)).toBe(ok);
  });
});
