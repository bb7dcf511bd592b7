import { partitionKey, type Partition } from '@strata/schemas';
import { describe, expect, it } from 'vitest';
import { lagSeconds } from './lag.js';
import type { ListedDay, StoredPartition } from './partitions.js';

const NOW = Date.parse('2025-03-03T12:00:00Z');
const hour = (hr: string, ...updated: string[]) => ({
  partition: { logType: 'user_action', dt: '2025-03-01', hr } satisfies Partition,
  objects: updated.map((u, i) => ({ name: `events/log_type=user_action/dt=2025-03-01/hr=${hr}/${i}.parquet`, generation: String(i), size: 1, updated: u })),
  fingerprint: hr,
});
const day = (changedHours: string[], ...hours: ReturnType<typeof hour>[]): ListedDay => ({ logType: 'user_action', dt: '2025-03-01', hours, changedHours, vanishedHours: [], curatedAt: undefined });
const curated = (hr: string, curatedAt: string): [string, StoredPartition] => {
  const partition = { logType: 'user_action', dt: '2025-03-01', hr };
  return [partitionKey(partition), { partition, fingerprint: 'old', objectCount: 1, curatedAt }];
};

describe('lagSeconds', () => {
  it('is 0 when the run left nothing uncurated', () => {
    expect(lagSeconds([], new Map(), NOW)).toBe(0);
  });

  it('is the age of the oldest file of a changed hour never curated', () => {
    const left = [day(['10'], hour('10', '2025-03-03T11:50:00Z', '2025-03-03T11:00:00Z'))];
    expect(lagSeconds(left, new Map(), NOW)).toBe(3600);
  });

  it('counts only files written after the hour was last curated (PostgreSQL text timestamps), and only changed hours', () => {
    const left = [day(['10'], hour('10', '2025-03-03T09:00:00Z', '2025-03-03T11:30:00Z'), hour('11', '2025-03-03T08:00:00Z'))];
    const stored = new Map([curated('10', '2025-03-03 10:00:00.123456+00')]);
    expect(lagSeconds(left, stored, NOW)).toBe(1800);
  });

  it('is 0 for a day recomputed with no new file (a rollup definition changed), and never negative', () => {
    const stored = new Map([curated('10', '2025-03-03 10:00:00+00')]);
    expect(lagSeconds([day(['10'], hour('10', '2025-03-03T09:00:00Z'))], stored, NOW)).toBe(0);
    expect(lagSeconds([day(['10'], hour('10', '2025-03-03T12:00:05Z'))], new Map(), NOW)).toBe(0);
  });

  it('skips a file whose write time is unknown', () => {
    expect(lagSeconds([day(['10'], hour('10', '', '2025-03-03T11:59:00Z'))], new Map(), NOW)).toBe(60);
  });
});
