/**
 * The design users leave, for the ingest benchmark: an express endpoint that reads the same
 * bodies (`express.json`, 1 MiB) and writes every event into PostgreSQL before answering 202,
 * through a `pg` Pool of 10 connections. No validation (which flatters it).
 *
 * INSERT_MODE=row (the baseline the goal is set against): one `INSERT … VALUES ($1, $2, $3, $4)`
 * per event, all of a request's inserts issued at once and awaited: each one is its own autocommit
 * transaction, which is how the code teams leave behind writes events.
 * INSERT_MODE=multi: one multi-row INSERT per request (`unnest` of four arrays), the best a team
 * could do with the same table, reported beside it so the comparison is not only against a strawman.
 *
 * Run by ingest.ts as its own process (`node --import tsx`), configured by PORT, DATABASE_URL,
 * POOL_MAX and INSERT_MODE; the `events` table exists already.
 */
import { createServer } from 'node:http';
import express from 'express';
import pg from 'pg';
import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

// eslint-disable-next-line no-restricted-properties
const env = process.env;
const port = Number(env.PORT ?? 0);
const mode = env.INSERT_MODE === 'multi' ? 'multi' : 'row';
const pool = new pg.Pool({ connectionString: env.DATABASE_URL, max: Number(env.POOL_MAX ?? 10) });

interface Row {
  eventId: string;
  logType: string;
  ts: string;
  payload: string;
}

const toRow = (event: Record<string, unknown>): Row => ({
  eventId: typeof event.event_id === 'string' ? event.event_id : ulid(),
  logType: String(event.log_type),
  ts: String(event.ts),
  payload: JSON.stringify(event),
});

async function insertEach(rows: Row[]): Promise<void> {
  await Promise.all(
    rows.map((r) => pool.query('insert into events (event_id, log_type, ts, payload) values ($1, $2, $3, $4)', [r.eventId, r.logType, r.ts, r.payload])),
  );
}

async function insertAll(rows: Row[]): Promise<void> {
  await pool.query(
    'insert into events (event_id, log_type, ts, payload) select * from unnest($1::text[], $2::text[], $3::timestamptz[], $4::jsonb[])',
    [rows.map((r) => r.eventId), rows.map((r) => r.logType), rows.map((r) => r.ts), rows.map((r) => r.payload)],
  );
}

const app = express();
app.disable('x-powered-by');
app.post('/v1/events', express.json({ limit: '1mb' }), async (req, res) => {
  const events: unknown = req.body;
  if (!Array.isArray(events) || !events.every((e) => typeof e === 'object' && e !== null && !Array.isArray(e))) {
    res.status(400).json({ error: 'bad_request', reason: 'body must be a JSON array of event objects' });
    return;
  }
  const rows = (events as Array<Record<string, unknown>>).map(toRow);
  try {
    await (mode === 'multi' ? insertAll(rows) : insertEach(rows));
  } catch (err) {
    res.status(503).json({ error: 'unavailable', reason: err instanceof Error ? err.message : String(err) });
    return;
  }
  res.status(202).json({ accepted: rows.length });
});
app.get('/healthz', (_req, res) => {
  res.json({ ok: true });
});

const server = createServer(app).listen(port, '127.0.0.1');
process.once('SIGTERM', () => {
  server.close(() => {
    pool.end().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
  server.closeIdleConnections();
});
