import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { Storage } from '@google-cloud/storage';
import { createLogger, createUlidFactory } from '@strata/runtime';
import { startGcsEmulator, type GcsEmulator } from '@strata/dev/gcs-emulator';
import { createLakeWriter } from '@strata/writer';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactPartition } from './compact.js';
import { action, PARTITION, PREFIX, readLake, registry, type ReadRow } from './compaction-fixtures.js';
import { hourEndMs, planCompaction } from './compaction-policy.js';
import { createGcsLakeStore, type LakeStore } from './lake-store.js';

/*
 * Compaction must never lose a row. The real writer keeps adding files (with redeliveries of
 * events it already wrote) to one hour of a bucket in the local Cloud Storage emulator while
 * compaction passes rewrite that hour and readers keep reading it. Every reader must see every
 * event written before its read began; at the end, after a last pass, the hour holds every event
 * exactly once, in the copy received first.
 */

// Runs at least MIN_RUN_MS and until enough has happened (a loaded machine is slower), at most MAX_RUN_MS.
const MIN_RUN_MS = 2_000;
const MAX_RUN_MS = 20_000;
const ENOUGH = { files: 15, passes: 4, reads: 4 };
const ROWS_PER_FILE = 40;
// Aged: every pass merges every file of the hour (all far below the target).
const NOW = hourEndMs(PARTITION) + 25 * 3_600_000;

let emulator: GcsEmulator;
let dir: string;
let lake: LakeStore;
let instance: DuckDBInstance;
let compactor: DuckDBConnection;
let reader: DuckDBConnection;
const silent = createLogger({ service: 'curator', level: 'silent' });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-compact-gcs-'));
  emulator = await startGcsEmulator({ root: join(dir, 'gcs') });
  const [bucket] = await new Storage({ apiEndpoint: emulator.url, projectId: 'strata-test' }).createBucket('lake');
  lake = createGcsLakeStore(bucket);
  instance = await DuckDBInstance.create(':memory:');
  compactor = await instance.connect();
  reader = await instance.connect();
});
afterAll(async () => {
  compactor?.closeSync();
  reader?.closeSync();
  instance?.closeSync();
  await emulator?.stop();
  await rm(dir, { recursive: true, force: true });
});

const isGone = (err: unknown) => (err as { code?: unknown })?.code === 404;

/**
 * What any reader of the lake does: list, download what was listed, read it. An object listed and
 * then gone was compacted meanwhile; its events are in an output written before it was deleted,
 * so the reader lists again.
 */
async function readPartition(workDir: string): Promise<{ rows: ReadRow[]; relists: number }> {
  for (let relists = 0; relists < 20; relists++) {
    try {
      return { rows: (await readLake(lake, PREFIX, reader, workDir)).rows, relists };
    } catch (err) {
      if (!isGone(err)) throw err;
    }
  }
  throw new Error('the partition kept changing under 20 reads in a row');
}

