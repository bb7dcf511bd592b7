/**
 * `npm run bench` (writer): JSON rows → Parquet, our encoder against DuckDB in the same run.
 *
 * Both paths start from the same NDJSON file of realistic user_action events:
 *   ours   — read the text, JSON.parse each line, encodeParquet (Arrow JS → parquet-wasm) in files
 *            of FILE_ROWS rows, the writer's flush limit (FLUSH_MAX_ROWS, default 10,000);
 *   DuckDB — `SET threads=1; COPY (SELECT * FROM read_json(…)) TO … (FORMAT parquet, COMPRESSION
 *            zstd)` into one file, its best case. read_json is given the lake's column types
 *            (`columns=`), as our encoder is given the schema, so neither pays for type detection;
 *            DuckDB's own sampling-based detection is reported on the side.
 * Validation is not part of either path (the writer validates before it encodes).
 *
 * Our path runs twice per round: in this process (node's default heap) and in a child process
 * with a larger young generation (TUNED below: what a process holding batches of parsed events
 * should run with). Sizes compare the same rows as one file each, and as files of FILE_ROWS.
 *
 * Rounds alternate between the paths and the medians are compared, so a noisy shared machine
 * moves all of them. ROWS (default 200,000) and FILE_ROWS change the sizes; ROUNDS (default 3)
 * the repetitions.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance } from '@duckdb/node-api';
import { createRegistry, loadBundledSchemas, toArrowTable } from '@strata/schemas';
import { DEFAULT_MAX_ROW_GROUP_ROWS, encodeParquet, parquetFromArrow, writerProperties } from '../src/parquet.js';
import { WRITER_NODE_OPTIONS } from '../src/node-options.js';
import { seededRandom } from '@strata/dev/bench/shopper-events';

// A benchmark's knobs are its environment, like the validation bench's constants.
// eslint-disable-next-line no-restricted-properties
const env = process.env;
const ROWS = Number(env.ROWS ?? 200_000);
const FILE_ROWS = Number(env.FILE_ROWS ?? 10_000);
const ROUNDS = Number(env.ROUNDS ?? 3);
const CHUNK = 4 * 1024 * 1024; // read size; a line must fit (events are ≤ 1 MiB)

const registry = createRegistry(loadBundledSchemas());
const columns = registry.columns('user_action');

// --- realistic, deterministic user_action events -------------------------------------------

const random = seededRandom(7);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const int = (n: number) => Math.floor(random() * n);
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const HEX = '0123456789abcdef';
const chars = (alphabet: string, n: number) => Array.from({ length: n }, () => alphabet[int(alphabet.length)]).join('');
/** A ULID as ingest assigns it: 10 characters of milliseconds, then 16 random ones. */
const ulid = (ms: number) => {
  let time = '';
  for (let i = 0, t = ms; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  return time + chars(CROCKFORD, 16);
};

// Weighted like a shop's front end: most events are views.
const EVENTS: Array<[string, number]> = [
  ['page_view', 0.38], ['product_view', 0.3], ['search', 0.12], ['add_to_cart', 0.1], ['remove_from_cart', 0.04], ['checkout_started', 0.04], ['add_to_wishlist', 0.02],
];
const eventName = () => {
  let r = random();
  for (const [name, weight] of EVENTS) if ((r -= weight) < 0) return name;
  return EVENTS[0]![0];
};
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1',
  'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
  'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0',
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
];
const LOCALES = ['de-DE', 'de-AT', 'en-GB', 'fr-FR', 'nl-NL', 'it-IT', 'es-ES', 'pl-PL'];
const SOURCES = ['web', 'web', 'web', 'ios', 'android'];
const CATEGORIES = ['kitchen', 'garden', 'living', 'office', 'kids', 'bath', 'lighting', 'outdoor'];
const QUERIES = ['blue mug', 'garden chair', 'led lamp', 'desk organizer', 'bath towel set', 'kids table', 'cast iron pan', 'plant pot'];
const TITLES = ['Blue mug', 'Garden chair Sola', 'LED desk lamp', 'Search results', 'Your cart', 'Kitchen – all products', 'Checkout'];
const LISTS = ['search', 'category', 'recommended', 'recently_viewed', 'home_rail'];
const USERS = 20_000;
// Devices of visitors who are not signed in: a UUID each, as browser SDKs mint them.
const anonymousIds = Array.from({ length: 5000 }, () => [8, 4, 4, 4, 12].map((n) => chars(HEX, n)).join('-'));
const START = Date.UTC(2026, 10, 21, 10);

