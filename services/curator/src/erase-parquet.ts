import { listValue, type DuckDBConnection } from '@duckdb/node-api';
import { ENVELOPE } from '@strata/schemas';
import { columnsDiffer, copySorted } from './compaction-merge.js';
import { columnsOf } from './lake-sql.js';
import { parquetSource, queryRows } from './lake-sql.js';

/**
 * The DuckDB half of an erasure, on local files only: which files hold a user's rows, and a copy of
 * one file without them. `user_id` is an envelope field stored as sent (no log type declares x-pii
 * on it; erase.integration.test.ts fails if one does), so rows match on the id itself.
 */

const { userId } = ENVELOPE;

/** Rows of one local file: all of them, and the user's. */
export interface UserRows {
  rows: number;
  matched: number;
}

/** The rewritten file does not hold exactly the input's rows minus the user's; it must not replace it. */
export class ErasureVerificationFailed extends Error {
  constructor(readonly problems: string[]) {
    super(`erased copy does not match its input: ${problems.join('; ')}`);
    this.name = 'ErasureVerificationFailed';
  }
}

/**
 * The user's rows in each of `files` (index-aligned). One query over all of them that reads only
 * the user_id column (Parquet is columnar: no other column's pages are decoded), and row groups
 * whose min/max statistics exclude the id are skipped; totals come from the footers. A file
 * without the column (none of the bundled log types lacks it) holds no rows of anyone's.
 */
export async function countUserRows(connection: DuckDBConnection, files: string[], user: string): Promise<UserRows[]> {
  if (files.length === 0) return [];
  const values = { files: listValue(files) };
  const totals = await queryRows<{ file_name: string; num_rows: bigint }>(connection, 'select file_name, num_rows from parquet_file_metadata($files)', values);
  const rowsOf = new Map(totals.map((t) => [t.file_name, Number(t.num_rows)]));
  const counts = files.map((f) => ({ rows: rowsOf.get(f) ?? 0, matched: 0 }));
  if (!(await columnsOf(connection, files)).some((c) => c.name === userId)) return counts;
  const matched = await queryRows<{ file_index: bigint; n: bigint }>(
    connection,
    `select file_index, count(*) as n from ${parquetSource('files')} where ${userId} = $user group by file_index`,
    { ...values, user },
  );
  for (const m of matched) counts[Number(m.file_index)]!.matched = Number(m.n);
  return counts;
}

/**
 * Writes `input`'s rows except the user's to `out`, sorted and encoded as compaction writes
 * (copySorted), then reads `out` back: it must hold exactly input's rows minus the user's, none of
 * the user's, and the same columns. The caller replaces the lake object only after this returns.
 * Rows without a user_id are kept (`is distinct from`: NULL is nobody's).
 */
export async function writeWithoutUser(connection: DuckDBConnection, input: string, out: string, user: string, expected: UserRows): Promise<void> {
  await copySorted(connection, `select * from ${parquetSource('input')} where ${userId} is distinct from $user`, { input: listValue([input]), user }, out);
  const problems: string[] = [];
  const columns = await columnsDiffer(connection, [input], [out]);
  if (columns) problems.push(columns);
  const [written] = await countUserRows(connection, [out], user);
  if (written!.matched > 0) problems.push(`${written!.matched} of the user's rows written`);
  if (written!.rows !== expected.rows - expected.matched) problems.push(`${written!.rows} rows written for ${expected.rows} read less ${expected.matched} of the user's`);
  if (problems.length > 0) throw new ErasureVerificationFailed(problems);
}
