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
    // Names no writer makes: the curator must not take them for partitions.
    expect(parseObjectName('events/log_type=user_action/dt=2026-01-02/hr=24/a.parquet')).toBeUndefined();
    expect(parseObjectName('events/log_type=user_action/dt=2025-02-29/hr=00/a.parquet')).toBeUndefined();
    expect(parseObjectName('events/log_type=user_action/dt=2024-02-29/hr=23/a.parquet')).toEqual({ logType: 'user_action', dt: '2024-02-29', hr: '23' });
    expect(parseObjectName('events/log_type=user_action/dt=0000-06-01/hr=10/a.parquet')).toEqual({ logType: 'user_action', dt: '0000-06-01', hr: '10' });
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

describe('RFC 3339 timestamps the lake accepts', () => {
  it.each([
    ['2024-02-29T00:00:00Z', 1709164800000000n],
    ['2024-02-29t00:00:00z', 1709164800000000n],
    ['2024-02-29 00:00:00Z', 1709164800000000n],
    ['2024-02-29T01:30:00+01:30', 1709164800000000n],
    ['2024-02-28T23:00:00.000001-01:00', 1709164800000001n],
    ['2024-02-29T00:00:00.123456789Z', 1709164800123456n],
  ])('%s', (iso, micros) => {
    expect(toMicros(iso)).toBe(micros);
  });

  it.each([
    '2026-02-29T00:00:00Z', // not a leap year
    '2026-04-31T00:00:00Z',
    '2026-11-21T10:00:00+0100', // offset without a colon
    '2026-11-21T10:00:00', // no offset: ambiguous
    '2026-11-21T10:00:60Z', // leap seconds cannot be stored
    '2026-11-21T10:00:00.Z',
    '2026-11-21T10:00:00.1234567890Z', // more than nanoseconds
    '2026-11-21T10:00:00Zjunk',
    '２０２６-11-21T10:00:00Z',
  ])('rejects %s', (iso) => {
    expect(() => toMicros(iso)).toThrow('not an RFC 3339 timestamp');
  });
});
