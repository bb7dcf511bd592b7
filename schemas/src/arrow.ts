import {
  Bool,
  Dictionary,
  Field,
  Float64,
  Int32,
  Int64,
  List,
  RecordBatch,
  Schema,
  Struct,
  Table,
  TimeUnit,
  Timestamp,
  Utf8,
  makeData,
  makeVector,
  type Data,
  type DataType,
} from 'apache-arrow';
import { Buffer } from 'node:buffer';
import type { Column } from './columns.js';
import { EXTRA_COLUMN } from './compose.js';
import { toMicros, toMicrosNumber } from './timestamps.js';

/** Lake column → Arrow type. Timestamps are µs in UTC, the precision BigQuery keeps. */
export function arrowType(column: Column): DataType {
  switch (column.type) {
    case 'string':
    case 'json':
      return new Utf8();
    case 'enum':
      // Dictionary ids are stable per column: the dictionary is the schema's enum, in order.
      return new Dictionary(new Utf8(), new Int32(), dictionaryId(column));
    case 'int64':
      return new Int64();
    case 'double':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'timestamp':
      return new Timestamp(TimeUnit.MICROSECOND, 'UTC');
    case 'struct':
      return new Struct((column.fields ?? []).map(arrowField));
    case 'list':
      return new List(arrowField(column.item!));
  }
}

const dictionaryIds = new WeakMap<Column, number>();
let nextDictionaryId = 0;
function dictionaryId(column: Column): number {
  let id = dictionaryIds.get(column);
  if (id === undefined) dictionaryIds.set(column, (id = nextDictionaryId++));
  return id;
}

export function arrowField(column: Column): Field {
  return new Field(column.name, arrowType(column), column.nullable);
}

export function arrowSchema(columns: Column[]): Schema {
  return new Schema(columns.map(arrowField));
}

const absent = (v: unknown) => v === undefined || v === null;

/*
 * Column builders. Each writes one column straight into the typed arrays Arrow keeps (values,
 * offsets and the validity bitmap in the same pass) with no object allocated per value: building
 * the Arrow table was over half of the JSON → Parquet time when every value went through
 * map/filter and its own TextEncoder buffer (services/writer/bench/encoder.ts measures it).
 * Input arrays may have holes (a field the row lacks): a hole reads as undefined, i.e. null.
 */

interface Validity {
  nullCount: number;
  nullBitmap?: Uint8Array;
}

/** A bitmap with every bit set up to `length`; builders clear the bits of nulls. */
function allValid(length: number): Uint8Array {
  const bitmap = new Uint8Array((length + 7) >> 3).fill(0xff);
  if (length & 7) bitmap[bitmap.length - 1] = (1 << (length & 7)) - 1;
  return bitmap;
}

const validityOf = (nullCount: number, bitmap: Uint8Array): Validity => (nullCount === 0 ? { nullCount } : { nullCount, nullBitmap: bitmap });

/**
 * UTF-8 data of string values (undefined or null = null), written into one buffer with hand-built
 * offsets. A column of short ASCII strings (ids, names, codes) is copied one code unit at a time,
 * which beats a native call per value for strings this short; a column of longer strings (URLs,
 * user agents) or with any non-ASCII character goes through Buffer#write, one native UTF-8 encode
 * per value. Measured here: the copy wins up to ~32 characters, the native write from ~40. The
 * two loops are separate functions so that each stays optimized for its one kind of input.
 */
function utf8Data(strings: readonly unknown[]): Data<Utf8> {
  const length = strings.length;
  const bitmap = allValid(length);
  let nullCount = 0;
  let chars = 0;
  let longest = 0;
  for (let i = 0; i < length; i++) {
    const s = strings[i];
    if (typeof s === 'string') {
      chars += s.length;
      if (s.length > longest) longest = s.length;
    } else if (s === undefined || s === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
    } else {
      // Validated rows hold strings here; anything else is stored as its String(), as before.
      return utf8Data(strings.map((x) => (absent(x) ? undefined : String(x))));
    }
  }
  const valueOffsets = new Int32Array(length + 1);
  const short = chars <= SHORT * (length - nullCount);
  const data = (short && copyAscii(strings, chars, valueOffsets)) || writeUtf8(strings, chars + 2 * longest + 64, valueOffsets);
  return makeData({ type: new Utf8(), length, ...validityOf(nullCount, bitmap), valueOffsets, data });
}

const SHORT = 32;

