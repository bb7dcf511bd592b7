import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach } from 'vitest';
import { lakeDir } from './local-config.js';

/* Test fixtures: a small local lake written with DuckDB, where the GCS emulator would mirror it. */

/** Writes the rows of a SELECT as one Parquet object of the local lake (the GCS emulator mirrors object names as files). */
export async function writeParquet(dataDir: string, objectName: string, select: string): Promise<void> {
  const path = join(lakeDir(dataDir), objectName);
  mkdirSync(dirname(path), { recursive: true });
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await conn.run(`copy (${select}) to '${path}' (format parquet)`);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

/** A SELECT of event rows: [event_id, event, ts, received_at] with timestamps as `2025-03-01 10:00:00+00`. */
export const events = (rows: Array<[string, string, string, string]>) =>
  `select * from (values ${rows.map(([id, event, ts, received]) => `('${id}', '${event}', timestamptz '${ts}', timestamptz '${received}')`).join(', ')}) as t(event_id, event, ts, received_at)`;

/** A fresh data folder for each test of the calling file, removed after it; read `.path` inside a test. */
export function tempDataDirs(name: string): { readonly path: string } {
  let path = '';
  beforeEach(() => {
    path = mkdtempSync(join(tmpdir(), `strata-${name}-test-`));
  });
  afterEach(() => {
    rmSync(path, { recursive: true, force: true });
  });
  return {
    get path() {
      return path;
    },
  };
}
