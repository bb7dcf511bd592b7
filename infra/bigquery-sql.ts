import { bigQueryRollupSchema, bigQuerySchema, rollupApplies, rollupSql, type BigQueryField, type Column, type RollupDeclaration } from '@strata/schemas';

/**
 * What the BigQuery side of the lake is called and the SQL its views hold: pure, shared by the
 * Analytics component (infra/components/bigquery.ts) and `npm run bq` (dev/src/bq.ts), so the
 * names analysts type are declared once.
 *
 * Raw dataset: one external table per log type (`<log_type>`) and its dedup view
 * (`<log_type>_deduped`), the names `npm run query` gives its DuckDB views. Curated dataset: one
 * external table per rollup over the curator's Parquet copy (`<rollup>`) and one view computing it
 * live from the dedup views (`<rollup>_live`); analysts and Looker Studio see only this one.
 */
export const DEFAULT_DATASETS = { raw: 'strata_raw', curated: 'strata_curated' } as const;

export const dedupViewName = (logType: string) => `${logType}_deduped`;
export const curatedTableName = (rollup: string) => rollup;
export const liveViewName = (rollup: string) => `${rollup}_live`;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,1023}$/;
// Project ids: 6–30 of [a-z0-9-]; domain-scoped ones (example.com:proj) carry a colon.
const PROJECT = /^[a-z0-9.:-]{1,128}$/;

/** `project.dataset.table`, backquoted as BigQuery needs when a project id holds a hyphen. */
export function tableRef(project: string, dataset: string, table: string): string {
  if (!PROJECT.test(project)) throw new Error(`"${project}" is not a Google Cloud project id`);
  for (const name of [dataset, table]) if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a BigQuery dataset or table name`);
  return `\`${project}.${dataset}.${table}\``;
}

/**
 * BigQuery writes multi-regions in capitals (EU, US) and regions in lower case; GCS reports a
 * bucket's location in capitals (EUROPE-WEST1). Datasets, the connection and the bucket must agree.
 */
export function bigQueryLocation(location: string): string {
  const lower = location.toLowerCase();
  return lower === 'eu' || lower === 'us' ? lower.toUpperCase() : lower;
}

export type ExternalField = Omit<BigQueryField, 'type' | 'fields'> & { type: BigQueryField['type'] | 'DATE'; fields?: ExternalField[] };

/**
 * REQUIRED → NULLABLE at every depth (REPEATED stays). The writer marks non-nullable columns
 * REQUIRED in its Parquet files, but the curator's compacted files and its curated files are
 * written by DuckDB, which marks every column OPTIONAL; an external table whose schema says
 * REQUIRED may refuse a file whose column is OPTIONAL, and one table reads both kinds of file.
 * Nothing is lost: ingest and the writer enforce required fields before anything reaches the lake.
 */
export function relaxed<F extends { mode: string; fields?: F[] }>(fields: readonly F[]): F[] {
  return fields.map((f) => ({ ...f, mode: f.mode === 'REQUIRED' ? 'NULLABLE' : f.mode, ...(f.fields ? { fields: relaxed(f.fields) } : {}) }));
}

/** A log type's external table schema: the generated BigQuery schema (schemas/src/bigquery.ts), relaxed. dt/hr come from the path. */
export function eventTableSchema(columns: Column[]): ExternalField[] {
  return relaxed(bigQuerySchema(columns));
}

/**
 * A rollup's curated table schema. The curated Parquet files carry `dt` themselves (the curator
 * copies rollupSql's output, whose keys start with dt: services/curator/src/rollup.ts), so the
 * table reads it from the file as a DATE instead of from the `dt=` folder: BigQuery refuses a
 * hive partition key that is also a column of the files.
 */
export function rollupTableSchema(rollup: RollupDeclaration): ExternalField[] {
  const rest = bigQueryRollupSchema(rollup);
  const keyCount = rest.findIndex((f) => f.name !== 'log_type');
  const withDt: ExternalField[] = [...rest.slice(0, keyCount), { name: 'dt', type: 'DATE', mode: 'REQUIRED', description: 'UTC day (event time).' }, ...rest.slice(keyCount)];
  return relaxed(withDt);
}

/**
 * One row per event_id, the first received_at winning, as every rollup counts. The window is
 * partitioned by dt and hr as well as event_id so that BigQuery can push a filter on dt/hr below it
 * (a filter on a window's PARTITION BY columns commutes with the window): queries through the view
 * still prune partitions and satisfy the table's require_partition_filter. This loses nothing:
 * duplicates of one event share its ts, hence its hour (the lake partitions by ts).
 */
export function dedupViewSql(table: string): string {
  return [
    'SELECT * EXCEPT (_rn)',
    'FROM (',
    '  SELECT *, ROW_NUMBER() OVER (PARTITION BY dt, hr, event_id ORDER BY received_at) AS _rn',
    `  FROM ${table}`,
    ')',
    'WHERE _rn = 1',
  ].join('\n');
}

/**
 * A rollup computed live over the dedup views, one SELECT per log type it reads, UNION ALL'd.
 *
 * rollupSql (schemas/src/rollup-sql.ts) derives dt and hr from ts, which is right for the curator
 * (it reads files without their paths) but would hide the partition columns here: a filter on the
 * view's dt would become a filter on DATE(ts), which prunes nothing, and the raw tables require a
 * partition filter, so every query of the view would fail. Over the lake DATE(ts) = dt and
 * EXTRACT(HOUR FROM ts) = hr for every row (the writer partitions by ts in UTC, compaction keeps
 * hours), so the view groups by the partition columns themselves. Its ORDER BY is dropped: a view
 * has no order, and UNION ALL branches may not carry one.
 */
export function liveRollupSql(rollup: RollupDeclaration, logTypes: readonly string[], source: (logType: string) => string): string | undefined {
  const applicable = logTypes.filter((t) => rollupApplies(rollup, t));
  if (applicable.length === 0) return undefined;
  const branches = applicable.map((logType) => {
    const sql = rollupSql({ rollup, logType, dialect: 'bigquery', source: source(logType) });
    const lines = sql.split('\n');
    const order = lines.at(-1)!;
    if (!order.startsWith('ORDER BY ')) throw new Error(`rollupSql for ${rollup.name} no longer ends in ORDER BY; update liveRollupSql`);
    const body = lines.slice(0, -1).join('\n');
    const partitioned = body.replace('  DATE(ts) AS dt', '  dt AS dt').replace('  EXTRACT(HOUR FROM ts) AS hr', '  hr AS hr');
    if (!partitioned.includes('  dt AS dt') || (rollup.grain === 'hour' && !partitioned.includes('  hr AS hr'))) {
      throw new Error(`rollupSql for ${rollup.name} no longer derives dt/hr as DATE(ts)/EXTRACT(HOUR FROM ts); update liveRollupSql`);
    }
    return partitioned;
  });
  return branches.join('\nUNION ALL\n');
}
