import { DEFAULT_EVENT_TIME_WINDOW } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { curationWindow, windowOffsets } from './window.js';

describe('curationWindow', () => {
  it('covers the event-time window plus the margin, by UTC day', () => {
    // 7 days late + 2 days margin before 2025-03-10 00:30, and 1 hour ahead of it.
    expect(curationWindow(Date.parse('2025-03-10T00:30:00Z'), DEFAULT_EVENT_TIME_WINDOW, 2)).toEqual({ fromDt: '2025-03-01', toDt: '2025-03-10' });
    expect(curationWindow(Date.parse('2025-03-10T23:30:00Z'), DEFAULT_EVENT_TIME_WINDOW, 0)).toEqual({ fromDt: '2025-03-03', toDt: '2025-03-11' });
  });
});

describe('windowOffsets', () => {
  const { prefix, startOffset, endOffset } = windowOffsets('user_action', { fromDt: '2025-03-01', toDt: '2025-03-10' });
  const inside = (name: string) => name.startsWith(prefix) && name >= startOffset && name < endOffset;

  it('bounds a listing to the days of the window, first and last day included', () => {
    expect(inside('events/log_type=user_action/dt=2025-03-01/hr=00/a.parquet')).toBe(true);
    expect(inside('events/log_type=user_action/dt=2025-03-10/hr=23/z.parquet')).toBe(true);
    expect(inside('events/log_type=user_action/dt=2025-02-28/hr=23/a.parquet')).toBe(false);
    expect(inside('events/log_type=user_action/dt=2025-03-11/hr=00/a.parquet')).toBe(false);
    expect(inside('events/log_type=user_actions/dt=2025-03-05/hr=00/a.parquet')).toBe(false);
  });
});
