/**
 * Compaction (`npm run bench -w @strata/curator`, third): what compactPartition does to a day of
 * closed hours written the way the writer writes them, and what that does to reading the day.
 *
 * Data: BENCH_COMPACTION_HOURS (24) hours of user_action, each BENCH_COMPACTION_FILES (60) files of
 * BENCH_COMPACTION_EVENTS_PER_FILE (2,000) events, encoded by the writer's own encoder
 * (encodeParquet from @strata/writer: its column types, encodings, ZSTD level, (event, ts) order)
 * from the shopper events the other benchmarks send (@strata/dev/bench/shopper-events, seeded).
 * ~1% of each file's events are redeliveries of an event from an earlier file of the same hour
 * (same event_id, received later), so compaction's dedup has work across files.
 *
 * The lake is createMemoryLake(), not the GCS emulator: the subject is the merge (DuckDB on local
 * files: dedup, sort, verify) and the files it leaves; the emulator would add only upload and
 * download time that P5 already covers.
 *
 * Measured: files and bytes per closed hour, rows and distinct events, before and after one
 * compactPartition per hour (the plan from planCompaction with the default policy, the clock 3 h
 * after the day ends: hours older than a day are merged "aggressive", the last ones "light", both
 * take all 60 small files here); the compaction time; and the time of reading the whole day, best
 * of BENCH_RUNS (3): (1) openDuckDbEngine(ROLLUPS).computeDay (the three rollups, what a curation
 * does: before, every hour deduplicated; after, each hour one merge's output, read as it is) and (2) a plain `select event, count(*), count(distinct user_id) … group by event`
 * over read_parquet of the files. The day's rollups must be the same before and after (exit 1 if
 * not). No numeric goal.
 *
 * Knobs: BENCH_COMPACTION_HOURS (24), BENCH_COMPACTION_FILES (60), BENCH_COMPACTION_EVENTS_PER_FILE
 * (2,000), BENCH_RUNS (3), BENCH_LOG_LEVEL (warn).
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listValue } from '@duckdb/node-api';
import { seededRandom, shopperAction } from '@strata/dev/bench/shopper-events';
import { createUlidFactory } from '@strata/runtime';
import { createRegistry, loadBundledSchemas, partitionPrefix, ROLLUPS, type Partition } from '@strata/schemas';
import { encodeParquet } from '@strata/writer';
import { compactPartition, type CompactionResult } from '../src/compact.js';
import { DEFAULT_COMPACTION_POLICY, hourEndMs, planCompaction } from '../src/compaction-policy.js';
import { createMemoryLake, type LakeObject, type MemoryLake } from '../src/lake-store.js';
import { openDuckDbEngine, splitDayFiles, type RollupEngine } from '../src/rollup.js';
import { bytes, fmt, integer, progress, quietLogger, seconds, timed } from './common.js';

const HOURS = integer('BENCH_COMPACTION_HOURS', 24);
const FILES = integer('BENCH_COMPACTION_FILES', 60);
const PER_FILE = integer('BENCH_COMPACTION_EVENTS_PER_FILE', 2_000);
const RUNS = integer('BENCH_RUNS', 3);
if (HOURS > 24) throw new Error('BENCH_COMPACTION_HOURS must be at most 24 (one day)');
const DAY = '2025-03-01';
const DUP_RATE = 0.01;
const LOG_TYPE = 'user_action';
const hh = (h: number) => String(h).padStart(2, '0');
const partitionOfHour = (h: number): Partition => ({ logType: LOG_TYPE, dt: DAY, hr: hh(h) });

/** Writes the day's small files into the lake; returns how many rows were written. */
function writeDay(lake: MemoryLake, newId: () => string): number {
  const columns = createRegistry(loadBundledSchemas()).columns(LOG_TYPE);
  const random = seededRandom(42);
  let written = 0;
  for (let h = 0; h < HOURS; h++) {
    const hourStart = Date.parse(`${DAY}T${hh(h)}:00:00Z`);
    const earlier: Record<string, unknown>[] = [];
    for (let f = 0; f < FILES; f++) {
      // One flush: what arrived in its slice of the hour, plus redeliveries of earlier events.
      const sliceMs = 3_600_000 / FILES;
      const rows: Record<string, unknown>[] = [];
      for (let i = 0; i < PER_FILE; i++) {
        if (earlier.length > 0 && random() < DUP_RATE) {
          const original = earlier[Math.floor(random() * earlier.length)]!;
          rows.push({ ...original, received_at: new Date(Date.parse(String(original.received_at)) + 30_000 + Math.floor(random() * 60_000)).toISOString() });
          continue;
        }
        const tsMs = hourStart + f * sliceMs + Math.floor(random() * sliceMs);
        const { log_type: _, ...event } = shopperAction(random, new Date(tsMs).toISOString());
        const row = { event_id: `e-${hh(h)}-${f}-${i}`, ...event, received_at: new Date(tsMs + Math.floor(random() * 2_000)).toISOString(), schema_version: 1 };
        rows.push(row);
        if (i % 10 === 0) earlier.push(row);
      }
      lake.put(`${partitionPrefix(partitionOfHour(h))}${newId()}.parquet`, encodeParquet(columns, rows));
      written += rows.length;
    }
    if (h % 6 === 5 || h === HOURS - 1) progress(`${h + 1}/${HOURS} hours written`);
  }
  return written;
}

