import { readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryLake } from '@strata/dev/query';
import { LOCAL, lakeDir } from '@strata/dev/local-config';
import type { Stack } from '@strata/dev/stack';
import type { TestDatabase } from '@strata/dev/postgres';
import { eventsOverHours, makeEvent, makeStoredEvent, postEvents, publishDirect, recentHour, startTestStack, waitFor } from './harness.js';

/**
 * The whole local pipeline, end to end: HTTP producers and a backend publishing straight to
 * Pub/Sub → push → writer → Parquet in the (emulated) GCS lake → curator → PostgreSQL.
 */
describe('pipeline end to end', () => {
  let stack: Stack;
  let database: TestDatabase;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, database, stop } = await startTestStack({ flushMaxAgeMs: 1000 }));
  });
  afterAll(async () => stop?.());

  it('lands every event in the lake exactly once, typed, and rolls it up into PostgreSQL', async () => {
    const started = Date.now();
    const viaHttp: string[] = [];
    const http = eventsOverHours(300);
    for (let i = 0; i < http.length; i += 100) viaHttp.push(...(await postEvents(stack, http.slice(i, i + 100))));
    const direct = Array.from({ length: 100 }, (_, i) =>
      makeStoredEvent({ event: 'checkout_started', ts: new Date(recentHour(2) + (i % 60) * 60_000).toISOString(), user_id: `backend-${i % 5}` }),
    );
    const viaPubsub = await publishDirect(stack, direct);
    const expected = [...viaHttp, ...viaPubsub];

    const landedMs = await waitFor('all rows written', () => stack.counters.values().rowsWritten >= expected.length);
    console.info(`end-to-end: ${expected.length} events in the lake ${Date.now() - started} ms after the first POST (${landedMs} ms after the last send)`);

    const { rows } = await queryLake('select event_id, count(*) as n from user_action group by event_id', stack.dataDir);
    const counts = new Map(rows.map(([id, n]) => [String(id), Number(n)]));
    expect(counts.size).toBe(expected.length);
    for (const id of expected) expect(counts.get(id), `event ${id}`).toBe(1);

    // Column types: timestamps are µs UTC, partition keys come from the path, not the file.
    const types = await queryLake(`select column_name, column_type from (describe user_action)`, stack.dataDir);
    expect(Object.fromEntries(types.rows.map(([name, type]) => [name, type]))).toMatchObject({
      event_id: 'VARCHAR',
      event: 'VARCHAR',
      ts: 'TIMESTAMP WITH TIME ZONE',
      received_at: 'TIMESTAMP WITH TIME ZONE',
      schema_version: 'BIGINT',
      context: expect.stringMatching(/^STRUCT\(user_agent VARCHAR, ip VARCHAR/),
      price: 'DOUBLE',
      extra: 'VARCHAR',
      log_type: 'VARCHAR',
      dt: 'DATE',
      hr: 'INTEGER',
    });
    const sample = await queryLake(
      `select epoch_us(ts) as us, price, context.page.url as url, schema_version from user_action where event_id = '${viaHttp[0]}'`,
      stack.dataDir,
    );
    expect(sample.rows[0]).toEqual([String(BigInt(Date.parse(String(http[0]!.ts))) * 1000n), 12.5, 'https://shop.example/p/42', '2']);

    const summary = await stack.runCurator();
    expect(summary).toMatchObject({ daysCurated: expect.any(Number), daysFailed: 0 });
    const lake = await queryLake(
      `select log_type, strftime(dt, '%Y-%m-%d') as dt, hr, event, count(distinct event_id) as events from user_action group by all order by all`,
      stack.dataDir,
    );
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    try {
      const db = await client.query(
        `select log_type, to_char(dt, 'YYYY-MM-DD') as dt, hr, event, events from hourly_event_counts order by log_type, dt, hr, event`,
      );
      expect(db.rows.map((r) => [r.log_type, r.dt, Number(r.hr), r.event, Number(r.events)])).toEqual(
        lake.rows.map(([t, dt, hr, event, n]) => [t, dt, Number(hr), event, Number(n)]),
      );
      expect(db.rows.reduce((sum, r) => sum + Number(r.events), 0)).toBe(expected.length);
    } finally {
      await client.end();
    }
  });

  it('keeps an event ingest rejects in the lake\'s quarantine, with its reasons, while its neighbours land', async () => {
    const before = stack.counters.values();
    const res = await fetch(`${stack.urls.ingest}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': LOCAL.apiKey },
      body: JSON.stringify([makeEvent({ ts: new Date().toISOString() }), makeEvent({ price: 'cheap', ts: new Date().toISOString() })]),
    });
    const body = (await res.json()) as { accepted: number; rejected: Array<{ index: number }> };
    expect(res.status).toBe(202);
    expect(body).toMatchObject({ accepted: 1, rejected: [{ index: 1 }] });
    await waitFor('the rejected event quarantined', () => stack.counters.values().quarantined > before.quarantined);
    await waitFor('the valid event written', () => stack.counters.values().rowsWritten > before.rowsWritten);
    const folder = join(lakeDir(stack.dataDir), 'quarantine', 'log_type=user_action');
    const lines = (await readdir(folder, { recursive: true }))
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readFileSync(join(folder, f), 'utf8').trimEnd().split('\n'))
      .map((l) => JSON.parse(l) as { index: number; reasons: unknown[]; data: Record<string, unknown>; attributes: Record<string, string> });
    const kept = lines.find((l) => l.attributes.kind === 'rejected');
    expect(kept).toMatchObject({ index: 1, reasons: [{ path: '/price', message: 'must be number' }], data: { price: 'cheap', log_type: 'user_action' } });
  });
});
