import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPiiHasher, loadEnvelope, type LogTypeVersion } from '@strata/schemas';
import { publishSchemas } from '@strata/schemas/postgres';
import { queryLake } from '@strata/dev/query';
import { LOCAL, lakeDir, repoRoot } from '@strata/dev/local-config';
import type { Stack } from '@strata/dev/stack';
import type { TestDatabase } from '@strata/dev/postgres';
import { startTestStack, waitFor } from './harness.js';

/**
 * Issue 12's replay, end to end: events that fail on an unknown field are quarantined; a schema
 * version adding the field is published to the registry in PostgreSQL; `npm run replay` (the
 * script itself, in its own process, as an operator runs it) republishes them, and they are in
 * the lake exactly once, their PII hashed once; a second replay (the curator's POST /replay, as
 * Cloud Scheduler calls it) sends nothing again.
 */
const LOG_TYPE = 'replay_signup';
/** How soon ingest and the writer serve a published version (SCHEMA_REGISTRY_TTL_MS). */
const TTL_MS = 500;
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A log type no bundle ships; it rejects unknown fields, so a field only v2 declares fails under v1. */
function signup(version: number, properties: Record<string, object> = {}): LogTypeVersion {
  return {
    logType: LOG_TYPE,
    version,
    schema: {
      'x-log-type': LOG_TYPE,
      'x-version': version,
      'x-unknown-properties': 'reject',
      type: 'object',
      required: ['event'],
      properties: {
        event: { enum: ['signed_up'] },
        // Hashed where it is stored: quarantine's copy already, so the lake's must be that same hash.
        account: { type: 'string', maxLength: 128, 'x-pii': 'hash' },
        ...properties,
      },
    },
  };
}

interface ReplayJson {
  passed: number;
  replayed: number;
  alreadyReplayed: number;
  eventsPublished: number;
  stillFailing: number;
  failures: Array<{ event_id?: string; reasons: Array<{ path: string; message: string }> }>;
  errors: unknown[];
}

async function quarantinedLines(stack: Stack): Promise<string[]> {
  const dir = join(lakeDir(stack.dataDir), 'quarantine', `log_type=${LOG_TYPE}`);
  const files = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  const texts = await Promise.all(files.filter((f) => String(f).endsWith('.jsonl')).map((f) => readFile(join(dir, String(f)), 'utf8')));
  return texts.flatMap((t) => t.split('\n').filter((l) => l.trim() !== ''));
}

async function lakeRows(stack: Stack): Promise<Array<{ event_id: string; n: number; plan: string; account: string }>> {
  const { rows } = await queryLake(
    `select event_id, count(*) over (partition by event_id) as n, plan, account from ${LOG_TYPE} order by event_id`,
    stack.dataDir,
  ).catch(() => ({ rows: [] as unknown[][] }));
  return rows.map(([event_id, n, plan, account]) => ({ event_id: String(event_id), n: Number(n), plan: String(plan), account: String(account) }));
}

