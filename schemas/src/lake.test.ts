import { describe, expect, it } from 'vitest';
import { parseObjectName, partitionOf, partitionPrefix } from './lake.js';
import { microsToIso, toMicros } from './timestamps.js';

describe('lake layout', () => {
  it('partitions by the event time in UTC, whatever offset the producer used', () => {
    expect(partitionOf('user_action', '2026-11-21T23:30:00-02:00')).toEqual({ logType: 'user_action', dt: '2026-11-22', hr: '01' });
    expect(partitionPrefix(partitionOf('user_action', '2026-01-02T03:04:05Z'))).toBe('events/log_type=user_action/dt=2026-01-02/hr=03/');
  });

  it('parses lake object names and ignores anything else', () => {
    expect(parseObjectName('events/log_type=user_action/dt=2026-01-02/hr=03/01J.parquet')).toEqual({ logType: 'user_action', dt: '2026-01-02', hr: '03' });
    expect(parseObjectName('quarantine/log_type=user_action/dt=2026-01-02/x.jsonl')).toBeUndefined();
    expect(parseObjectName('events/log_type=user_action/dt=2026-01-02/hr=03/x.tmp')).toBeUndefined();
  });
});

describe('timestamps', () => {
  it('keeps microseconds that Date would drop', () => {
    expect(toMicros('2026-11-21T10:00:00.123456Z')).toBe(1795255200123456n);
    expect(toMicros('2026-11-21T11:00:00.123456789+01:00')).toBe(1795255200123456n);
    expect(microsToIso(1795255200123456n)).toBe('2026-11-21T10:00:00.123456Z');
  });

  it('rejects what is not RFC 3339', () => {
    expect(() => toMicros('yesterday')).toThrow('not an RFC 3339 timestamp: yesterday');
  });
});