interface DayState {
  objects: LakeObject[];
  filesPerHour: number[];
  bytes: number;
  rows: number;
  events: number;
  computeDay: { times: number[]; best: number };
  plain: { times: number[]; best: number };
  /** The day's rollups, to compare before and after. */
  figures: string;
}

async function measureDay(lake: MemoryLake, engine: RollupEngine, dir: string): Promise<DayState> {
  const objects = await lake.list(`events/log_type=${LOG_TYPE}/dt=${DAY}/`);
  const filesPerHour = Array.from({ length: HOURS }, (_, h) => objects.filter((o) => o.name.includes(`/hr=${hh(h)}/`)).length);
  await rm(dir, { recursive: true, force: true });
  await mkdir(join(dir, 'out'), { recursive: true });
  // As the curator does: download the day, read the local files.
  const files = objects.map((_, i) => join(dir, `${i}.parquet`));
  for (const [i, o] of objects.entries()) await lake.download(o.name, files[i]!);
  const compute = await timed(RUNS, async () => {
    const result = await engine.computeDay(LOG_TYPE, splitDayFiles(objects.map((o) => o.name), files), join(dir, 'out'));
    if (!result.ok) throw new Error(`computeDay failed: ${result.reason}`);
    return result;
  });
  const plain = await timed(RUNS, async () =>
    (
      await engine.connection.runAndReadAll(
        'select event, count(*) as events, count(distinct user_id) as users from read_parquet($files, union_by_name = true, hive_partitioning = false) group by event order by event',
        { files: listValue(files) },
      )
    ).getRowObjectsJS(),
  );
  const result = compute.result as Extract<typeof compute.result, { ok: true }>;
  return {
    objects,
    filesPerHour,
    bytes: objects.reduce((n, o) => n + o.size, 0),
    rows: result.rows,
    events: result.events,
    computeDay: compute,
    plain,
    figures: JSON.stringify(result.rollups.map((r) => [r.rollup.name, r.rows])),
  };
}

