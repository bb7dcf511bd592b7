import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, listValue, type DuckDBConnection } from '@duckdb/node-api';
import { createUlidFactory } from '@strata/runtime';
import { partitionPrefix, type Partition } from '@strata/schemas';
import { PARQUET_CONTENT_TYPE } from '@strata/writer';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compactPartition, type CompactDeps } from './compact.js';
import { action, PARTITION, PREFIX, readLake, readRows, recordingLogger, writerFile, type ReadRow } from './compaction-fixtures.js';
import { CompactionVerificationFailed, verifyMerged } from './compaction-merge.js';
import { hourEndMs, planCompaction, type CompactionPlan } from './compaction-policy.js';
import { createMemoryLake, PreconditionFailed, type LakeStore, type MemoryLake } from './lake-store.js';

/* compactPartition over the in-memory lake, with files from the writer's own encoder read by real DuckDB. */

const AGED = hourEndMs(PARTITION) + 25 * 3_600_000;

let instance: DuckDBInstance;
let connection: DuckDBConnection;
let dir: string;
let workDir: string;
let lake: MemoryLake;

beforeAll(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
  // As the curator's engine (rollup.ts) runs it: ORDER BY must still give sorted files.
  await connection.run('set preserve_insertion_order = false');
  dir = await mkdtemp(join(tmpdir(), 'strata-compact-'));
});
afterAll(async () => {
  connection?.closeSync();
  instance?.closeSync();
  await rm(dir, { recursive: true, force: true });
});
beforeEach(async () => {
  lake = createMemoryLake();
  workDir = await mkdtemp(join(dir, 'work-'));
});

const put = (name: string, rows: Record<string, unknown>[], logType = 'user_action', partition: Partition = PARTITION) =>
  lake.put(`${partitionPrefix(partition)}${name}.parquet`, writerFile(rows, logType));

async function planFor(partition: Partition = PARTITION): Promise<CompactionPlan> {
  const plan = planCompaction(partition, await lake.list(partitionPrefix(partition)), AGED);
  if (!plan) throw new Error('expected a plan');
  return plan;
}

const deps = (overrides: Partial<CompactDeps> = {}): CompactDeps => ({
  lake,
  connection,
  workDir,
  newId: createUlidFactory(),
  logger: recordingLogger().logger,
  ...overrides,
});

const ids = (rows: ReadRow[]) => rows.map((r) => r.event_id).sort();
const byId = (rows: ReadRow[]) => new Map(rows.map((r) => [r.event_id, r]));

/** Three writer files with duplicates across and within them. */
function putDuplicates() {
  put('01A', [
    action('e1', 'page_view', 5, { user_id: 'first' }),
    action('e2', 'search', 1, { user_id: 'late' }, 60),
    action('e3', 'add_to_cart', 30, { user_id: 'tie-first-file' }),
  ]);
  put('01B', [
    // A redelivery received later: the copy in 01A wins.
    action('e1', 'page_view', 5, { user_id: 'redelivered' }, 30),
    // Received earlier than 01A's copy: this one wins though its file sorts later.
    action('e2', 'search', 1, { user_id: 'first' }, 2),
    action('e4', 'page_view', 2, { user_id: 'only' }),
  ]);
  put('01C', [
    // Same received_at as 01A's copy: the earlier file (by name) wins.
    action('e3', 'add_to_cart', 30, { user_id: 'tie-later-file' }),
    // Twice in one file with the same received_at: the first row wins.
    action('e5', 'checkout_started', 59, { user_id: 'row-0' }),
    action('e5', 'checkout_started', 59, { user_id: 'row-1' }),
  ]);
}