/** ASCII strings copied code unit by code unit; undefined at the first non-ASCII one. */
function copyAscii(strings: readonly unknown[], chars: number, valueOffsets: Int32Array): Uint8Array | undefined {
  const data = new Uint8Array(chars);
  let at = 0;
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    if (typeof s === 'string') {
      for (let k = 0; k < s.length; k++) {
        const c = s.charCodeAt(k);
        if (c >= 0x80) return undefined;
        data[at++] = c;
      }
    }
    valueOffsets[i + 1] = at;
  }
  return data;
}

/** Any strings, natively encoded; `capacity` fits all-ASCII text plus one worst-case value. */
function writeUtf8(strings: readonly unknown[], capacity: number, valueOffsets: Int32Array): Uint8Array {
  let data: Buffer = Buffer.allocUnsafeSlow(capacity);
  let at = 0;
  for (let i = 0; i < strings.length; i++) {
    const s = strings[i];
    if (typeof s === 'string') {
      // UTF-8 takes at most 3 bytes per UTF-16 code unit; write would truncate, never overflow.
      if (at + 3 * s.length > data.length) data = grow(data, at + 3 * s.length);
      at += data.write(s, at, 'utf8');
    }
    valueOffsets[i + 1] = at;
  }
  return data.subarray(0, at);
}

function grow(data: Buffer, needed: number): Buffer {
  const bigger = Buffer.allocUnsafeSlow(Math.max(needed, data.length * 2));
  data.copy(bigger);
  return bigger;
}

function jsonColumn(values: unknown[]): Data<Utf8> {
  const strings = new Array<string | undefined>(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    strings[i] = v === undefined || v === null ? undefined : JSON.stringify(v);
  }
  return utf8Data(strings);
}

// Int64 values are written as two 32-bit halves (low word first on little-endian machines), so a
// safe-integer Number becomes an int64 without a BigInt per value.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;
const TWO_32 = 4294967296;

/**
 * An int64 or timestamp column. `numbers` holds each value as a safe-integer Number (µs for
 * timestamps) or NaN where only the exact BigInt path can store it (beyond ±2^53, or invalid, in
 * which case toMicros/BigInt throws as before).
 */
function int64Column(column: Column, values: unknown[], numbers: Float64Array): Data {
  const length = values.length;
  const data = new BigInt64Array(length);
  const words = new Int32Array(data.buffer);
  const bitmap = allValid(length);
  let nullCount = 0;
  const timestamp = column.type === 'timestamp';
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v === undefined || v === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
      continue;
    }
    const n = numbers[i]!;
    if (n === n) {
      const hi = Math.floor(n / TWO_32);
      words[2 * i + LO] = n - hi * TWO_32; // in [0, 2^32): the Int32Array store keeps its bits
      words[2 * i + HI] = hi;
    } else {
      data[i] = timestamp ? toMicros(String(v)) : BigInt(v as number | bigint | string);
    }
  }
  return makeData({ type: arrowType(column) as Int64, length, ...validityOf(nullCount, bitmap), data });
}

/** Each value as a safe-integer Number (NaN if not one, or null): the int64 column's and the sort's input. */
function int64Numbers(column: Column, values: unknown[]): Float64Array {
  const numbers = new Float64Array(values.length);
  const timestamp = column.type === 'timestamp';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === undefined || v === null) numbers[i] = Number.NaN;
    else if (timestamp) numbers[i] = typeof v === 'string' ? toMicrosNumber(v) : Number.NaN;
    else numbers[i] = typeof v === 'number' && Number.isSafeInteger(v) ? v : Number.NaN;
  }
  return numbers;
}

function doubleColumn(values: unknown[]): Data<Float64> {
  const length = values.length;
  const data = new Float64Array(length);
  const bitmap = allValid(length);
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v === undefined || v === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
    } else {
      data[i] = typeof v === 'number' ? v : Number(v);
    }
  }
  return makeData({ type: new Float64(), length, ...validityOf(nullCount, bitmap), data });
}

function boolColumn(values: unknown[]): Data<Bool> {
  const length = values.length;
  const data = new Uint8Array((length + 7) >> 3);
  const bitmap = allValid(length);
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v === undefined || v === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
    } else if (v === true) {
      data[i >> 3]! |= 1 << (i & 7);
    }
  }
  return makeData({ type: new Bool(), length, ...validityOf(nullCount, bitmap), data });
}

/** The enum's dictionary (its values, in schema order) and a value → index lookup, built once per column. */
const enumCache = new WeakMap<Column, { index: Map<string, number>; dictionary: Data<Utf8> }>();
function enumOf(column: Column) {
  let cached = enumCache.get(column);
  if (!cached) {
    const values = column.values ?? [];
    cached = { index: new Map(values.map((v, i) => [v, i])), dictionary: utf8Data(values) };
    enumCache.set(column, cached);
  }
  return cached;
}

