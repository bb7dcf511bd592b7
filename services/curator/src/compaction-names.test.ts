import { describe, expect, it } from 'vitest';
import { compactionOutputName, holdsEachEventOnce, mergeIdOf } from './compaction-names.js';

const P = 'events/log_type=user_action/dt=2026-03-01/hr=10/';

describe('compaction output names', () => {
  it('name every file of one merge by the merge, numbered only when it wrote several', () => {
    expect(compactionOutputName(P, '01JABC', 0, 1)).toBe(`${P}compacted-01JABC.parquet`);
    expect([0, 1, 2].map((i) => compactionOutputName(P, '01JABC', i, 3))).toEqual([`${P}compacted-01JABC-1.parquet`, `${P}compacted-01JABC-2.parquet`, `${P}compacted-01JABC-3.parquet`]);
    expect(mergeIdOf(`${P}compacted-01JABC-2.parquet`)).toBe('01JABC');
    expect(mergeIdOf(`${P}compacted-01JABC.parquet`)).toBe('01JABC');
    expect(mergeIdOf(`${P}01JWRITER-0001.parquet`)).toBeUndefined();
    expect(mergeIdOf(`${P}compacted-01JABC.parquet.tmp`)).toBeUndefined();
  });

  it('say an hour holds each event once only when one merge wrote all of its files', () => {
    expect(holdsEachEventOnce([`${P}compacted-A.parquet`])).toBe(true);
    expect(holdsEachEventOnce([`${P}compacted-A-1.parquet`, `${P}compacted-A-2.parquet`])).toBe(true);
    // A late file from the writer, and the next merge's outputs before its inputs are deleted.
    expect(holdsEachEventOnce([`${P}compacted-A.parquet`, `${P}01JWRITER.parquet`])).toBe(false);
    expect(holdsEachEventOnce([`${P}compacted-A.parquet`, `${P}compacted-B.parquet`])).toBe(false);
    expect(holdsEachEventOnce([`${P}01JWRITER.parquet`])).toBe(false);
    expect(holdsEachEventOnce([])).toBe(false);
  });
});
