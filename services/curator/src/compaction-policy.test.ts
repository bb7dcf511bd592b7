import { describe, expect, it } from 'vitest';
import { DEFAULT_COMPACTION_POLICY, hourEndMs, planCompaction, type CompactionPolicy } from './compaction-policy.js';
import type { LakeObject } from './lake-store.js';

const MiB = 1024 * 1024;
const HOUR = 3_600_000;
const partition = { logType: 'user_action', dt: '2025-03-01', hr: '10' };
const PREFIX = 'events/log_type=user_action/dt=2025-03-01/hr=10/';
const END = Date.UTC(2025, 2, 1, 11);
const CLOSED = END + 2 * HOUR; // the first moment the hour counts as closed
const AGED = END + 24 * HOUR;

const file = (name: string, size = MiB): LakeObject => ({ name: `${PREFIX}${name}.parquet`, generation: '1', size, updated: '2025-03-01T10:00:00Z' });
const files = (count: number, size = MiB) => Array.from({ length: count }, (_, i) => file(`f${i}`, size));

describe('planCompaction', () => {
  it('knows when the hour ends (UTC)', () => {
    expect(hourEndMs(partition)).toBe(END);
    expect(hourEndMs({ ...partition, hr: '23' })).toBe(Date.UTC(2025, 2, 2, 0));
  });

  it('never touches an hour that is not closed yet, however many files it has', () => {
    expect(planCompaction(partition, files(50), CLOSED - 1)).toBeUndefined();
    expect(planCompaction(partition, files(50), END - HOUR / 2)).toBeUndefined();
    expect(planCompaction(partition, files(50), CLOSED)).toMatchObject({ mode: 'light' });
  });

  it('light (closed, not aged): merges only the small files, once there are enough of them', () => {
    const small = files(3, 15 * MiB);
    const big = file('big', 16 * MiB);
    expect(planCompaction(partition, [...small, big], CLOSED)).toBeUndefined();
    const plan = planCompaction(partition, [...small, file('f3', 2 * MiB), big], AGED - 1);
    expect(plan?.mode).toBe('light');
    expect(plan?.inputs.map((o) => o.name)).toEqual(['f0', 'f1', 'f2', 'f3'].map((n) => `${PREFIX}${n}.parquet`));
  });

  it('aggressive (aged): merges every file below the target, whatever its size', () => {
    const inputs = [file('a', 100 * MiB), file('b', 200 * MiB), file('c', MiB)];
    const plan = planCompaction(partition, inputs, AGED);
    expect(plan).toEqual({ partition, mode: 'aggressive', inputs });
    // Two files are enough once the hour is aged.
    expect(planCompaction(partition, files(2), AGED)?.inputs).toHaveLength(2);
  });

  it('leaves files already at the target alone, so a compacted hour is not rewritten again', () => {
    const done = [file('compacted-1', 256 * MiB), file('compacted-2', 300 * MiB)];
    expect(planCompaction(partition, done, AGED)).toBeUndefined();
    // The last, smaller output of a compaction plus one late file is worth a merge; the big ones stay out.
    const plan = planCompaction(partition, [...done, file('compacted-3', 40 * MiB), file('late', 1000)], AGED);
    expect(plan?.inputs.map((o) => o.name)).toEqual([`${PREFIX}compacted-3.parquet`, `${PREFIX}late.parquet`]);
  });

  it('never plans a single input file', () => {
    expect(planCompaction(partition, [], AGED)).toBeUndefined();
    expect(planCompaction(partition, files(1), AGED)).toBeUndefined();
    expect(planCompaction(partition, [file('big', 300 * MiB), file('small', MiB)], AGED)).toBeUndefined();
    expect(planCompaction(partition, files(1), CLOSED, { ...DEFAULT_COMPACTION_POLICY, lightMinFiles: 1 })).toBeUndefined();
  });

  it('sorts inputs by name and ignores what is not one of the partition Parquet files', () => {
    const listed = [
      file('c'),
      file('a'),
      { ...file('x'), name: `${PREFIX}_tmp.json` },
      { ...file('y'), name: 'events/log_type=user_action/dt=2025-03-01/hr=11/y.parquet' },
      file('b'),
    ];
    expect(planCompaction(partition, listed, AGED)?.inputs.map((o) => o.name)).toEqual(['a', 'b', 'c'].map((n) => `${PREFIX}${n}.parquet`));
  });

  it('follows the policy it is given', () => {
    const policy: CompactionPolicy = { closeAfterMs: 0, agedAfterMs: 60_000, smallFileBytes: 10, lightMinFiles: 2, targetFileBytes: 100 };
    expect(planCompaction(partition, [file('a', 5), file('b', 5)], END - 1, policy)).toBeUndefined();
    expect(planCompaction(partition, [file('a', 5), file('b', 5), file('c', 50)], END, policy)?.inputs).toHaveLength(2);
    expect(planCompaction(partition, [file('a', 5), file('b', 50), file('c', 100)], END + 60_000, policy)?.inputs).toHaveLength(2);
  });

  it('has the documented defaults', () => {
    expect(DEFAULT_COMPACTION_POLICY).toEqual({ closeAfterMs: 2 * HOUR, agedAfterMs: 24 * HOUR, smallFileBytes: 16 * MiB, lightMinFiles: 4, targetFileBytes: 256 * MiB });
  });
});
