import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ROLLUPS } from '@strata/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDbEngine, type DayResult } from './rollup.js';

/**
 * The engine under a memory limit: the current day grows all day, so a run's dedup table and
 * aggregates must spill past CURATOR_DUCKDB_MEMORY_LIMIT rather than grow the process, and give
 * the same figures as they do in memory.
 */
const ROWS = 1_000_000;
let dir: string;
let files: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-rollup-limit-'));
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    files = [];
    // Two hour files of one day; every 50th event is there twice, received later (a redelivery).
    for (const hour of [10, 11]) {
      const file = join(dir, `hr=${hour}.parquet`);
      await connection.run(`
        copy (
          with base as (
            select i, timestamptz '2026-03-01 ${hour}:00:00+00' + to_microseconds(cast(hash(i) % 3600000000 as bigint)) as t
            from range(${hour * ROWS}, ${hour * ROWS + ROWS / 2}) r(i)
          ), copies as (
            select i, t, t + interval 1 second as received_at from base
            union all
            select i, t, t + interval 30 second from base where i % 50 = 0
          )
          select 'evt-' || lpad(cast(i as varchar), 24, '0') as event_id, ['page_view', 'search', 'add_to_cart'][cast(i % 3 as integer) + 1] as event,
                 t as ts, received_at, 'user-' || cast(hash(i * 7) % 50000 as varchar) as user_id, cast(1 as bigint) as schema_version
          from copies
        ) to '${file}' (format parquet)`);
      files.push(file);
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function computeWith(limits: Parameters<typeof openDuckDbEngine>[1], name: string): Promise<{ day: DayResult; settings: Record<string, unknown>; spilled: boolean }> {
  const engine = await openDuckDbEngine(ROLLUPS, limits);
  try {
    const [settings] = (await engine.connection.runAndReadAll("select current_setting('memory_limit') as memory_limit, current_setting('temp_directory') as temp_directory")).getRowObjectsJS();
    const out = join(dir, name);
    await mkdir(out, { recursive: true });
    const day = await engine.computeDay('user_action', { uniqueHours: [], raw: files }, out);
    // DuckDB makes its temp_directory only when it first spills, and removes it on close.
    return { day, settings: settings!, spilled: limits?.spillDir !== undefined && existsSync(limits.spillDir) };
  } finally {
    engine.close();
  }
}

describe('openDuckDbEngine under a memory limit', () => {
  it('spills a day larger than its limit and gives the figures it gives in memory', async () => {
    const spillDir = join(dir, 'spill');
    const limited = await computeWith({ memoryLimit: '64MiB', spillDir }, 'limited');
    const unlimited = await computeWith({}, 'unlimited');

    expect(limited.spilled).toBe(true);
    expect(limited.settings).toEqual({ memory_limit: '64.0 MiB', temp_directory: spillDir });
    expect(limited.day.ok && unlimited.day.ok).toBe(true);
    if (!limited.day.ok || !unlimited.day.ok) return;
    // 1,000,000 events, 20,000 of them delivered twice: the dedup is the part that outgrows 64 MiB.
    expect({ rows: limited.day.rows, events: limited.day.events }).toEqual({ rows: ROWS + ROWS / 50, events: ROWS });
    const figures = (day: typeof limited.day) => Object.fromEntries(day.rollups.map((r) => [r.rollup.name, r.rows]));
    expect(figures(limited.day)).toEqual(figures(unlimited.day));
    expect(Object.keys(figures(limited.day))).toContain('daily_active_users');
  });
});