let failed = false;
let engine: RollupEngine | undefined;
const dir = await mkdtemp(join(tmpdir(), 'strata-bench-compaction-'));
try {
  const started = performance.now();
  console.log(`Compaction: ${HOURS} closed hours × ${FILES} writer files × ${fmt(PER_FILE)} events (~${DUP_RATE * 100}% redeliveries across files), memory lake`);
  const lake = createMemoryLake();
  const newId = createUlidFactory();
  writeDay(lake, newId);
  progress(`written with the writer's encoder (${seconds(performance.now() - started, 1)} s)`);

  engine = await openDuckDbEngine(ROLLUPS);
  const before = await measureDay(lake, engine, join(dir, 'read'));
  progress('before: measured');

  const now = Date.parse(`${DAY}T00:00:00Z`) + 27 * 3_600_000;
  const compactions: CompactionResult[] = [];
  const compactStarted = performance.now();
  const logger = quietLogger();
  for (let h = 0; h < HOURS; h++) {
    const partition = partitionOfHour(h);
    const plan = planCompaction(partition, await lake.list(partitionPrefix(partition)), now, DEFAULT_COMPACTION_POLICY);
    if (!plan) throw new Error(`no compaction planned for hour ${hh(h)} (${((now - hourEndMs(partition)) / 3_600_000).toFixed(1)} h after it ended)`);
    compactions.push(await compactPartition(plan, { lake, connection: engine.connection, workDir: join(dir, 'compact'), newId, logger }));
  }
  const compactMs = performance.now() - compactStarted;
  progress(`compacted ${compactions.length} hours in ${seconds(compactMs)} s`);
  const after = await measureDay(lake, engine, join(dir, 'read'));

  const modes = ['aggressive', 'light'].map((m) => `${compactions.filter((c) => c.mode === m).length} ${m}`).join(', ');
  const perHour = (s: DayState) => {
    const [min, max] = [Math.min(...s.filesPerHour), Math.max(...s.filesPerHour)];
    return min === max ? fmt(min) : `${fmt(min)}–${fmt(max)}`;
  };
  const runs = (t: { times: number[] }) => t.times.map((x) => seconds(x, 3)).join(' / ');
  const ratio = (a: number, b: number, digits = 1) => `${fmt(a / b, digits)}×`;
  console.log(`
Compaction — ${HOURS} closed hours of ${DAY} (user_action), one compactPartition per hour (${modes}), ${seconds(compactMs)} s in all (${seconds(compactMs / HOURS, 2)} s per hour)

| | files per closed hour | bytes per hour (mean) | files in the day | bytes in the day | rows | distinct events | computeDay, the day: runs (s) | best (s) | plain group-by: runs (s) | best (s) |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |
| before | ${perHour(before)} | ${bytes(before.bytes / HOURS)} | ${fmt(before.objects.length)} | ${bytes(before.bytes)} | ${fmt(before.rows)} | ${fmt(before.events)} | ${runs(before.computeDay)} | ${seconds(before.computeDay.best, 3)} | ${runs(before.plain)} | ${seconds(before.plain.best, 3)} |
| after | ${perHour(after)} | ${bytes(after.bytes / HOURS)} | ${fmt(after.objects.length)} | ${bytes(after.bytes)} | ${fmt(after.rows)} | ${fmt(after.events)} | ${runs(after.computeDay)} | ${seconds(after.computeDay.best, 3)} | ${runs(after.plain)} | ${seconds(after.plain.best, 3)} |
| before ÷ after | ${ratio(before.objects.length, after.objects.length, 0)} | ${ratio(before.bytes, after.bytes, 2)} | | | ${ratio(before.rows, after.rows, 3)} | | | ${ratio(before.computeDay.best, after.computeDay.best, 2)} | | ${ratio(before.plain.best, after.plain.best, 2)} |

Rows: ${fmt(before.rows - after.rows)} duplicates removed by compaction (${fmt(compactions.reduce((n, c) => n + c.rowsIn - c.rowsOut, 0))} by its own count); the reads dedup anyway, so distinct events do not change.`);
  if (before.figures !== after.figures || before.events !== after.events) {
    failed = true;
    console.log('Check FAILED: the day\'s rollups differ before and after compaction.');
  } else {
    console.log('Check: the day\'s rollups (computeDay) are identical before and after compaction.');
  }
} catch (err) {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  failed = true;
} finally {
  engine?.close();
  await rm(dir, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
