import { describe, expect, it } from 'vitest';
import type { LakeObject } from './lake-store.js';
import { fingerprintOf, groupByDay, groupByPartition, type StoredPartition } from './partitions.js';

const object = (name: string, generation = '1', size = 100): LakeObject => ({ name, generation, size, updated: '2025-03-01T10:00:00Z' });
const A = 'events/log_type=user_action/dt=2025-03-01/hr=10';
const B = 'events/log_type=user_action/dt=2025-03-01/hr=11';

describe('fingerprintOf', () => {
  const base = [object(`${A}/a.parquet`), object(`${A}/b.parquet`, '7', 250)];

  it('does not depend on listing order', () => {
    expect(fingerprintOf([...base].reverse())).toBe(fingerprintOf(base));
  });

  it('changes when an object is added, removed, rewritten or resized', () => {
    const fp = fingerprintOf(base);
    expect(fingerprintOf([...base, object(`${A}/c.parquet`)])).not.toBe(fp);
    expect(fingerprintOf(base.slice(1))).not.toBe(fp);
    expect(fingerprintOf([object(`${A}/a.parquet`, '2'), base[1]!])).not.toBe(fp);
    expect(fingerprintOf([object(`${A}/a.parquet`, '1', 101), base[1]!])).not.toBe(fp);
  });

  it('ignores the updated time, which a metadata-only change also bumps', () => {
    expect(fingerprintOf(base.map((o) => ({ ...o, updated: '2030-01-01T00:00:00Z' })))).toBe(fingerprintOf(base));
  });
});

describe('groupByPartition', () => {
  it('groups lake Parquet files by partition and ignores every other object', () => {
    const listed = groupByPartition([
      object(`${A}/a.parquet`),
      object(`${B}/c.parquet`),
      object(`${A}/b.parquet`),
      object('events/README.txt'),
      object(`${A}/notes.json`),
      object(`${A}/nested/d.parquet`),
      object('quarantine/log_type=user_action/dt=2025-03-01/hr=10/x.parquet'),
    ]);
    expect([...listed.keys()]).toEqual(['user_action/2025-03-01/10', 'user_action/2025-03-01/11']);
    const a = listed.get('user_action/2025-03-01/10')!;
    expect(a.partition).toEqual({ logType: 'user_action', dt: '2025-03-01', hr: '10' });
    expect(a.objects.map((o) => o.name)).toEqual([`${A}/a.parquet`, `${A}/b.parquet`]);
    expect(a.fingerprint).toBe(fingerprintOf(a.objects));
  });
});

describe('groupByDay', () => {
  const C = 'events/log_type=user_action/dt=2025-03-02/hr=00';
  const listed = groupByPartition([object(`${A}/a.parquet`), object(`${B}/b.parquet`), object(`${B}/c.parquet`), object(`${C}/d.parquet`)]);
  const remembered = (key: string, fingerprint: string, curatedAt = '2025-03-02 01:00:00+00', objectCount = 1): [string, StoredPartition] => {
    const [logType, dt, hr] = key.split('/') as [string, string, string];
    return [key, { partition: { logType, dt, hr }, fingerprint, objectCount, curatedAt }];
  };

  it('makes one unit per log type and day, every hour changed when nothing is stored', () => {
    const days = groupByDay(listed, new Map());
    expect(days.map((d) => [d.logType, d.dt, d.hours.map((h) => h.partition.hr), d.changedHours, d.curatedAt])).toEqual([
      ['user_action', '2025-03-01', ['10', '11'], ['10', '11'], undefined],
      ['user_action', '2025-03-02', ['00'], ['00'], undefined],
    ]);
  });

  it('marks changed hours, vanished hours of a listed day, and the oldest curation time', () => {
    const stored = new Map([
      remembered('user_action/2025-03-01/10', listed.get('user_action/2025-03-01/10')!.fingerprint, '2025-03-02 01:00:00+00'),
      remembered('user_action/2025-03-01/11', 'an older listing', '2025-03-01 12:00:00+00'),
      remembered('user_action/2025-03-01/09', 'all files deleted since'),
      remembered('user_action/2025-03-01/08', 'curated while empty', '2025-03-01 12:00:00+00', 0),
      remembered('user_action/2025-03-02/00', listed.get('user_action/2025-03-02/00')!.fingerprint),
    ]);
    const [first, second] = groupByDay(listed, stored);
    expect(first).toMatchObject({ changedHours: ['11'], vanishedHours: ['09'], curatedAt: '2025-03-01 12:00:00+00' });
    expect(second).toMatchObject({ changedHours: [], vanishedHours: [] });
  });
});
