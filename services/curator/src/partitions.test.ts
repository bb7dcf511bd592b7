import { describe, expect, it } from 'vitest';
import type { LakeObject } from './lake-reader.js';
import { diffPartitions, fingerprintOf, groupByPartition, type StoredPartition } from './partitions.js';

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

describe('diffPartitions', () => {
  const listed = groupByPartition([object(`${A}/a.parquet`), object(`${B}/b.parquet`), object(`${B}/c.parquet`)]);
  const remembered = (key: string, fingerprint: string): [string, StoredPartition] => {
    const [logType, dt, hr] = key.split('/') as [string, string, string];
    return [key, { partition: { logType, dt, hr }, fingerprint, objectCount: 1 }];
  };

  it('treats every partition as changed when nothing is stored', () => {
    const changes = diffPartitions(listed, new Map());
    expect(changes.changed.map((p) => p.partition.hr)).toEqual(['10', '11']);
    expect(changes).toMatchObject({ vanished: [], unchanged: 0 });
  });

  it('keeps partitions whose fingerprint matches, recomputes the others, deletes the vanished', () => {
    const stored = new Map([
      remembered('user_action/2025-03-01/10', listed.get('user_action/2025-03-01/10')!.fingerprint),
      remembered('user_action/2025-03-01/11', 'an older listing'),
      remembered('user_action/2025-02-28/23', 'all files deleted since'),
    ]);
    const changes = diffPartitions(listed, stored);
    expect(changes.changed.map((p) => p.partition)).toEqual([{ logType: 'user_action', dt: '2025-03-01', hr: '11' }]);
    expect(changes.vanished).toEqual([{ logType: 'user_action', dt: '2025-02-28', hr: '23' }]);
    expect(changes.unchanged).toBe(1);
  });
});
