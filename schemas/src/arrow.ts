import {
  Bool,
  Field,
  Float64,
  Int64,
  Schema,
  Table,
  TimeUnit,
  Timestamp,
  Utf8,
  RecordBatch,
  Struct,
  makeData,
  type Data,
  type DataType,
} from 'apache-arrow';
import type { Column, ColumnType } from './columns.js';
import { toMicros } from './timestamps.js';


/** Lake column type → Arrow type. Timestamps are µs in UTC, the precision BigQuery keeps. */
export function arrowType(type: ColumnType): DataType {
  switch (type) {
    case 'string':
    case 'json':
      return new Utf8();
    case 'int64':
      return new Int64();
    case 'double':
      return new Float64();
    case 'bool':
      return new Bool();
    case 'timestamp':
      return new Timestamp(TimeUnit.MICROSECOND, 'UTC');
  }
}

export function arrowSchema(columns: Column[]): Schema {
  return new Schema(columns.map((c) => new Field(c.name, arrowType(c.type), c.nullable)));
}

function validityBitmap(present: boolean[]): Uint8Array | undefined {
  if (present.every(Boolean)) return undefined;
  const bitmap = new Uint8Array(Math.ceil(present.length / 8));
  present.forEach((p, i) => {
    if (p) bitmap[i >> 3]! |= 1 << (i & 7);
  });
  return bitmap;
}

const encoder = new TextEncoder();

// Strings are built from hand-made offsets: vectorFromArray on strings is several times slower.
function utf8Data(values: (string | undefined)[]): Data {
  const encoded = values.map((v) => (v === undefined ? undefined : encoder.encode(v)));
  const offsets = new Int32Array(values.length + 1);
  let total = 0;
  encoded.forEach((bytes, i) => {
    total += bytes?.length ?? 0;
    offsets[i + 1] = total;
  });
  const data = new Uint8Array(total);
  encoded.forEach((bytes, i) => bytes && data.set(bytes, offsets[i]!));
  const present = values.map((v) => v !== undefined);
  const nullBitmap = validityBitmap(present);
  const nullCount = present.filter((p) => !p).length;
  return makeData({ type: new Utf8(), length: values.length, nullCount, nullBitmap, valueOffsets: offsets, data });
}

function columnData(column: Column, rows: Record<string, unknown>[]): Data {
  const raw = rows.map((row) => row[column.name]);
  const present = raw.map((v) => v !== undefined && v !== null);
  const nullBitmap = validityBitmap(present);
  const nullCount = present.filter((p) => !p).length;
  const length = rows.length;
  switch (column.type) {
    case 'string':
      return utf8Data(raw.map((v) => (v === undefined || v === null ? undefined : String(v))));
    case 'json':
      return utf8Data(raw.map((v) => (v === undefined || v === null ? undefined : JSON.stringify(v))));
    case 'int64': {
      const data = BigInt64Array.from(raw, (v) => (v === undefined || v === null ? 0n : BigInt(v as number)));
      return makeData({ type: new Int64(), length, nullCount, nullBitmap, data });
    }
    case 'timestamp': {
      const data = BigInt64Array.from(raw, (v) => (v === undefined || v === null ? 0n : toMicros(String(v))));
      return makeData({ type: new Timestamp(TimeUnit.MICROSECOND, 'UTC'), length, nullCount, nullBitmap, data });
    }
    case 'double': {
      const data = Float64Array.from(raw, (v) => (v === undefined || v === null ? 0 : Number(v)));
      return makeData({ type: new Float64(), length, nullCount, nullBitmap, data });
    }
    case 'bool': {
      const data = new Uint8Array(Math.ceil(length / 8));
      raw.forEach((v, i) => {
        if (v === true) data[i >> 3]! |= 1 << (i & 7);
      });
      return makeData({ type: new Bool(), length, nullCount, nullBitmap, data });
    }
  }
}

/** Rows (validated events) → one Arrow table with exactly the log type's columns. */
export function toArrowTable(columns: Column[], rows: Record<string, unknown>[]): Table {
  const schema = arrowSchema(columns);
  const children = columns.map((c) => columnData(c, rows));
  const batch = new RecordBatch(schema, makeData({ type: new Struct(schema.fields), length: rows.length, nullCount: 0, children }));
  return new Table(schema, [batch]);
}