function makeRow(i: number): Record<string, unknown> {
  const event = eventName();
  const user = int(USERS);
  const signedIn = user % 3 !== 0;
  // Events arrive roughly in time order over one hour, with seconds of client-side jitter.
  const tsMs = START + Math.floor((i / ROWS) * 3_600_000) + int(20_000) - 10_000;
  const ts = new Date(tsMs).toISOString().slice(0, -1) + String(int(1000)).padStart(3, '0') + 'Z';
  const product = `p-${int(5000)}`;
  const category = pick(CATEGORIES);
  const url = event === 'search' ? `https://shop.example/search?q=${int(900)}` : `https://shop.example/${category}/${product}`;
  const row: Record<string, unknown> = {
    event_id: ulid(tsMs + 40 + int(2000)),
    event,
    ts,
    received_at: new Date(tsMs + 40 + int(2000)).toISOString(),
    ...(signedIn ? { user_id: `user-${user}` } : { anonymous_id: anonymousIds[user % anonymousIds.length] }),
    session_id: `s-${user}-${int(4)}`,
    source: pick(SOURCES),
    schema_version: 2,
    context: {
      user_agent: USER_AGENTS[user % USER_AGENTS.length],
      ip: '[redacted]',
      locale: LOCALES[user % LOCALES.length],
      page: { url, ...(random() < 0.6 ? { referrer: 'https://www.google.com/' } : {}), title: pick(TITLES) },
    },
    page_url: url,
  };
  if (random() < 0.3) row.referrer = `https://shop.example/${pick(CATEGORIES)}`;
  if (event === 'search') Object.assign(row, { search_query: pick(QUERIES), list_id: 'search' });
  if (['product_view', 'add_to_cart', 'remove_from_cart', 'add_to_wishlist'].includes(event)) {
    Object.assign(row, { product_id: product, price: Math.round(random() * 20_000) / 100, currency: 'EUR' });
  }
  if (event === 'add_to_cart' || event === 'remove_from_cart' || event === 'checkout_started') {
    Object.assign(row, { cart_id: `c-${user}`, quantity: 1 + int(3) });
  }
  if (event === 'product_view' || event === 'add_to_cart') Object.assign(row, { list_id: pick(LISTS), position: int(48) });
  return row;
}

// --- measuring ----------------------------------------------------------------------------------

// A child run (see TUNED below) measures our path on the parent's file and reports as JSON.
const CHILD = env.ENCODER_BENCH_FILE;
const dir = CHILD ? '' : mkdtempSync(join(tmpdir(), 'strata-encoder-bench-'));
const ndjsonPath = CHILD ?? join(dir, 'events.ndjson');
if (!CHILD) writeFileSync(ndjsonPath, Array.from({ length: ROWS }, (_, i) => JSON.stringify(makeRow(i))).join('\n') + '\n');
const ndjsonBytes = statSync(ndjsonPath).size;

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const now = () => Number(process.hrtime.bigint()) / 1e9;
const sql = (s: string) => `'${s.replaceAll("'", "''")}'`;

/**
 * Our path, with the time of each stage. The NDJSON is streamed as DuckDB streams it: read in
 * chunks into one buffer, each line decoded to a string (as the writer decodes a message's data)
 * and JSON.parse'd, every FILE_ROWS rows encoded to one file, so memory stays bounded. (Decoding
 * a whole chunk and parsing slices of it was measured slower: one non-ASCII character makes the
 * whole chunk a two-byte string.)
 */