describe('compactPartition', () => {
  it('removes duplicates across and within files, keeping the copy received first', async () => {
    putDuplicates();
    const result = await compactPartition(await planFor(), deps());

    const { objects, rows } = await readLake(lake, PREFIX, connection, workDir);
    expect(objects.map((o) => o.name)).toEqual(result.outputs);
    expect(result.outputs).toEqual([expect.stringMatching(new RegExp(`^${PREFIX}compacted-[0-9A-Z]{26}\\.parquet$`))]);
    expect(ids(rows)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5']);
    const kept = byId(rows);
    expect(kept.get('e1')!.user_id).toBe('first');
    expect(kept.get('e2')!.user_id).toBe('first');
    expect(kept.get('e3')!.user_id).toBe('tie-first-file');
    expect(kept.get('e4')!.user_id).toBe('only');
    expect(kept.get('e5')!.user_id).toBe('row-0');
    expect(result).toMatchObject({ partition: PARTITION, mode: 'aggressive', inputs: 3, rowsIn: 9, rowsOut: 5 });
    expect(result.bytesIn).toBeGreaterThan(0);
    expect(result.bytesOut).toBe(objects[0]!.size);
  });

  it('writes rows sorted like the writer: by event, then ts (as instants)', async () => {
    const events = ['search', 'page_view', 'add_to_cart', 'product_view'];
    for (let f = 0; f < 4; f++) put(`01F${f}`, Array.from({ length: 50 }, (_, i) => action(`f${f}-${i}`, events[(i * 7 + f) % 4]!, (i * 13 + f * 5) % 60)));
    await compactPartition(await planFor(), deps());

    const { rows } = await readLake(lake, PREFIX, connection, workDir);
    expect(rows).toHaveLength(200);
    const sorted = [...rows].sort((a, b) => (a.event < b.event ? -1 : a.event > b.event ? 1 : a.ts - b.ts || (a.event_id < b.event_id ? -1 : 1)));
    expect(rows.map((r) => r.event_id)).toEqual(sorted.map((r) => r.event_id));
  });

  it('loses nothing: every event_id of the inputs is in the output, each once, with its own values', async () => {
    const written: Record<string, unknown>[] = [];
    for (let f = 0; f < 6; f++) {
      // Each file repeats a third of the previous file's events (redeliveries with the same received_at).
      const fresh = Array.from({ length: 40 }, (_, i) => action(`r${f}-${i}`, i % 2 ? 'page_view' : 'search', (f * 7 + i) % 60, { user_id: `u${i}`, source: `file-${f}` }));
      const again = f === 0 ? [] : written.slice(-40, -26).map((r) => ({ ...r, source: 'duplicate' }));
      written.push(...fresh);
      put(`01R${f}`, [...fresh, ...again]);
    }
    const before = (await readLake(lake, PREFIX, connection, workDir)).rows;
    const result = await compactPartition(await planFor(), deps());
    const after = (await readLake(lake, PREFIX, connection, workDir)).rows;

    expect(new Set(before.map((r) => r.event_id)).size).toBe(240);
    expect(ids(after)).toEqual(written.map((r) => String(r.event_id)).sort());
    // The originals (received as early, in the earlier file) won over every redelivery.
    expect(after.filter((r) => r.source === 'duplicate')).toEqual([]);
    const original = byId(before.filter((r) => r.source !== 'duplicate'));
    for (const row of after) expect({ ...row, file: '', row: 0 }).toEqual({ ...original.get(row.event_id)!, file: '', row: 0 });
    expect(result).toMatchObject({ rowsIn: before.length, rowsOut: 240 });
  });

  it('writes the types the writer writes, column by column (user_action with its struct, seller_action with its list)', async () => {
    const seller = { logType: 'seller_action', dt: '2025-03-01', hr: '10' };
    const sellerRows = (n: number) => [
      { event_id: `s${n}`, event: 'listing_updated', ts: '2025-03-01T10:00:00Z', received_at: '2025-03-01T10:00:01Z', schema_version: 1, seller_id: 'x', changed_fields: ['price', 'title'], old_price: 1.5 },
      { event_id: `t${n}`, event: 'package_status_updated', ts: '2025-03-01T10:00:02Z', received_at: '2025-03-01T10:00:03Z', schema_version: 1, seller_id: 'y', from_status: 'packed', to_status: 'in_transit' },
    ];
    const actionRows = (n: number) => [
      action(`a${n}`, 'search', 1, { search_query: 'tasse', context: { locale: 'de-DE', page: { url: 'https://shop.example/', title: 'Shop' } }, extra: '{"ab":"B"}' }),
      action(`b${n}`, 'add_to_cart', 2, { price: 12.5, quantity: 2, user_id: 'u' }),
    ];
    for (const [partition, rows, logType] of [
      [PARTITION, actionRows, 'user_action'],
      [seller, sellerRows, 'seller_action'],
    ] as const) {
      const writerMade = join(dir, `writer-${logType}.parquet`);
      await writeFile(writerMade, writerFile(rows(0), logType));
      put('01X0', rows(0), logType, partition);
      put('01X1', rows(1), logType, partition);
      const result = await compactPartition(await planFor(partition), deps());
      const compacted = join(dir, `compacted-${logType}.parquet`);
      await lake.download(result.outputs[0]!, compacted);

      const [writerSchema, compactedSchema] = [await parquetSchema(writerMade), await parquetSchema(compacted)];
      expect(compactedSchema.map((c) => c.name)).toEqual(writerSchema.map((c) => c.name));
      for (const [i, w] of writerSchema.entries()) {
        const c = compactedSchema[i]!;
        // Physical type and meaning: UTF8 strings, INT64 TIMESTAMP(isAdjustedToUTC, MICROS), groups, LIST.
        expect({ name: c.name, type: c.type, converted: meaningOf(c) }).toEqual({ name: w.name, type: w.type, converted: meaningOf(w) });
        if (w.converted_type === 'TIMESTAMP_MICROS') expect(c.logical_type).toBe(w.logical_type);
        // DuckDB 1.5 writes every column OPTIONAL; the writer writes REQUIRED for non-nullable ones.
        expect(c.repetition_type).toBe(w.repetition_type === 'REQUIRED' ? 'OPTIONAL' : w.repetition_type);
      }
      expect(writerSchema.find((c) => c.name === 'ts')?.logical_type).toMatch(/isAdjustedToUTC=1.*MICROS=MicroSeconds\(\)/);
      // And as DuckDB (or any reader by name) sees the columns: identical names and types.
      expect(await columnTypes(compacted)).toEqual(await columnTypes(writerMade));
    }
    expect(await columnTypes(join(dir, 'compacted-user_action.parquet'))).toContainEqual(['context', 'STRUCT(user_agent VARCHAR, ip VARCHAR, locale VARCHAR, page STRUCT(url VARCHAR, referrer VARCHAR, title VARCHAR))']);
    expect(await columnTypes(join(dir, 'compacted-seller_action.parquet'))).toContainEqual(['changed_fields', 'VARCHAR[]']);
  });

  it('reads files of different schema versions together (union by name)', async () => {
    put('01V1', [action('v1', 'page_view', 1, { user_id: 'old' })]);
    // v2 adds list_id and position.
    put('01V2', [{ ...action('v2', 'add_to_wishlist', 2, { list_id: 'l', position: 3 }), schema_version: 2 }]);
    await compactPartition(await planFor(), deps());
    const { rows } = await readLake(lake, PREFIX, connection, workDir);
    expect(ids(rows)).toEqual(['v1', 'v2']);
  });

  describe('with more rows than one row group', () => {
    // 2 × 70,000 rows = row groups of 131,072 + 8,928 once merged. Encoded once: it takes seconds.
    let big: Uint8Array[];
    beforeAll(() => {
      const events = ['page_view', 'search', 'add_to_cart'];
      const rows = (f: number) =>
        Array.from({ length: 70_000 }, (_, i) => action(`big${f}-${i}`, events[i % 3]!, (i * 7919) % 60, { user_id: `u${i % 500}`, page_url: `https://shop.example/p/${(i * 31) % 9973}` }));
      big = [writerFile(rows(0)), writerFile(rows(1))];
    });
    const putBig = () => big.forEach((bytes, i) => lake.put(`${PREFIX}01L${i}.parquet`, bytes));

    it('cuts large outputs into files of at least the target size, in (event, ts) order, and the policy then leaves them alone', async () => {
      putBig();
      // One byte of target closes the first file after its first row group.
      const result = await compactPartition(await planFor(), deps({ targetFileBytes: 1 }));

      expect(result.outputs).toHaveLength(2);
      expect(result).toMatchObject({ rowsIn: 140_000, rowsOut: 140_000 });
      const objects = await lake.list(PREFIX);
      const files = await Promise.all(
        result.outputs.map(async (name, i) => {
          const path = join(workDir, `out-${i}.parquet`);
          await lake.download(name, path);
          return path;
        }),
      );
      // Taken in output order (the names are ULIDs), the files hold consecutive runs: sorted across them.
      const reader = await connection.runAndReadAll(
        `select count(*) as rows, count(*) filter (where pe > event or (pe = event and (pt > ts or (pt = ts and pi > event_id)))) as unsorted,
                count(*) filter (where file_index = 0) as first
         from (select event, ts, event_id, file_index, lag(event) over w as pe, lag(ts) over w as pt, lag(event_id) over w as pi
               from read_parquet($files) window w as (order by file_index, file_row_number))`,
        { files: listValue(files) },
      );
      expect(reader.getRowObjectsJS()).toEqual([{ rows: 140_000n, unsorted: 0n, first: 131_072n }]);
      // With a real target both outputs are below it, so an aged hour would merge them again...
      expect(planCompaction(PARTITION, objects, AGED)?.inputs).toHaveLength(2);
      // ...but when the first file passes the target, only the last is below it: nothing to merge.
      const first = objects.find((o) => o.name === result.outputs[0])!;
      expect(planCompaction(PARTITION, objects, AGED, { closeAfterMs: 0, agedAfterMs: 0, smallFileBytes: 0, lightMinFiles: 2, targetFileBytes: first.size })).toBeUndefined();
    });

    it('changes nothing in the lake when an upload fails, and removes the outputs it had written', async () => {
      putBig();
      const before = await lake.list(PREFIX);
      let creates = 0;
      const failing: LakeStore = {
        ...lake,
        async create(name, path, type) {
          // The first output goes in, the second fails: the first must be taken out again.
          if (++creates === 2) throw new Error('upload failed (the test made it fail)');
          return lake.create(name, path, type);
        },
      };

      await expect(compactPartition(await planFor(), deps({ lake: failing, targetFileBytes: 1 }))).rejects.toThrow('upload failed');
      expect(creates).toBe(2);
      expect(await lake.list(PREFIX)).toEqual(before);
      expect(await readdir(workDir)).toEqual([]);
    });
  });

  it('uploads outputs with the Parquet content type, deletes the inputs and logs one line with the counts', async () => {
    putDuplicates();
    const types: string[] = [];
    const recording: LakeStore = { ...lake, create: (name, path, type) => (types.push(type), lake.create(name, path, type)) };
    const { logger, lines } = recordingLogger();
    const result = await compactPartition(await planFor(), deps({ lake: recording, logger }));

    expect(types).toEqual([PARQUET_CONTENT_TYPE]);
    expect(await lake.list(PREFIX)).toEqual([expect.objectContaining({ name: result.outputs[0] })]);
    expect(lines.filter((l) => l.message === 'partition compacted')).toEqual([
      expect.objectContaining({ severity: 'INFO', partition: 'user_action/2025-03-01/10', mode: 'aggressive', inputs: 3, outputs: 1, rowsIn: 9, rowsOut: 5, duplicates: 4, bytesIn: result.bytesIn, bytesOut: result.bytesOut, removed: 3, gone: 0, kept: 0 }),
    ]);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('changes nothing when an input cannot be read', async () => {
    putDuplicates();
    const plan = await planFor();
    lake.put(plan.inputs[1]!.name, new TextEncoder().encode('not parquet'));
    const before = await lake.list(PREFIX);
    await expect(compactPartition(plan, deps())).rejects.toThrow();
    expect(await lake.list(PREFIX)).toEqual(before);
    expect(await readdir(workDir)).toEqual([]);
  });

  it('keeps an input rewritten since it was listed (PreconditionFailed): its events are duplicated, never lost', async () => {
    putDuplicates();
    const plan = await planFor();
    const [rewritten, dropped] = [plan.inputs[0]!.name, plan.inputs[1]!.name];
    const { logger, lines } = recordingLogger();
    const racing: LakeStore = {
      ...lake,
      async create(name, path, type) {
        // While the outputs upload, someone rewrites one input (with an event the compaction never
        // read) and deletes another.
        lake.put(rewritten, writerFile([action('e1', 'page_view', 5, { user_id: 'first' }), action('new', 'search', 9)]));
        lake.drop(dropped);
        return lake.create(name, path, type);
      },
    };
    const result = await compactPartition(plan, deps({ lake: racing, logger }));

    const { objects, rows } = await readLake(lake, PREFIX, connection, workDir);
    expect(objects.map((o) => o.name).sort()).toEqual([...result.outputs, rewritten].sort());
    expect([...new Set(ids(rows))]).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'new']);
    expect(rows.filter((r) => r.event_id === 'e1')).toHaveLength(2);
    expect(lines).toContainEqual(expect.objectContaining({ severity: 'WARNING', object: rewritten }));
    expect(lines).toContainEqual(expect.objectContaining({ message: 'partition compacted', removed: 1, gone: 1, kept: 1 }));
    await expect(lake.remove(rewritten, plan.inputs[0]!.generation)).rejects.toBeInstanceOf(PreconditionFailed);
  });

  it('refuses a plan with an input from another partition', async () => {
    putDuplicates();
    const other = { ...PARTITION, hr: '11' };
    put('01O', [action('o1', 'search', 1)], 'user_action', other);
    const plan = await planFor();
    const stray = (await lake.list(partitionPrefix(other)))[0]!;
    await expect(compactPartition({ ...plan, inputs: [...plan.inputs, stray] }, deps())).rejects.toThrow('is not a Parquet file of partition user_action/2025-03-01/10');
  });
});

describe('verifyMerged', () => {
  const file = async (name: string, rows: Record<string, unknown>[]) => {
    const path = join(dir, `${name}.parquet`);
    await writeFile(path, writerFile(rows));
    return path;
  };

  it('accepts exactly the distinct events, and refuses a lost, a duplicated or an invented one', async () => {
    const a = await file('va', [action('e1', 'search', 1), action('e2', 'search', 2)]);
    const b = await file('vb', [action('e2', 'search', 2), action('e3', 'page_view', 3)]);
    const inputs = [a, b];
    const good = await file('vgood', [action('e3', 'page_view', 3), action('e1', 'search', 1), action('e2', 'search', 2)]);
    await expect(verifyMerged(connection, inputs, [good])).resolves.toEqual({ rowsIn: 4, rowsOut: 3 });

    const lost = await file('vlost', [action('e1', 'search', 1), action('e2', 'search', 2)]);
    const doubled = await file('vdoubled', [action('e1', 'search', 1), action('e2', 'search', 2), action('e2', 'search', 2), action('e3', 'page_view', 3)]);
    const swapped = await file('vswapped', [action('e1', 'search', 1), action('e2', 'search', 2), action('x9', 'page_view', 3)]);
    const failure = (outputs: string[]) => verifyMerged(connection, inputs, outputs).then(() => undefined, (err: unknown) => err);

    expect(await failure([lost])).toBeInstanceOf(CompactionVerificationFailed);
    expect(((await failure([lost])) as CompactionVerificationFailed).problems).toEqual(['2 rows written for 3 distinct event_ids and 0 rows without one', '1 event_ids missing from the output']);
    expect(((await failure([doubled])) as CompactionVerificationFailed).problems).toEqual(['4 rows written for 3 distinct event_ids and 0 rows without one', '1 duplicate event_ids written']);
    expect(((await failure([swapped])) as CompactionVerificationFailed).problems).toEqual(['1 event_ids missing from the output', '1 event_ids in the output that no input has']);
  });

  it('refuses outputs whose columns differ from the inputs', async () => {
    const input = await file('vc-in', [action('e1', 'search', 1)]);
    const output = join(dir, 'vc-out.parquet');
    await connection.run(`copy (select event_id, event, ts from read_parquet('${input}')) to '${output}' (format parquet)`);
    await expect(verifyMerged(connection, [input], [output])).rejects.toThrow(/columns differ/);
    // The rows themselves read the same.
    expect(ids(await readRows(connection, [input]))).toEqual(['e1']);
  });
});

interface SchemaColumn {
  name: string;
  type: string | null;
  repetition_type: string | null;
  converted_type: string | null;
  logical_type: string | null;
}

/** The Parquet schema's columns, without the root (named by the writing library). */
async function parquetSchema(path: string): Promise<SchemaColumn[]> {
  const reader = await connection.runAndReadAll(`select name, type, repetition_type, converted_type, logical_type from parquet_schema($path)`, { path });
  return (reader.getRowObjectsJS() as unknown as SchemaColumn[]).slice(1);
}

/**
 * What a reader makes of a column: DuckDB writes the legacy converted types (UTF8, LIST, INT_64)
 * and the writer's parquet-rs both those and logical types (StringType, ListType); an INT64 is a
 * signed 64-bit integer with or without INT_64.
 */
const meaningOf = (c: SchemaColumn) => (c.converted_type === 'INT_64' ? null : c.converted_type);

async function columnTypes(path: string): Promise<[string, string][]> {
  const reader = await connection.runAndReadAll(`select column_name, column_type from (describe select * from read_parquet($path))`, { path });
  return reader.getRowObjectsJS().map((r) => [String(r.column_name), String(r.column_type)]);
}
