import { utimesSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { partitionPrefix } from '@strata/schemas';
import { events, tempDataDirs, writeParquet } from '../src/lake-fixtures.js';
import { lakeDir } from '../src/local-config.js';
import { landedEvents } from './landed-events.js';

const prefix = partitionPrefix({ logType: 'user_action', dt: '2025-03-01', hr: '10' });
const at = (second: number) => `2025-03-01 10:00:${String(second).padStart(2, '0')}+00`;
const epoch = (second: number) => Date.UTC(2025, 2, 1, 10, 0, second);

describe('landedEvents', () => {
  const dataDir = tempDataDirs('landed');

  it("pairs each event's first receipt with the creation time of the first file holding it, ordered by receipt", async () => {
    await writeParquet(dataDir.path, `${prefix}a.parquet`, events([['e2', 'search', at(0), at(3)], ['e1', 'search', at(0), at(1)]]));
    // e1 again, received later and written later: a redelivery. Its first copy decides.
    await writeParquet(dataDir.path, `${prefix}b.parquet`, events([['e1', 'search', at(0), at(8)]]));
    const file = (name: string) => join(lakeDir(dataDir.path), `${prefix}${name}`);
    utimesSync(file('a.parquet'), new Date(epoch(6)), new Date(epoch(6)));
    utimesSync(file('b.parquet'), new Date(epoch(12)), new Date(epoch(12)));

    const landed = await landedEvents(dataDir.path);
    expect([...landed.receivedAt]).toEqual([epoch(1), epoch(3)]);
    expect([...landed.landedAt]).toEqual([epoch(6), epoch(6)]);
  });

  it('is empty for an empty lake', async () => {
    expect((await landedEvents(dataDir.path)).receivedAt).toHaveLength(0);
  });
});