function ours(): { seconds: number; parse: number; arrow: number; parquet: number; bytes: number } {
  const start = now();
  let parse = 0;
  let arrow = 0;
  let parquet = 0;
  let bytes = 0;
  let rows: Record<string, unknown>[] = [];
  const encode = () => {
    const t1 = now();
    // encodeParquet(columns, rows)'s steps, timed apart: exactly what it runs.
    const properties = writerProperties(columns, rows, {});
    const table = toArrowTable(columns, rows, { sortBy: ['event', 'ts'] });
    const t2 = now();
    bytes += parquetFromArrow(table, properties).length;
    const t3 = now();
    arrow += t2 - t1;
    parquet += t3 - t2;
    rows = [];
  };
  const fd = openSync(ndjsonPath, 'r');
  const chunk = Buffer.allocUnsafe(CHUNK);
  let filled = 0;
  let t0 = now();
  for (;;) {
    const read = readSync(fd, chunk, filled, chunk.length - filled, null);
    filled += read;
    let from = 0;
    for (let nl = chunk.indexOf(10, from); nl >= 0 && nl < filled; nl = chunk.indexOf(10, from)) {
      if (nl > from) rows.push(JSON.parse(chunk.toString('utf8', from, nl)) as Record<string, unknown>);
      from = nl + 1;
      if (rows.length === FILE_ROWS) {
        parse += now() - t0;
        encode();
        t0 = now();
      }
    }
    chunk.copy(chunk, 0, from, filled);
    filled -= from;
    if (read === 0) break;
  }
  closeSync(fd);
  parse += now() - t0;
  if (rows.length > 0) encode();
  return { seconds: now() - start, parse, arrow, parquet, bytes };
}

if (CHILD) {
  ours(); // warm-up: the parent's in-process rounds are warm too
  console.log(JSON.stringify(ours()));
  process.exit(0);
}

/**
 * V8's young generation holds 16 MiB by default (semi-space); a batch of 10,000 parsed events is
 * about as large, so each scavenge copies the live batch and then promotes it. The writer runs with
 * a larger young generation (WRITER_NODE_OPTIONS in src/node-options.ts;
 * https://nodejs.org/api/cli.html#--max-semi-space-sizesize-in-mib). The same path is measured in a
 * child process with those options, in the same rounds.
 */