describe('compaction against Cloud Storage (emulator), with the writer writing and readers reading', () => {
  it('compaction must never lose a row', async () => {
    const workDir = join(dir, 'work');
    await mkdir(workDir);
    let uploads = 0;
    // The writer's lake writer, its files created through the same create-only upload compaction uses.
    const writer = createLakeWriter({
      store: {
        async put(name, bytes, contentType) {
          const path = join(dir, `upload-${uploads++}.parquet`);
          await writeFile(path, bytes);
          await lake.create(name, path, contentType);
          await rm(path);
        },
      },
      registry,
      logger: silent,
      limits: { maxRows: ROWS_PER_FILE, maxBytes: 64 * 1024 * 1024, maxAgeMs: 60_000, quietMs: 0, maxBufferedBytes: 256 * 1024 * 1024, maxOpenBatches: 4 },
    });

    /** event_id → its first copy, for every event whose file is written (the flush resolved). */
    const written = new Map<string, Record<string, unknown>>();
    let stop = false;
    const stats = { files: 0, redeliveries: 0, passes: 0, compactedInputs: 0, reads: 0, relists: 0, duplicatesSeen: 0 };
    const misses: string[] = [];

    const writing = (async () => {
      for (let file = 0; !stop; file++) {
        const known = [...written.keys()];
        const rows = Array.from({ length: ROWS_PER_FILE }, (_, i) => {
          // A quarter of each file redelivers an event already written, received later and marked.
          if (i % 4 === 3 && known.length > 0) {
            const first = written.get(known[(file * 7919 + i * 104_729) % known.length]!)!;
            stats.redeliveries++;
            return { ...first, received_at: new Date(Date.parse(String(first.received_at)) + 3_600_000).toISOString(), source: 'redelivery' };
          }
          return action(`w${file}-${i}`, i % 3 === 0 ? 'page_view' : 'add_to_cart', (file * 13 + i) % 60, { user_id: `u${i}` });
        });
        const added = writer.write(rows.map((row) => ({ kind: 'row' as const, partition: PARTITION, row, bytes: 200 })));
        if (!added.ok) throw new Error('writer refused a batch');
        const outcome = await added.flushed;
        if (!outcome.ok) throw outcome.error;
        stats.files++;
        for (const row of rows) if (!written.has(String(row.event_id))) written.set(String(row.event_id), row);
      }
    })();

    const compacting = (async () => {
      const newId = createUlidFactory();
      while (!stop) {
        const plan = planCompaction(PARTITION, await lake.list(PREFIX), NOW);
        if (!plan) {
          await sleep(10);
          continue;
        }
        const result = await compactPartition(plan, { lake, connection: compactor, workDir, newId, logger: silent });
        stats.passes++;
        stats.compactedInputs += result.inputs;
      }
    })();

    const reading = (async () => {
      while (!stop) {
        const before = new Set(written.keys());
        const { rows, relists } = await readPartition(workDir);
        stats.reads++;
        stats.relists += relists;
        const seen = new Set(rows.map((r) => r.event_id));
        stats.duplicatesSeen += rows.length - seen.size;
        for (const id of before) if (!seen.has(id)) misses.push(`read ${stats.reads} missed ${id}`);
        await sleep(5);
      }
    })();

    const started = Date.now();
    const enough = () => stats.files >= ENOUGH.files && stats.passes >= ENOUGH.passes && stats.reads >= ENOUGH.reads;
    while (Date.now() - started < MAX_RUN_MS && (Date.now() - started < MIN_RUN_MS || !enough())) await sleep(50);
    stop = true;
    await Promise.all([writing, compacting, reading]);
    expect(misses.length, misses.slice(0, 10).join(', ')).toBe(0);

    // A last pass with the writer stopped, then reconcile.
    const plan = planCompaction(PARTITION, await lake.list(PREFIX), NOW);
    if (plan) await compactPartition(plan, { lake, connection: compactor, workDir, newId: createUlidFactory(), logger: silent });
    const { objects, rows } = await readLake(lake, PREFIX, reader, workDir);
    expect(objects).toHaveLength(1);
    expect(rows.length).toBe(written.size);
    expect(new Set(rows.map((r) => r.event_id))).toEqual(new Set(written.keys()));
    // Every event in its first-received copy: no redelivery won.
    const firstReceivedUs = (id: string) => Date.parse(String(written.get(id)?.received_at)) * 1000;
    expect(rows.filter((r) => r.received_at !== firstReceivedUs(r.event_id) || r.source === 'redelivery')).toEqual([]);

    console.info('compaction race:', { ...stats, events: written.size });
    // The run did race: files kept coming while passes rewrote them and readers read.
    expect(stats.files).toBeGreaterThanOrEqual(ENOUGH.files);
    expect(stats.passes).toBeGreaterThanOrEqual(ENOUGH.passes);
    expect(stats.reads).toBeGreaterThanOrEqual(ENOUGH.reads);
    expect(stats.redeliveries).toBeGreaterThan(0);
  });
});
