import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '@strata/runtime';
import { PGLITE_POOL_MAX, THROWAWAY_DATABASE, resetTestDatabase, startPgliteServer, testDatabase } from '@strata/dev/postgres';
import { createCurator, type Curator, type CurationSummary } from './curate.js';
import { NOT_LAKE_OBJECTS, objectNameFor, readCounts, readCurated, userAction, userActionParquet } from './lake-fixtures.js';
import { createMemoryLake, type MemoryLake } from './lake-reader.js';
import { migrate } from './migrate.js';
import { createPool } from '@strata/runtime/postgres';
import { openDuckDbRollup } from './rollup.js';
import { createPgSummaryStore } from './summary-store.js';

interface Backend {
  name: string;
  start(): Promise<{ url: string; poolMax: number; stop(): Promise<void> }>;
}

// The same scenario against a real PostgreSQL and against PGlite behind its socket server (the local stack's).
const backends: Backend[] = [
  { name: 'PostgreSQL from testDatabase()', start: () => testDatabase() },
  {
    name: 'PGlite via startPgliteServer()',
    start: async () => ({ ...(await startPgliteServer({ database: THROWAWAY_DATABASE })), poolMax: PGLITE_POOL_MAX }),
  },
];

// Partition user_action/2025-03-01/10 holds e2 in both files: at-least-once delivery wrote it twice.
const a1 = [userAction('e1', 'page_view', '2025-03-01T10:01:00Z', 'u1'), userAction('e2', 'page_view', '2025-03-01T10:02:00Z', 'u2'), userAction('e3', 'add_to_cart', '2025-03-01T10:03:00Z', 'u1')];
const a2 = [userAction('e2', 'page_view', '2025-03-01T10:02:00Z', 'u2'), userAction('e4', 'page_view', '2025-03-01T10:04:00Z', 'u1'), userAction('e4', 'page_view', '2025-03-01T10:04:00Z', 'u1')];
const b1 = [userAction('e5', 'search', '2025-03-01T11:05:00Z', 'u3')];
const A = 'user_action/2025-03-01/10';
const B = 'user_action/2025-03-01/11';