const TUNED = WRITER_NODE_OPTIONS;
function oursTuned(): ReturnType<typeof ours> {
  const child = spawnSync(process.execPath, [TUNED, ...process.execArgv, fileURLToPath(import.meta.url)], {
    env: { ...env, ENCODER_BENCH_FILE: ndjsonPath },
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (child.status !== 0) throw new Error(`tuned child failed: ${child.stderr}`);
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as ReturnType<typeof ours>;
}

// The lake's column types in DuckDB's spelling, for read_json's `columns=`.
const DUCKDB_COLUMNS = `{
  event_id: 'VARCHAR', event: 'VARCHAR', ts: 'TIMESTAMPTZ', received_at: 'TIMESTAMPTZ', user_id: 'VARCHAR',
  anonymous_id: 'VARCHAR', session_id: 'VARCHAR', source: 'VARCHAR', schema_version: 'BIGINT',
  context: 'STRUCT(user_agent VARCHAR, ip VARCHAR, locale VARCHAR, page STRUCT(url VARCHAR, referrer VARCHAR, title VARCHAR))',
  page_url: 'VARCHAR', referrer: 'VARCHAR', product_id: 'VARCHAR', cart_id: 'VARCHAR', price: 'DOUBLE', currency: 'VARCHAR',
  quantity: 'BIGINT', search_query: 'VARCHAR', list_id: 'VARCHAR', position: 'BIGINT'
}`;

const instance = await DuckDBInstance.create(':memory:');
const duck = await instance.connect();
await duck.run('SET threads=1');
const source = (detect: boolean) =>
  `read_json(${sql(ndjsonPath)}, format='newline_delimited'${detect ? '' : `, columns=${DUCKDB_COLUMNS}`})`;
async function duckdb(name: string, select: string): Promise<{ seconds: number; bytes: number }> {
  const out = join(dir, `${name}.parquet`);
  const start = now();
  await duck.run(`COPY (${select}) TO ${sql(out)} (FORMAT parquet, COMPRESSION zstd)`);
  return { seconds: now() - start, bytes: statSync(out).size };
}

// Sanity: every row encodes (the bench must not measure an error path) and DuckDB reads our rows back.
const check = encodeParquet(columns, readFileSync(ndjsonPath, 'utf8').split('\n', 1000).map((l) => JSON.parse(l) as Record<string, unknown>));
writeFileSync(join(dir, 'check.parquet'), check);
const back = await duck.runAndReadAll(`select count(*)::int from read_parquet(${sql(join(dir, 'check.parquet'))})`);
if (back.getRowsJS()[0]![0] !== 1000) throw new Error('our Parquet file did not read back');

const runs = { ours: [] as ReturnType<typeof ours>[], tuned: [] as ReturnType<typeof ours>[], duck: [] as number[], detect: [] as number[], sorted: [] as number[] };
let duckBytes = 0;
let sortedBytes = 0;
for (let round = 0; round < ROUNDS; round++) {
  runs.ours.push(ours());
  runs.tuned.push(oursTuned());
  const d = await duckdb('duckdb', `SELECT * FROM ${source(false)}`);
  runs.duck.push(d.seconds);
  duckBytes = d.bytes;
  // The extra paths once: they are reference points, not the baseline.
  if (round === 0) {
    runs.detect.push((await duckdb('duckdb-detect', `SELECT * FROM ${source(true)}`)).seconds);
    const s = await duckdb('duckdb-sorted', `SELECT * FROM ${source(false)} ORDER BY event, ts`);
    runs.sorted.push(s.seconds);
    sortedBytes = s.bytes;
  }
}
// Sizes only: the same rows as one file from us, and DuckDB writing files of FILE_ROWS rows.
const oneFile = encodeParquet(columns, readFileSync(ndjsonPath, 'utf8').split('\n', ROWS).map((l) => JSON.parse(l) as Record<string, unknown>)).length;
const smallDir = join(dir, 'duckdb-files');
await duck.run(`COPY (SELECT * FROM ${source(false)}) TO ${sql(smallDir)} (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE ${FILE_ROWS}, ROW_GROUPS_PER_FILE 1)`);
const small = await duck.runAndReadAll(`SELECT sum(size)::BIGINT, count(*)::INT FROM read_blob(${sql(join(smallDir, '*.parquet'))})`);
const [smallBytes, smallFiles] = small.getRowsJS()[0]! as [bigint, number];
duck.closeSync();
instance.closeSync();
const gzBytes = gzipSync(readFileSync(ndjsonPath)).length;

const oursMedian = median(runs.ours.map((r) => r.seconds));
const tunedMedian = median(runs.tuned.map((r) => r.seconds));
const duckMedian = median(runs.duck);
const ourBytes = runs.ours[0]!.bytes;
const rate = (s: number) => Math.round(ROWS / s).toLocaleString('en');
const round2 = (x: number) => Math.round(x * 100) / 100;
const speedRatio = round2(duckMedian / oursMedian);
const tunedRatio = round2(duckMedian / tunedMedian);
const bytesRatio = Math.round((oneFile / duckBytes) * 100) / 100;

console.log(
  `\nJSON rows → Parquet (zstd), ${ROWS.toLocaleString('en')} user_action events, ${(ndjsonBytes / ROWS).toFixed(0)} B/line NDJSON, ` +
    `ours in files of ${FILE_ROWS.toLocaleString('en')} rows; median of ${ROUNDS} interleaved rounds, DuckDB threads=1\n`,
);
console.log('| path | rows/s | ratio vs DuckDB |');
console.log('|---|---:|---:|');
console.log(`| ours: NDJSON → JSON.parse → encodeParquet (sorted by event, ts), node defaults | ${rate(oursMedian)} | ${speedRatio.toFixed(2)}× |`);
console.log(`| ours, the same, node ${TUNED} | ${rate(tunedMedian)} | ${tunedRatio.toFixed(2)}× |`);
console.log(`| DuckDB read_json (columns=) → COPY parquet zstd | ${rate(duckMedian)} | 1.00× |`);
console.log(`| DuckDB read_json (auto-detect) → COPY | ${rate(median(runs.detect))} | ${(duckMedian / median(runs.detect)).toFixed(2)}× |`);
console.log(`| DuckDB read_json (columns=) ORDER BY event, ts → COPY | ${rate(median(runs.sorted))} | ${(duckMedian / median(runs.sorted)).toFixed(2)}× |`);

console.log('\n| output | bytes/event | ratio vs DuckDB |');
console.log('|---|---:|---:|');
const perEvent = (b: number) => (b / ROWS).toFixed(1);
console.log(`| ours, 1 file (sorted, row groups of ${DEFAULT_MAX_ROW_GROUP_ROWS.toLocaleString('en')}) | ${perEvent(oneFile)} | ${bytesRatio.toFixed(2)}× |`);
console.log(`| DuckDB zstd (1 file) | ${perEvent(duckBytes)} | 1.00× |`);
console.log(`| ours, ${Math.ceil(ROWS / FILE_ROWS)} files of ${FILE_ROWS.toLocaleString('en')} rows, as the writer flushes | ${perEvent(ourBytes)} | ${(ourBytes / duckBytes).toFixed(2)}× |`);
console.log(`| DuckDB zstd, ${smallFiles} files of ≤ ${FILE_ROWS.toLocaleString('en')} rows | ${perEvent(Number(smallBytes))} | ${(Number(smallBytes) / duckBytes).toFixed(2)}× |`);
console.log(`| DuckDB zstd, ORDER BY event, ts (1 file) | ${perEvent(sortedBytes)} | ${(sortedBytes / duckBytes).toFixed(2)}× |`);
console.log(`| JSONL.gz (node:zlib, level 6) | ${perEvent(gzBytes)} | ${(gzBytes / duckBytes).toFixed(2)}× |`);
console.log(`| NDJSON | ${perEvent(ndjsonBytes)} | ${(ndjsonBytes / duckBytes).toFixed(2)}× |`);

const stage = (r: ReturnType<typeof ours>[], key: 'parse' | 'arrow' | 'parquet') => median(r.map((x) => x[key]));
console.log('\n| our stage | seconds (defaults) | share | rows/s | seconds (tuned) | share | rows/s |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
const STAGES = [['read lines + JSON.parse', 'parse'], ['choose encodings, sort, build Arrow', 'arrow'], ['write Parquet (IPC → parquet-wasm)', 'parquet']] as const;
const cells = (r: ReturnType<typeof ours>[], key: 'parse' | 'arrow' | 'parquet') => {
  const total = STAGES.reduce((t, [, k]) => t + stage(r, k), 0);
  return `${stage(r, key).toFixed(3)} | ${((stage(r, key) / total) * 100).toFixed(0)}% | ${rate(stage(r, key))}`;
};
for (const [label, key] of STAGES) console.log(`| ${label} | ${cells(runs.ours, key)} | ${cells(runs.tuned, key)} |`);
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');
// Judged on the printed (rounded) ratios, so the verdict agrees with the table.
console.log(
  `\nGoals: speed ≥ 0.5× DuckDB: ${verdict(speedRatio >= 0.5)} at node defaults (${speedRatio.toFixed(2)}×), ` +
    `${verdict(tunedRatio >= 0.5)} with ${TUNED} (${tunedRatio.toFixed(2)}×); ` +
    `bytes ≤ 1.0× DuckDB (same rows, one file): ${verdict(bytesRatio <= 1)} (${bytesRatio.toFixed(2)}×)`,
);
rmSync(dir, { recursive: true, force: true });