function enumColumn(column: Column, values: unknown[]): Data {
  const length = values.length;
  const { index, dictionary } = enumOf(column);
  const data = new Int32Array(length);
  const bitmap = allValid(length);
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v === undefined || v === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
      continue;
    }
    const id = index.get(typeof v === 'string' ? v : String(v));
    if (id === undefined) throw new Error(`column ${column.name}: "${String(v)}" is not one of its enum values`);
    data[i] = id;
  }
  return makeData({ type: arrowType(column) as Dictionary, length, ...validityOf(nullCount, bitmap), data, dictionary: makeVector(dictionary) });
}

function structColumn(column: Column, values: unknown[]): Data {
  const length = values.length;
  const fields = column.fields ?? [];
  const childValues = fields.map(() => new Array<unknown>(length));
  const bitmap = allValid(length);
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (v === undefined || v === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
      continue; // the children of a null struct stay holes, i.e. null
    }
    const o = v as Record<string, unknown>;
    for (let f = 0; f < fields.length; f++) childValues[f]![i] = o[fields[f]!.name];
  }
  const children = fields.map((f, k) => columnData(f, childValues[k]!));
  return makeData({ type: arrowType(column) as Struct, length, ...validityOf(nullCount, bitmap), children });
}

function listColumn(column: Column, values: unknown[]): Data {
  const length = values.length;
  const valueOffsets = new Int32Array(length + 1);
  const items: unknown[] = [];
  const bitmap = allValid(length);
  let nullCount = 0;
  for (let i = 0; i < length; i++) {
    const v = values[i];
    if (Array.isArray(v)) {
      for (let k = 0; k < v.length; k++) items.push(v[k]);
    } else if (v === undefined || v === null) {
      bitmap[i >> 3]! &= ~(1 << (i & 7));
      nullCount++;
    }
    valueOffsets[i + 1] = items.length;
  }
  const child = columnData(column.item!, items);
  return makeData({ type: arrowType(column) as List, length, ...validityOf(nullCount, bitmap), valueOffsets, child });
}

function columnData(column: Column, values: unknown[], numbers?: Float64Array): Data {
  switch (column.type) {
    case 'string':
      return utf8Data(values);
    case 'json':
      return jsonColumn(values);
    case 'enum':
      return enumColumn(column, values);
    case 'int64':
    case 'timestamp':
      return int64Column(column, values, numbers ?? int64Numbers(column, values));
    case 'double':
      return doubleColumn(values);
    case 'bool':
      return boolColumn(values);
    case 'struct':
      return structColumn(column, values);
    case 'list':
      return listColumn(column, values);
  }
}

export interface ArrowTableOptions {
  /**
   * Sort the rows ascending by these top-level columns (nulls last, ties in input order), e.g.
   * ['event', 'ts']. Strings and enums sort by their text, not by enum position, because Parquet's
   * min/max statistics compare the text: a row group then covers one run of values and a filter
   * on the first key can skip the others. Timestamps sort by their instant (µs), not their text,
   * whose offsets and fraction digits differ.
   */
  sortBy?: readonly string[];
}

/** Rows (validated, PII-protected events) → one Arrow table with exactly the log type's columns. */
export function toArrowTable(columns: Column[], rows: Record<string, unknown>[], options: ArrowTableOptions = {}): Table {
  const schema = arrowSchema(columns);
  // A timestamp key is parsed once, for the sort and for its column.
  const numbers = columns.map((): Float64Array | undefined => undefined);
  let order: Uint32Array | undefined;
  const sortBy = options.sortBy ?? [];
  if (sortBy.length > 0) {
    const ranks = sortBy.map((name) => {
      const k = columns.findIndex((c) => c.name === name);
      if (k < 0) throw new Error(`sort key ${name} is not a column`);
      const column = columns[k]!;
      const values = rows.map((r) => r[name]);
      if (column.type === 'timestamp' || column.type === 'int64') numbers[k] = int64Numbers(column, values);
      return sortRanks(column, values, numbers[k]);
    });
    const sorted = (order = packedOrder(ranks, rows.length) ?? comparedOrder(ranks, rows.length));
    numbers.forEach((n, k) => n && (numbers[k] = Float64Array.from(sorted, (i) => n[i]!)));
  }
  const values = columnValues(columns, rows, order);
  const children = columns.map((c, k) => columnData(c, values[k]!, numbers[k]));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
  return new Table(schema, [batch]);
}

