import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { curatedObjectName, partitionPrefix } from '@strata/schemas';
import { lakeDir } from './local-config.js';
import { queryLake } from './query.js';

/** Writes the rows of a SELECT as one Parquet object of the local lake (the GCS emulator mirrors object names as files). */
async function writeParquet(dataDir: string, objectName: string, select: string): Promise<void> {
  const path = join(lakeDir(dataDir), objectName);
  mkdirSync(dirname(path), { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await conn.run(`copy (${select}) to '${path}' (format parquet)`);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

const events = (rows: Array<[string, string, string, string]>) =>
  `select * from (values ${rows.map(([id, event, ts, received]) => `('${id}', '${event}', timestamptz '${ts}', timestamptz '${received}')`).join(', ')}) as t(event_id, event, ts, received_at)`;

describe('queryLake', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-query-test-'));
    // e1 delivered twice, in two files; the copy received first is the one kept.
    await writeParquet(dataDir, `${partitionPrefix({ logType: 'user_action', dt: '2025-03-01', hr: '10' })}a.parquet`, events([
      ['e1', 'page_viewed', '2025-03-01 10:00:00+00', '2025-03-01 10:00:01+00'],
      ['e2', 'search', '2025-03-01 10:05:00+00', '2025-03-01 10:05:01+00'],
    ]));
    await writeParquet(dataDir, `${partitionPrefix({ logType: 'user_action', dt: '2025-03-01', hr: '10' })}b.parquet`, events([
      ['e1', 'page_viewed_again', '2025-03-01 10:00:00+00', '2025-03-01 10:00:09+00'],
    ]));
  });
  afterEach(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('makes a view per log type with the partition keys from the path', async () => {
    const { rows } = await queryLake("select event_id, dt::varchar, hr, log_type from user_action order by event_id, received_at", dataDir);
    expect(rows).toEqual([
      ['e1', '2025-03-01', 10, 'user_action'],
      ['e1', '2025-03-01', 10, 'user_action'],
      ['e2', '2025-03-01', 10, 'user_action'],
    ]);
  });

  it('makes a deduplicated view per log type, where the first received copy wins', async () => {
    const { rows } = await queryLake('select event_id, event from user_action_deduped order by event_id', dataDir);
    expect(rows).toEqual([
      ['e1', 'page_viewed'],
      ['e2', 'search'],
    ]);
  });

  it('makes a curated view per rollup written, dt read from the path', async () => {
    const views = async () => (await queryLake("select view_name from duckdb_views() where view_name like 'curated_%' order by 1", dataDir)).rows.flat();
    expect(await views()).toEqual([]);

    await writeParquet(dataDir, curatedObjectName('daily_event_counts', '2025-03-01', 'user_action'), "select 'user_action' as log_type, 'search' as event, 1::bigint as events, 1::bigint as users");
    // Written before `users` was declared: the column reads as NULL.
    await writeParquet(dataDir, curatedObjectName('daily_event_counts', '2025-03-02', 'user_action'), "select 'user_action' as log_type, 'search' as event, 2::bigint as events");
    expect(await views()).toEqual(['curated_daily_event_counts']);
    const { rows } = await queryLake('select typeof(dt), dt::varchar, event, events, users from curated_daily_event_counts order by dt', dataDir);
    expect(rows).toEqual([
      ['DATE', '2025-03-01', 'search', '1', '1'],
      ['DATE', '2025-03-02', 'search', '2', null],
    ]);
  });
});
