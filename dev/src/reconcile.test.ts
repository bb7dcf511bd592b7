import { describe, expect, it } from 'vitest';
import { partitionPrefix } from '@strata/schemas';
import { events, tempDataDirs, writeParquet } from './lake-fixtures.js';
import { reconcile } from './reconcile.js';

const hour = (logType: string) => partitionPrefix({ logType, dt: '2025-03-01', hr: '10' });
const at = (second: number) => `2025-03-01 10:00:${String(second).padStart(2, '0')}+00`;

describe('reconcile', () => {
  const dataDir = tempDataDirs('reconcile');

  it('counts accepted ids in the lake, the lost, raw duplicates, duplicates the dedup cannot merge, and ids never accepted', async () => {
    await writeParquet(dataDir.path, `${hour('user_action')}a.parquet`, events([['e1', 'search', at(0), at(1)], ['e2', 'search', at(0), at(1)], ['e3', 'search', at(0), at(1)]]));
    // e1 redelivered into a second file; e9 published but never acknowledged to the producer.
    await writeParquet(dataDir.path, `${hour('user_action')}b.parquet`, events([['e1', 'search', at(0), at(5)], ['e9', 'search', at(0), at(5)]]));
    // e3 under a second log type: each log type's dedup keeps it, so it stays twice after dedup.
    await writeParquet(dataDir.path, `${hour('order_event')}c.parquet`, events([['e3', 'order_paid', at(0), at(2)]]));

    // e2 twice: a producer that retried an accepted batch reports its ids twice.
    expect(await reconcile(['e1', 'e2', 'e3', 'e4', 'e2'], dataDir.path)).toEqual({
      accepted: 4,
      inLake: 3,
      lost: 1,
      duplicatesRaw: 2,
      duplicatesAfterDedup: 1,
      unaccepted: 1,
    });
  });

  it('reports every accepted id lost when the lake is empty', async () => {
    expect(await reconcile(new Set(['e1', 'e2']), dataDir.path)).toEqual({ accepted: 2, inLake: 0, lost: 2, duplicatesRaw: 0, duplicatesAfterDedup: 0, unaccepted: 0 });
  });
});
