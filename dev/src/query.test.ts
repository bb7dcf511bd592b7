import { beforeEach, describe, expect, it } from 'vitest';
import { curatedObjectName, partitionPrefix } from '@strata/schemas';
import { events, tempDataDirs, writeParquet } from './lake-fixtures.js';
import { queryLake } from './query.js';

describe('queryLake', () => {
  const dataDir = tempDataDirs('query');
  beforeEach(async () => {
    // e1 delivered twice, in two files; the copy received first is the one kept.
    await writeParquet(dataDir.path, `${partitionPrefix({ logType: 'user_action', dt: '2025-03-01', hr: '10' })}a.parquet`, events([
      ['e1', 'page_viewed', '2025-03-01 10:00:00+00', '2025-03-01 10:00:01+00'],
      ['e2', 'search', '2025-03-01 10:05:00+00', '2025-03-01 10:05:01+00'],
    ]));
    await writeParquet(dataDir.path, `${partitionPrefix({ logType: 'user_action', dt: '2025-03-01', hr: '10' })}b.parquet`, events([
      ['e1', 'page_viewed_again', '2025-03-01 10:00:00+00', '2025-03-01 10:00:09+00'],
    ]));
  });

  it('makes a view per log type with the partition keys from the path', async () => {
    const { rows } = await queryLake("select event_id, dt::varchar, hr, log_type from user_action order by event_id, received_at", dataDir.path);
    expect(rows).toEqual([
      ['e1', '2025-03-01', 10, 'user_action'],
      ['e1', '2025-03-01', 10, 'user_action'],
      ['e2', '2025-03-01', 10, 'user_action'],
    ]);
  });

  it('makes a deduplicated view per log type, where the first received copy wins', async () => {
    const { rows } = await queryLake('select event_id, event from user_action_deduped order by event_id', dataDir.path);
    expect(rows).toEqual([
      ['e1', 'page_viewed'],
      ['e2', 'search'],
    ]);
  });

  it('makes a curated view per rollup written, dt read from the path', async () => {
    const views = async () => (await queryLake("select view_name from duckdb_views() where view_name like 'curated_%' order by 1", dataDir.path)).rows.flat();
    expect(await views()).toEqual([]);

    await writeParquet(dataDir.path, curatedObjectName('daily_event_counts', '2025-03-01', 'user_action'), "select 'user_action' as log_type, 'search' as event, 1::bigint as events, 1::bigint as users");
    // Written before `users` was declared: the column reads as NULL.
    await writeParquet(dataDir.path, curatedObjectName('daily_event_counts', '2025-03-02', 'user_action'), "select 'user_action' as log_type, 'search' as event, 2::bigint as events");
    expect(await views()).toEqual(['curated_daily_event_counts']);
    const { rows } = await queryLake('select typeof(dt), dt::varchar, event, events, users from curated_daily_event_counts order by dt', dataDir.path);
    expect(rows).toEqual([
      ['DATE', '2025-03-01', 'search', '1', '1'],
      ['DATE', '2025-03-02', 'search', '2', null],
    ]);
  });
});