/**
 * Each column's values, in table order (`order`, else row order), read with one for…in pass per
 * row (a keyed load per field the row has, instead of one lookup per column per row); fields no
 * column holds go to `extra`.
 */
function columnValues(columns: Column[], rows: Record<string, unknown>[], order: Uint32Array | undefined): unknown[][] {
  const length = rows.length;
  const at = new Map<string, number>();
  columns.forEach((c, k) => at.set(c.name, k));
  const extraAt = columns.findIndex((c) => c.name === EXTRA_COLUMN && c.type === 'json');
  // A row's own `extra` key is not an unknown field: the column is derived.
  if (extraAt >= 0) at.set(EXTRA_COLUMN, -1);
  const values = columns.map(() => new Array<unknown>(length));
  for (let i = 0; i < length; i++) {
    const row = rows[order ? order[i]! : i]!;
    let extra: Record<string, unknown> | undefined;
    for (const key in row) {
      const k = at.get(key);
      if (k === undefined) (extra ??= {})[key] = row[key];
      else if (k >= 0) values[k]![i] = row[key];
    }
    if (extraAt >= 0) values[extraAt]![i] = extra;
  }
  return values;
}

/**
 * The fast path: when every key is an integer (ranks, µs) and the keys' ranges times the row count
 * fit in 2^53, each row's keys and index pack into one exact Number, and a plain numeric sort of a
 * Float64Array (native, no comparator calls) sorts them: (event, ts) over an hour of 10,000 rows
 * needs ~7 × 3.6e9 × 1e4 ≈ 2^48. Returns undefined when they do not fit.
 */
function packedOrder(ranks: Float64Array[], length: number): Uint32Array | undefined {
  let span = length; // the index is the last "digit"
  const bases: { min: number; size: number }[] = [];
  for (const r of ranks) {
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < length; i++) {
      const v = r[i]!;
      if (v === Infinity) continue;
      if (!Number.isInteger(v)) return undefined;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    if (min === Infinity) min = max = 0;
    const size = max - min + 2; // + 1 for null, which sorts last
    span *= size;
    if (!(span <= Number.MAX_SAFE_INTEGER)) return undefined;
    bases.push({ min, size });
  }
  const packed = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    let key = 0;
    for (let k = 0; k < ranks.length; k++) {
      const v = ranks[k]![i]!;
      const { min, size } = bases[k]!;
      key = key * size + (v === Infinity ? size - 1 : v - min);
    }
    packed[i] = key * length + i;
  }
  packed.sort();
  const order = new Uint32Array(length);
  for (let i = 0; i < length; i++) order[i] = packed[i]! % length;
  return order;
}

function comparedOrder(ranks: Float64Array[], length: number): Uint32Array {
  const order = new Uint32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  return order.sort((a, b) => {
    for (let k = 0; k < ranks.length; k++) {
      const x = ranks[k]![a]!;
      const y = ranks[k]![b]!;
      if (x !== y) return x < y ? -1 : 1; // not x - y: Infinity - Infinity is NaN
    }
    return a - b;
  });
}

/** Per row, a number that orders the column's values (Infinity for null, so nulls sort last). */
function sortRanks(column: Column, values: unknown[], numbers: Float64Array | undefined): Float64Array {
  const ranks = new Float64Array(values.length);
  switch (column.type) {
    case 'timestamp':
    case 'int64':
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        const n = numbers![i]!;
        // Beyond ±2^53 the order is approximate (ties keep input order); no lake time is there.
        ranks[i] = absent(v) ? Infinity : n === n ? n : Number(column.type === 'timestamp' ? toMicros(String(v)) : BigInt(v as number));
      }
      return ranks;
    case 'double':
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        ranks[i] = absent(v) ? Infinity : Number(v);
      }
      return ranks;
    case 'bool':
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        ranks[i] = absent(v) ? Infinity : v === true ? 1 : 0;
      }
      return ranks;
    case 'string':
    case 'enum': {
      // Rank the distinct values once (few, for columns worth sorting by), then look each row up.
      const distinct = new Map<string, number>();
      for (const v of values) if (!absent(v)) distinct.set(String(v), 0);
      // Parquet orders UTF-8 bytes; UTF-16 code-unit order matches it except for astral characters
      // against U+E000–U+FFFF, which no sort key (event names, ids) contains.
      [...distinct.keys()].sort().forEach((v, rank) => distinct.set(v, rank));
      for (let i = 0; i < values.length; i++) {
        const v = values[i];
        ranks[i] = absent(v) ? Infinity : distinct.get(String(v))!;
      }
      return ranks;
    }
    default:
      throw new Error(`sort key ${column.name}: a ${column.type} column cannot be a sort key`);
  }
}
