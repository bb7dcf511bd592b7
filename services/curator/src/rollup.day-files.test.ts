import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { ROLLUPS } from '@strata/schemas';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDuckDbEngine, splitDayFiles, type DayFiles, type RollupEngine } from './rollup.js';

/**
 * computeDay over a day's two kinds of files: hours one merge wrote (read as they are) and every
 * other file (deduplicated within each hour, the first received_at winning).
 */
let dir: string;
let engine: RollupEngine;

type Row = [eventId: string, event: string, ts: string, receivedAt: string, userId: string];

async function parquet(name: string, rows: Row[], { withUser = true } = {}): Promise<string> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  const file = join(dir, name);
  try {
    const values = rows.map(([id, event, ts, received, user]) => `('${id}', '${event}', timestamptz '${ts}', timestamptz '${received}', '${user}')`).join(', ');
    const columns = withUser ? 'event_id, event, ts, received_at, user_id' : 'event_id, event, ts, received_at';
    await connection.run(`copy (select ${columns} from (values ${values}) v(event_id, event, ts, received_at, user_id)) to '${file}' (format parquet)`);
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
  return file;
}

async function figures(files: DayFiles, name: string) {
  const out = join(dir, name);
  await mkdir(out, { recursive: true });
  const day = await engine.computeDay('user_action', files, out);
  if (!day.ok) throw new Error(day.reason);
  const rows = (rollup: string) => day.rollups.find((r) => r.rollup.name === rollup)!.rows;
  return {
    rows: day.rows,
    events: day.events,
    hourly: rows('hourly_event_counts').map((r) => `${r.hr} ${r.event} ${r.events}/${r.users}`),
    daily: rows('daily_active_users').map((r) => `${r.dt} ${r.events}/${r.users}`),
  };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-day-files-'));
  engine = await openDuckDbEngine(ROLLUPS);
});
afterAll(async () => {
  engine.close();
  await rm(dir, { recursive: true, force: true });
});

const HOUR_10: Row[] = [
  ['a', 'page_view', '2026-03-01 10:05:00+00', '2026-03-01 10:05:01+00', 'u1'],
  ['b', 'search', '2026-03-01 10:06:00+00', '2026-03-01 10:06:01+00', 'u1'],
  ['c', 'page_view', '2026-03-01 10:07:00+00', '2026-03-01 10:07:01+00', 'u2'],
];

describe('splitDayFiles', () => {
  it('groups the hours one merge wrote, and leaves every other file raw', () => {
    const hour = (hr: string) => `events/log_type=user_action/dt=2026-03-01/hr=${hr}/`;
    const names = [`${hour('10')}compacted-A-1.parquet`, `${hour('11')}late.parquet`, `${hour('10')}compacted-A-2.parquet`, `${hour('11')}compacted-B.parquet`, `${hour('12')}compacted-C.parquet`];
    expect(splitDayFiles(names, ['a1', 'late', 'a2', 'b', 'c'])).toEqual({ uniqueHours: [['a1', 'a2'], ['c']], raw: ['late', 'b'] });
  });
});

describe('computeDay over a day of unique and raw files', () => {
  it('deduplicates raw files within each hour, the first received_at winning', async () => {
    const first = await parquet('raw-1.parquet', HOUR_10);
    // b again, received later and (a producer bug) named differently: the first copy wins. And an
    // event_id reused in another hour is another event: duplicates share their ts, hence their hour.
    const second = await parquet('raw-2.parquet', [
      ['b', 'add_to_cart', '2026-03-01 10:06:00+00', '2026-03-01 10:09:00+00', 'u1'],
      ['a', 'page_view', '2026-03-01 11:00:00+00', '2026-03-01 11:00:01+00', 'u3'],
    ]);
    expect(await figures({ uniqueHours: [], raw: [second, first] }, 'raw')).toEqual({
      rows: 5,
      events: 4,
      hourly: ['10 page_view 2/2', '10 search 1/1', '11 page_view 1/1'],
      daily: ['2026-03-01 4/3'],
    });
  });

  it('reads the files of hours one merge wrote as they are, with the figures their raw files give', async () => {
    const compacted = await parquet('compacted.parquet', HOUR_10);
    const raw = [await parquet('raw-a.parquet', HOUR_10.slice(0, 2)), await parquet('raw-b.parquet', [HOUR_10[2]!, ['a', 'page_view', '2026-03-01 10:05:00+00', '2026-03-01 10:08:00+00', 'u1']])];
    const fromRaw = await figures({ uniqueHours: [], raw }, 'from-raw');
    const fromCompacted = await figures({ uniqueHours: [[compacted]], raw: [] }, 'from-compacted');
    expect(fromRaw).toMatchObject({ rows: 4, events: 3 });
    expect(fromCompacted).toEqual({ ...fromRaw, rows: 3 });
  });

  it('takes each kind with its own columns, and forgets a day once it is computed', async () => {
    // Hour 10 compacted from files before user_id existed; hour 11 fresh from the writer.
    const old = await parquet('old.parquet', HOUR_10, { withUser: false });
    const fresh = await parquet('fresh.parquet', [['d', 'search', '2026-03-01 11:30:00+00', '2026-03-01 11:30:01+00', 'u9']]);
    expect(await figures({ uniqueHours: [[old]], raw: [fresh] }, 'mixed')).toEqual({
      rows: 4,
      events: 4,
      hourly: ['10 page_view 2/0', '10 search 1/0', '11 search 1/1'],
      daily: ['2026-03-01 4/1'],
    });
    // The next day has no raw files: the last one's deduplicated rows must not come with it.
    const next = await parquet('next.parquet', [['e', 'search', '2026-03-02 09:00:00+00', '2026-03-02 09:00:01+00', 'u1']]);
    expect(await figures({ uniqueHours: [[next]], raw: [] }, 'next')).toEqual({ rows: 1, events: 1, hourly: ['9 search 1/1'], daily: ['2026-03-02 1/1'] });
  });

  it('computes unique hours an hour at a time, each with its own columns, in key order', async () => {
    const eleven = await parquet('eleven.parquet', [['f', 'search', '2026-03-01 11:10:00+00', '2026-03-01 11:10:01+00', 'u4']]);
    const ten = [await parquet('ten-1.parquet', HOUR_10.slice(0, 1), { withUser: false }), await parquet('ten-2.parquet', HOUR_10.slice(1))];
    expect(await figures({ uniqueHours: [[eleven], ten], raw: [] }, 'hours')).toEqual({
      rows: 4,
      events: 4,
      hourly: ['10 page_view 2/1', '10 search 1/1', '11 search 1/1'],
      daily: ['2026-03-01 4/3'],
    });
  });

  it('refuses a day without files, and files without the envelope', async () => {
    await expect(engine.computeDay('user_action', { uniqueHours: [], raw: [] }, dir)).resolves.toEqual({ ok: false, reason: 'the day has no files' });
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    const bad = join(dir, 'bad.parquet');
    await connection.run(`copy (select 'x' as event_id, 'search' as event) to '${bad}' (format parquet)`);
    connection.closeSync();
    instance.closeSync();
    await expect(engine.computeDay('user_action', { uniqueHours: [[bad]], raw: [] }, dir)).resolves.toEqual({ ok: false, reason: 'the Parquet files have no ts or received_at column' });
  });
});
