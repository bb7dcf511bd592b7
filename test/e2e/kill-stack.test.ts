import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '@strata/dev/free-port';
import { LOCAL, lakeDir } from '@strata/dev/local-config';
import { testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { queryLake } from '@strata/dev/query';
import { startStack, type Stack } from '@strata/dev/stack';
import { eventsOverHours, waitFor } from './harness.js';

/**
 * "A 2xx means durable" holds for the local stack too: `npm start` (dev/src/start.ts, in its own
 * process, as a user runs it), N events accepted, then the stack's process is killed with SIGKILL —
 * no drain, no flush, the emulators gone mid-flight. Started again on the same data folder, every
 * accepted event reaches the lake: the durable Pub/Sub emulator delivers what it held.
 */
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const N_REQUESTS = 30;
const EVENTS_PER_REQUEST = 100;

function parquetFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.parquet'));
  } catch {
    return [];
  }
}

describe('kill -9 of the whole local stack', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-kill-'));
  let database: TestDatabase | undefined;
  let child: ChildProcess | undefined;
  let restarted: Stack | undefined;

  afterAll(async () => {
    child?.kill('SIGKILL');
    await restarted?.stop();
    await database?.stop();
    if (!process.env.STRATA_KEEP_TEST_DATA) rmSync(dataDir, { recursive: true, force: true });
  });

  it('loses none of the N accepted events: all N are in the lake after npm start again', async () => {
    database = await testDatabase();
    const ingestPort = await freePort();
    child = spawn(process.execPath, ['--import', 'tsx', 'dev/src/start.ts'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        STRATA_DATA_DIR: dataDir,
        DATABASE_URL: database.url,
        INGEST_PORT: String(ingestPort),
        WRITER_PORT: String(await freePort()),
        CURATOR_PORT: String(await freePort()),
        PUBSUB_PORT: String(await freePort()),
        GCS_PORT: String(await freePort()),
        // Nothing is written before the kill: every accepted event is still in Pub/Sub or held,
        // unacked, by the writer, so the test cannot pass without what the journal kept.
        FLUSH_MAX_AGE_MS: '60000',
        FLUSH_QUIET_MS: '0',
        STRATA_CURATOR_INTERVAL_MS: '600000',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child!.stdout! }).on('line', (line) => {
        output.push(line);
        if (line.startsWith('Strata is running.')) resolve();
      });
      child!.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      child!.once('exit', (code) => reject(new Error(`npm start exited (${code}) before running:\n${output.join('\n')}`)));
    });

    const accepted: string[] = [];
    for (let i = 0; i < N_REQUESTS; i++) {
      const res = await fetch(`http://127.0.0.1:${ingestPort}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': LOCAL.apiKey },
        body: JSON.stringify(eventsOverHours(EVENTS_PER_REQUEST)),
      });
      const body = (await res.json()) as { accepted: number; event_ids: string[] };
      expect(res.status, JSON.stringify(body)).toBe(202);
      expect(body.accepted).toBe(EVENTS_PER_REQUEST);
      accepted.push(...body.event_ids);
    }
    expect(parquetFiles(lakeDir(dataDir))).toEqual([]);

    child.kill('SIGKILL');
    await new Promise((resolve) => child!.once('exit', resolve));
    expect(parquetFiles(lakeDir(dataDir))).toEqual([]);

    restarted = await startStack({ dataDir, databaseUrl: database.url, flushMaxAgeMs: 1000 });
    await waitFor('every accepted event written', () => restarted!.counters.values().rowsWritten >= accepted.length, 90_000);
    const { rows } = await queryLake('select event_id, count(*) from user_action group by event_id', dataDir);
    const counts = new Map(rows.map(([id, n]) => [String(id), Number(n)]));
    const missing = accepted.filter((id) => !counts.has(id));
    expect(missing.length, `missing e.g. ${missing.slice(0, 3).join(', ')}`).toBe(0);
    expect(counts.size).toBe(N_REQUESTS * EVENTS_PER_REQUEST);
  });
});
