import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { LAKE_ROOT } from '@strata/schemas';
import { lakeDir } from '../src/local-config.js';
import { logTypeSource, openLake } from '../src/query.js';

/**
 * When each event of the local lake was received and when it became queryable, for the soak's
 * freshness figures. An event is queryable once the file holding it exists: the GCS emulator
 * writes an object to a temp file and renames it into `<dataDir>/gcs/<bucket>/<name>` when the
 * upload completes, so the file's mtime is the object's creation time (to the millisecond, where
 * the filesystem keeps it). An event delivered twice counts once: its first receipt, its first file.
 */
export interface LandedEvents {
  /** Epoch ms, ascending. */
  receivedAt: Float64Array;
  /** Epoch ms, index-aligned with receivedAt. */
  landedAt: Float64Array;
}

export async function landedEvents(dataDir: string): Promise<LandedEvents> {
  const lake = await openLake(dataDir);
  try {
    const { conn, logTypes } = lake;
    if (logTypes.length === 0) return { receivedAt: new Float64Array(), landedAt: new Float64Array() };
    await conn.run('create table files (filename varchar, created_ms double)');
    const appender = await conn.createAppender('files');
    try {
      for (const [path, mtimeMs] of parquetFiles(join(lakeDir(dataDir), LAKE_ROOT))) {
        appender.appendVarchar(path);
        appender.appendDouble(mtimeMs);
        appender.endRow();
      }
    } finally {
      appender.closeSync();
    }
    const rows = logTypes.map((t) => `select event_id, received_at, filename from ${logTypeSource(dataDir, t, { filename: true })}`).join(' union all ');
    const result = await conn.runAndReadAll(`
      select epoch_ms(min(received_at))::double as received, min(files.created_ms) as landed
      from (${rows}) as r join files using (filename)
      group by event_id order by received`);
    const [received = [], landed = []] = result.getColumnsJS() as number[][];
    return { receivedAt: Float64Array.from(received), landedAt: Float64Array.from(landed) };
  } finally {
    lake.close();
  }
}

/** Every Parquet file below `root` with its mtime, paths spelled as DuckDB's glob spells them. */
function* parquetFiles(root: string): Generator<[string, number]> {
  for (const relative of readdirSync(root, { recursive: true, encoding: 'utf8' })) {
    if (!relative.endsWith('.parquet')) continue;
    const path = join(root, relative);
    yield [path, statSync(path).mtimeMs];
  }
}
