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
import type { Column } from './columns.js';
import { EXTRA_COLUMN } from './compose.js';
import { toMicros } from './timestamps.js';

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

function validity(values: unknown[]): { nullCount: number; nullBitmap?: Uint8Array } {
  const nullCount = values.filter(absent).length;
  if (nullCount === 0) return { nullCount };
  const nullBitmap = new Uint8Array(Math.ceil(values.length / 8));
  values.forEach((v, i) => {
    if (!absent(v)) nullBitmap[i >> 3]! |= 1 << (i & 7);
  });
  return { nullCount, nullBitmap };
}

const encoder = new TextEncoder();

// Strings are built from hand-made offsets: vectorFromArray on strings is several times slower.
function utf8Data(values: (string | undefined)[]): Data<Utf8> {
  const encoded = values.map((v) => (v === undefined ? undefined : encoder.encode(v)));
  const valueOffsets = new Int32Array(values.length + 1);
  let total = 0;
  encoded.forEach((bytes, i) => {
    total += bytes?.length ?? 0;
    valueOffsets[i + 1] = total;
  });
  const data = new Uint8Array(total);
  encoded.forEach((bytes, i) => bytes && data.set(bytes, valueOffsets[i]!));
  return makeData({ type: new Utf8(), length: values.length, ...validity(values), valueOffsets, data });
}

const asString = (v: unknown) => (absent(v) ? undefined : String(v));
const asJson = (v: unknown) => (absent(v) ? undefined : JSON.stringify(v));

function columnData(column: Column, values: unknown[]): Data {
  const length = values.length;
  const type = arrowType(column);
  switch (column.type) {
    case 'string':
      return utf8Data(values.map(asString));
    case 'json':
      return utf8Data(values.map(asJson));
    case 'enum': {
      const dictionary = column.values ?? [];
      const index = new Map(dictionary.map((v, i) => [v, i]));
      const data = Int32Array.from(values, (v) => (absent(v) ? 0 : (index.get(String(v)) ?? -1)));
      const bad = data.indexOf(-1);
      if (bad >= 0) throw new Error(`column ${column.name}: "${String(values[bad])}" is not one of its enum values`);
      return makeData({ type: type as Dictionary, length, ...validity(values), data, dictionary: makeVector(utf8Data(dictionary)) });
    }
    case 'int64':
      return makeData({ type: new Int64(), length, ...validity(values), data: BigInt64Array.from(values, (v) => (absent(v) ? 0n : BigInt(v as number))) });
    case 'timestamp':
      return makeData({ type: type as Timestamp, length, ...validity(values), data: BigInt64Array.from(values, (v) => (absent(v) ? 0n : toMicros(String(v)))) });
    case 'double':
      return makeData({ type: new Float64(), length, ...validity(values), data: Float64Array.from(values, (v) => (absent(v) ? 0 : Number(v))) });
    case 'bool': {
      const data = new Uint8Array(Math.ceil(length / 8));
      values.forEach((v, i) => {
        if (v === true) data[i >> 3]! |= 1 << (i & 7);
      });
      return makeData({ type: new Bool(), length, ...validity(values), data });
    }
    case 'struct': {
      const objects = values.map((v) => (absent(v) ? {} : (v as Record<string, unknown>)));
      const children = (column.fields ?? []).map((f) => columnData(f, objects.map((o) => o[f.name])));
      return makeData({ type: type as Struct, length, ...validity(values), children });
    }
    case 'list': {
      const arrays = values.map((v) => (Array.isArray(v) ? v : []));
      const valueOffsets = new Int32Array(length + 1);
      arrays.forEach((a, i) => (valueOffsets[i + 1] = valueOffsets[i]! + a.length));
      const child = columnData(column.item!, arrays.flat());
      return makeData({ type: type as List, length, ...validity(values), valueOffsets, child });
    }
  }
}

/** Fields of an event that no column holds: what the `extra` column keeps (null when none). */
export function extraFields(event: Record<string, unknown>, known: ReadonlySet<string>): Record<string, unknown> | undefined {
  let extra: Record<string, unknown> | undefined;
  for (const key in event) {
    if (!known.has(key)) (extra ??= {})[key] = event[key];
  }
  return extra;
}

/** Rows (validated, PII-protected events) → one Arrow table with exactly the log type's columns. */
export function toArrowTable(columns: Column[], rows: Record<string, unknown>[]): Table {
  const schema = arrowSchema(columns);
  const known = new Set(columns.map((c) => c.name));
  const children = columns.map((c) =>
    columnData(c, c.name === EXTRA_COLUMN && c.type === 'json' ? rows.map((r) => extraFields(r, known)) : rows.map((r) => r[c.name])),
  );
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
  return new Table(schema, [batch]);
}
