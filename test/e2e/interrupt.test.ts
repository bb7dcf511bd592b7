import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@strata/dev/free-port';
import { LOCAL, repoRoot } from '@strata/dev/local-config';
import { testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { queryLake } from '@strata/dev/query';
import { eventsOverHours } from './harness.js';

/**
 * Ctrl-C of `npm start` under load keeps everything ingest accepted: ingest stops, Pub/Sub drains
 * into the writer, the writer flushes, and only then do the emulators go. Runs the real
 * entry (`node --import tsx dev/src/start.ts`, what `npm start` runs), sends it SIGINT mid-load,
 * starts it again on the same data folder and finds every accepted event_id in the lake once.
 */
const LOAD_MS = 10_000;
const CONNECTIONS = 3;
const EVENTS_PER_REQUEST = 100;

interface Entry {
  output: () => string;
  ready: Promise<void>;
  exited: Promise<number | string>;
  interrupt(): void;
}

function startEntry(env: Record<string, string>): Entry {
  const child = spawn(process.execPath, ['--import', 'tsx', 'dev/src/start.ts'], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let markReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.includes('Strata is running.')) markReady();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code ?? 0)));
  return {
    output: () => output,
    // A stack that dies while starting must fail the test, not leave it waiting.
    ready: Promise.race([ready, exited.then((code) => Promise.reject(new Error(`npm start exited (${code}) before its banner:\n${output}`)))]),
    exited,
    interrupt: () => child.kill('SIGINT'),
  };
}

/**
 * CONNECTIONS producers POSTing batches until `ms` is up or ingest goes away; the event_ids of every
 * 202. Requests in flight when ingest stops are answered or fail; only 202s count as accepted.
 */
async function sendLoad(ingestUrl: string, ms: number): Promise<{ accepted: string[]; refused: number; failed: number }> {
  const accepted: string[] = [];
  let refused = 0;
  let failed = 0;
  const until = Date.now() + ms;
  const producer = async () => {
    while (Date.now() < until) {
      try {
        const res = await fetch(`${ingestUrl}/v1/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-api-key': LOCAL.apiKey },
          body: JSON.stringify(eventsOverHours(EVENTS_PER_REQUEST)),
        });
        const body = (await res.json()) as { event_ids?: string[] };
        if (res.status === 202 && body.event_ids) accepted.push(...body.event_ids);
        else refused += 1;
      } catch {
        // Ingest stopped listening: the interrupt is under way.
        failed += 1;
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, producer));
  return { accepted, refused, failed };
}

describe('Ctrl-C of npm start', () => {
  let dataDir: string;
  let database: TestDatabase;
  let env: Record<string, string>;
  const running: Entry[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-interrupt-'));
    database = await testDatabase();
    env = {
      STRATA_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      INGEST_PORT: String(await freePort()),
      WRITER_PORT: String(await freePort()),
      CURATOR_PORT: String(await freePort()),
      PUBSUB_PORT: String(await freePort()),
      GCS_PORT: String(await freePort()),
      STRATA_DRAIN_TIMEOUT_MS: '90000',
      STRATA_CURATOR_INTERVAL_MS: '600000',
    };
  });
  afterAll(async () => {
    // A failed assertion must not leave a stack running: SIGINT drains, so give it a moment.
    for (const entry of running) entry.interrupt();
    await Promise.all(running.map((entry) => entry.exited));
    await database?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('drains Pub/Sub into the lake: every accepted event is there exactly once after a restart', async () => {
    const first = startEntry(env);
    running.push(first);
    await first.ready;
    const ingestUrl = `http://127.0.0.1:${env.INGEST_PORT}`;
    // Ctrl-C lands while the producers are still sending: requests in flight must not be lost.
    const load = sendLoad(ingestUrl, LOAD_MS + 5_000);
    await new Promise((resolve) => setTimeout(resolve, LOAD_MS));
    const interruptedAt = Date.now();
    first.interrupt();
    const { accepted, refused, failed } = await load;
    expect(accepted.length).toBeGreaterThan(0);
    expect(failed, 'producers still sending when ingest stopped').toBeGreaterThan(0);
    expect(await first.exited, first.output()).toBe(0);
    const stopMs = Date.now() - interruptedAt;
    const drained = /Drained in ([\d.]+)s/.exec(first.output());
    expect(drained, first.output()).not.toBeNull();
    expect(first.output()).toContain('Lost: nothing');
    console.info(
      `interrupt: ${accepted.length} events accepted in ${LOAD_MS / 1000}s (${refused} requests refused, ${failed} producers cut off by the stop); ` +
        `drained in ${drained![1]}s, stopped ${(stopMs / 1000).toFixed(1)}s after SIGINT`,
    );

    // The same data folder again: the stack must start over what the first one left.
    const second = startEntry(env);
    running.push(second);
    await second.ready;
    second.interrupt();
    expect(await second.exited, second.output()).toBe(0);

    const { rows } = await queryLake('select event_id, count(*) as n from user_action group by event_id', dataDir);
    const counts = new Map(rows.map(([id, n]) => [String(id), Number(n)]));
    const missing = accepted.filter((id) => !counts.has(id));
    const duplicated = accepted.filter((id) => (counts.get(id) ?? 0) > 1);
    expect(missing.length, `missing, e.g. ${missing.slice(0, 3).join(', ')}`).toBe(0);
    expect(duplicated.length, `duplicated, e.g. ${duplicated.slice(0, 3).join(', ')}`).toBe(0);
  }, 180_000);

  it('a second Ctrl-C stops at once and loses nothing: what Pub/Sub still held arrives after the next start', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'strata-interrupt-twice-'));
    // Two pushes at a time and no flush for a minute: the drain cannot finish, most messages wait in Pub/Sub.
    const stalled = { ...env, STRATA_DATA_DIR: folder, STRATA_PUSH_CONCURRENCY: '2', FLUSH_MAX_AGE_MS: '60000', FLUSH_QUIET_MS: '0' };
    const first = startEntry(stalled);
    running.push(first);
    await first.ready;
    const { accepted } = await sendLoad(`http://127.0.0.1:${env.INGEST_PORT}`, 3_000);
    expect(accepted.length).toBeGreaterThan(0);
    first.interrupt();
    // Past the window in which a second signal is taken for npm's echo of the first.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const secondAt = Date.now();
    first.interrupt();
    expect(await first.exited, first.output()).toBe(130);
    expect(Date.now() - secondAt, 'stops at once').toBeLessThan(15_000);
    const kept = /Kept in Pub\/Sub: (\d+) message/.exec(first.output());
    expect(kept, first.output()).not.toBeNull();
    expect(Number(kept![1])).toBeGreaterThan(0);
    expect(first.output()).toContain('Lost: nothing.');

    const second = startEntry({ ...env, STRATA_DATA_DIR: folder });
    running.push(second);
    await second.ready;
    second.interrupt();
    expect(await second.exited, second.output()).toBe(0);
    const { rows } = await queryLake('select distinct event_id from user_action', folder);
    const inLake = new Set(rows.map(([id]) => String(id)));
    const missing = accepted.filter((id) => !inLake.has(id));
    expect(missing.length, `missing, e.g. ${missing.slice(0, 3).join(', ')}`).toBe(0);
    console.info(`second Ctrl-C: ${accepted.length} accepted, ${kept![1]} messages kept in Pub/Sub and delivered after the restart, 0 missing`);
    rmSync(folder, { recursive: true, force: true });
  }, 180_000);
});