describe('replay end to end', () => {
  let stack: Stack;
  let database: TestDatabase;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ stack, database, stop } = await startTestStack({ flushMaxAgeMs: 1000, schemaRegistryTtlMs: TTL_MS }));
    expect(await publishSchemas({ databaseUrl: database.url, versions: [signup(1)], envelope: loadEnvelope() })).toMatchObject({ ok: true });
    // Each service reads the table again on its first request after the TTL.
    await sleep(TTL_MS * 3);
  });
  afterAll(async () => stop?.());

  it('quarantines events with an unknown field, replays them after the field is published, once', async () => {
    const ts = new Date().toISOString();
    const ids = ['replay-e1', 'replay-e2', 'replay-e3'];
    const events = [
      ...ids.map((event_id, i) => ({ log_type: LOG_TYPE, event_id, event: 'signed_up', ts, user_id: `u${i}`, account: `acct-${i}`, plan: 'pro' })),
      // Still invalid once `plan` is known: it stays in quarantine, reported with its reason.
      { log_type: LOG_TYPE, event_id: 'replay-bad', event: 'signed_out', ts, plan: 'pro' },
    ];
    const res = await fetch(`${stack.urls.ingest}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': LOCAL.apiKey },
      body: JSON.stringify(events),
    });
    const answer = (await res.json()) as { accepted: number; rejected: Array<{ index: number; errors: Array<{ path: string; message: string }> }> };
    expect(res.status).toBe(202);
    expect(answer.accepted).toBe(0);
    expect(answer.rejected[0]!.errors).toEqual([{ path: '/plan', message: 'is not a known field' }]);

    await waitFor('four quarantine records', async () => (await quarantinedLines(stack)).length >= 4);
    const records = (await quarantinedLines(stack)).map((l) => JSON.parse(l) as { event_id: string; data: { account?: string }; pii_protected?: string });
    expect(records.map((r) => r.event_id).sort()).toEqual([...ids, 'replay-bad'].sort());
    const hash = createPiiHasher(LOCAL.piiHashSecret);
    // Quarantine's copy is protected (and marked so), the hash made once by ingest.
    expect(records.find((r) => r.event_id === 'replay-e1')!).toMatchObject({ data: { account: hash('acct-0') }, pii_protected: hash.keyId });
    expect(await lakeRows(stack)).toEqual([]);

    const published = await publishSchemas({ databaseUrl: database.url, versions: [signup(1), signup(2, { plan: { type: 'string', maxLength: 32 } })], envelope: loadEnvelope() });
    expect(published).toMatchObject({ ok: true, alreadyPresent: 1 });
    // The writer validates what replay sends against its own registry: let it see v2 first.
    await sleep(TTL_MS * 3);

    const today = ts.slice(0, 10);
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'services/curator/scripts/replay.ts'), '--from', 'quarantine', '--log-type', LOG_TYPE, '--since', today, '--json'],
      {
        cwd: repoRoot,
        // What an operator sets for a deployed lake, pointed at this stack's emulators and database.
        env: {
          ...process.env,
          ...stack.clientEnv,
          LAKE_BUCKET: LOCAL.bucket,
          DATABASE_URL: database.url,
          SCHEMA_REGISTRY_DATABASE_URL: database.url,
          PUBSUB_TOPIC: LOCAL.topic,
          CURATOR_WORK_DIR: join(stack.dataDir, 'replay-work'),
        },
      },
    );
    const first = JSON.parse(stdout) as ReplayJson;
    expect(first).toMatchObject({ passed: 3, replayed: 3, alreadyReplayed: 0, eventsPublished: 3, stillFailing: 1, errors: [] });
    expect(first.failures).toEqual([expect.objectContaining({ event_id: 'replay-bad', reasons: [{ path: '/event', message: 'must be one of "signed_up"' }] })]);

    await waitFor('the replayed events in the lake', async () => (await lakeRows(stack)).length >= 3);
    // Another flush age for anything sent twice to land too.
    await sleep(2_000);
    expect(await lakeRows(stack)).toEqual(ids.map((event_id, i) => ({ event_id, n: 1, plan: 'pro', account: hash(`acct-${i}`) })));

    // Scheduled replays go through the curator; the markers the first one wrote hold.
    const token = await stack.tokenFor('curator');
    const again = await fetch(`${stack.urls.curator}/replay`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'quarantine', logType: LOG_TYPE }),
    });
    const second = (await again.json()) as ReplayJson;
    expect(again.status).toBe(200);
    expect(second).toMatchObject({ passed: 0, replayed: 0, alreadyReplayed: 3, eventsPublished: 0, stillFailing: 1 });
    await sleep(2_000);
    expect((await lakeRows(stack)).map((r) => r.n)).toEqual([1, 1, 1]);
  }, 120_000);
});
