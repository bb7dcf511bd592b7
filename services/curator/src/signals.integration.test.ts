import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createPool } from '@strata/runtime/postgres';
import { captureLogs, signalGaps } from '@strata/runtime/signals-testing';
import { PGLITE_POOL_MAX, startPgliteServer, THROWAWAY_DATABASE } from '@strata/dev/postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCurator } from './curate.js';
import { testCuratorDeps } from './curator-fixtures.js';
import { eventRow, eventsParquet, lakeObjectName } from './lake-fixtures.js';
import { createMemoryLake } from './lake-store.js';
import { migrate } from './migrate.js';

// The local counters and the log-based metrics count the curator's signals (runtime/src/signals.ts):
// this fails when a run stops emitting one of them, or one of its fields.
describe("the curator's signals", () => {
  let server: Awaited<ReturnType<typeof startPgliteServer>>;
  let workDir: string;

  beforeAll(async () => {
    server = await startPgliteServer({ database: THROWAWAY_DATABASE });
    await migrate(server.url);
    workDir = await mkdtemp(join(tmpdir(), 'strata-curator-signals-'));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  it('emits every signal declared for the curator, each with its declared fields; lag counts the day it could not curate', async () => {
    const { logger, lines } = captureLogs('curator');
    const pool = createPool(server.url, { max: PGLITE_POOL_MAX }, logger);
    const lake = createMemoryLake();
    // Events of an hour ago (inside the lateness window): one good day, and one whose file is not Parquet.
    const ts = new Date(Date.now() - 3_600_000).toISOString();
    const rows = [eventRow('e1', 'page_view', ts, { user_id: 'u1' })];
    lake.put(lakeObjectName('user_action', rows, 'good'), eventsParquet('user_action', rows));
    const broken = [eventRow('o1', 'order_paid', ts, { order_id: 'o1' })];
    lake.put(lakeObjectName('order_event', broken, 'broken'), new TextEncoder().encode('PAR1 but not really'));
    const curator = createCurator(
      // The curator's clock runs 90 s after the lake's writes: the broken file has waited that long.
      testCuratorDeps({ lake, pool, workDir, logger }, { now: () => Date.now() + 90_000 }),
    );
    try {
      const summary = await curator.run();
      expect(summary).toMatchObject({ daysCurated: 1, daysFailed: 1 });
      expect(summary.lagSeconds).toBeGreaterThanOrEqual(90);
      expect(summary.lagSeconds).toBeLessThan(90 + 60);
    } finally {
      await pool.end();
    }

    expect(signalGaps('curator', lines)).toEqual([]);
    expect(lines.find((l) => l.signal === 'curator.day_failed')).toMatchObject({ day: expect.stringMatching(/^order_event\//) });
  });
});