describe.each(backends)('curation against $name', (backend) => {
  let server: Awaited<ReturnType<Backend['start']>>;
  let workDir: string;
  let pool: pg.Pool;
  let lake: MemoryLake;
  let curator: Curator;
  let logs: Array<Record<string, unknown>>;

  const put = (file: string, rows: Record<string, unknown>[]) => lake.put(objectNameFor(rows, file), userActionParquet(rows));
  const run = async (): Promise<CurationSummary> => {
    const outcome = await curator.run();
    if (!outcome.ran) throw new Error(`run skipped: ${outcome.reason}`);
    return outcome.summary;
  };

  beforeAll(async () => {
    server = await backend.start();
    workDir = await mkdtemp(join(tmpdir(), 'strata-curator-test-'));
  });
  afterAll(async () => {
    await server?.stop();
    await rm(workDir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await resetTestDatabase(server.url);
    expect(await migrate(server.url)).toEqual(['1763683200000_rollup-tables']);
    logs = [];
    const logger = createLogger({ service: 'curator', level: 'debug' }, { write: (line: string) => void logs.push(JSON.parse(line)) });
    pool = createPool(server.url, { max: server.poolMax }, logger);
    lake = createMemoryLake();
    curator = createCurator({ lake, store: createPgSummaryStore(pool), openRollup: openDuckDbRollup, workDir, logger });
    put('a1', a1);
    put('a2', a2);
    put('b1', b1);
    for (const name of NOT_LAKE_OBJECTS) lake.put(name, new TextEncoder().encode('not a lake file'));
  });
  afterEach(async () => {
    await pool.end();
  });

  it('rolls up each partition, counting a duplicated event_id once', async () => {
    const summary = await run();
    expect(summary).toMatchObject({ partitionsScanned: 2, partitionsChanged: 2, partitionsFailed: 0, rollupRows: 3 });
    expect((await readCounts(pool)).map(({ updated_at: _, ...row }) => row)).toEqual([
      { partition: A, event: 'add_to_cart', events: 1, users: 1 },
      { partition: A, event: 'page_view', events: 3, users: 2 },
      { partition: B, event: 'search', events: 1, users: 1 },
    ]);
    expect(await readCurated(pool)).toEqual([A, B]);
    const finished = logs.filter((l) => l.message === 'curation run finished');
    expect(finished).toEqual([expect.objectContaining({ severity: 'INFO', partitionsScanned: 2, partitionsChanged: 2, rollupRows: 3, durationMs: expect.any(Number) })]);
    expect(await readdir(workDir)).toEqual([]); // downloads are gone
  });

  it('a rerun over the same files changes nothing, not even updated_at', async () => {
    await run();
    const before = await readCounts(pool);
    expect(await run()).toMatchObject({ partitionsScanned: 2, partitionsChanged: 0, rollupRows: 0 });
    expect(await readCounts(pool)).toEqual(before);

    // A file rewritten with the same content (new generation) is recomputed to the same rows.
    put('a1', a1);
    expect(await run()).toMatchObject({ partitionsChanged: 1, rollupRows: 2 });
    expect(await readCounts(pool)).toEqual(before);
  });

  it('recomputes only the partition that got a new file', async () => {
    await run();
    const [addToCart] = await readCounts(pool);
    put('b2', [userAction('e5', 'search', '2025-03-01T11:05:00Z', 'u3'), userAction('e6', 'search', '2025-03-01T11:06:00Z', 'u4'), userAction('e7', 'product_view', '2025-03-01T11:07:00Z', 'u4')]);

    expect(await run()).toMatchObject({ partitionsScanned: 2, partitionsChanged: 1, rollupRows: 2 });
    const rows = await readCounts(pool);
    expect(rows.filter((r) => r.partition === B).map(({ updated_at: _, ...row }) => row)).toEqual([
      { partition: B, event: 'product_view', events: 1, users: 1 },
      { partition: B, event: 'search', events: 2, users: 2 },
    ]);
    expect(rows[0]).toEqual(addToCart); // partition A untouched
  });

  it('deletes what left the lake: a whole partition, or an event a rewritten file no longer has', async () => {
    await run();
    lake.remove(objectNameFor(a1, 'a1'));
    lake.remove(objectNameFor(a2, 'a2'));
    put('b1', [userAction('e8', 'product_view', '2025-03-01T11:08:00Z', 'u5')]); // same name, new generation

    expect(await run()).toMatchObject({ partitionsScanned: 1, partitionsChanged: 2, rollupRows: 1 });
    expect((await readCounts(pool)).map(({ updated_at: _, ...row }) => row)).toEqual([{ partition: B, event: 'product_view', events: 1, users: 1 }]);
    expect(await readCurated(pool)).toEqual([B]);
  });

  it('an object deleted between listing and download fails only its partition', async () => {
    // Compaction or retention can delete an object right after the listing saw it.
    const gone = objectNameFor(b1, 'b1');
    const racing = { ...lake, list: async (prefix: string) => { const listed = await lake.list(prefix); lake.remove(gone); return listed; } };
    const racy = createCurator({ lake: racing, store: createPgSummaryStore(pool), openRollup: openDuckDbRollup, workDir, logger: createLogger({ service: 'curator', level: 'silent' }) });
    const outcome = await racy.run();
    expect(outcome).toMatchObject({ ran: true, summary: { partitionsScanned: 2, partitionsChanged: 1, partitionsFailed: 1 } });
    expect(await readCurated(pool)).toEqual([A]);
    expect(await run()).toMatchObject({ partitionsScanned: 1, partitionsChanged: 0 }); // B never stored, nothing to delete
    expect(await readdir(workDir)).toEqual([]);
  });

  it('never lets two runs overlap', async () => {
    const outcomes = await Promise.all([curator.run(), curator.run()]);
    const ran = outcomes.flatMap((o) => (o.ran ? [o.summary.partitionsChanged] : []));
    if (server.poolMax === 1) {
      // PGlite is one shared session, where the advisory lock cannot tell runs apart: the pool of
      // one connection queues the second run behind the first, which left it nothing to do.
      expect(ran.sort()).toEqual([0, 2]);
    } else {
      expect(ran).toEqual([2]);
      expect(outcomes).toContainEqual({ ran: false, reason: 'another run holds the lock' });
    }
    expect(await readCurated(pool)).toEqual([A, B]);
  });

  it('a partition PostgreSQL cannot store (year 0000) fails only itself; the others are curated', async () => {
    lake.put(`events/log_type=user_action/dt=0000-06-01/hr=10/bad.parquet`, userActionParquet([userAction('e0', 'page_view', '0000-06-01T10:00:00Z', 'u1')]));
    expect(await run()).toMatchObject({ partitionsScanned: 3, partitionsChanged: 2, partitionsFailed: 1, rollupRows: 3 });
    expect(logs.find((l) => l.message === 'partition not curated; retried next run')).toMatchObject({ reason: expect.stringMatching(/^PostgreSQL refused its rollup/) });
  });

  it('a corrupt file fails only its partition, which is retried on the next run', async () => {
    const bad = 'events/log_type=user_action/dt=2025-03-01/hr=12/bad.parquet';
    lake.put(bad, new TextEncoder().encode('PAR1 but not really'));

    expect(await run()).toMatchObject({ partitionsScanned: 3, partitionsChanged: 2, partitionsFailed: 1, rollupRows: 3 });
    expect(await readCurated(pool)).toEqual([A, B]);
    expect(logs).toContainEqual(expect.objectContaining({ severity: 'ERROR', message: 'partition not curated; retried next run', partition: 'user_action/2025-03-01/12' }));

    lake.put(bad, userActionParquet([userAction('e9', 'page_view', '2025-03-01T12:00:00Z', 'u1')]));
    expect(await run()).toMatchObject({ partitionsChanged: 1, partitionsFailed: 0, rollupRows: 1 });
    expect(await readCurated(pool)).toEqual([A, B, 'user_action/2025-03-01/12']);
  });
});
