import { hasLogTypeKey, measureType, rollupKeys, type Match, type Measure, type RollupDeclaration } from './rollups.js';

/**
 * One rollup declaration → the SELECT that computes it, in DuckDB's dialect (what the curator runs,
 * one log type and one day of files at a time) or BigQuery's (for analysts, live over the dedup
 * views). Both read a source that already holds one row per event_id; both give the rollup's
 * columns in rollupKeys order, then its measures in declaration order, sorted by the keys.
 *
 * Declarations are checked by checkRollups first: names are identifiers and match values are
 * plain words, so nothing here needs quoting.
 */
export type Dialect = 'duckdb' | 'bigquery';

interface Flavour {
  /** The event's UTC date and hour, from `ts` (the lake partitions by the same rule). */
  dt: string;
  hr: string;
  text(column: string): string;
  count(where: string | undefined): string;
  aggregate(fn: 'count_distinct' | 'sum' | 'avg', column: string, where: string | undefined): string;
  ratio(numerator: string, denominator: string): string;
}

const DAY_US = 86_400_000_000;
/** The microseconds since midnight UTC of `ts`, whatever its sign. */
const MICROS_OF_DAY = `(((epoch_us(ts) % ${DAY_US}) + ${DAY_US}) % ${DAY_US})`;

const FLAVOURS: Record<Dialect, Flavour> = {
  duckdb: {
    // From the microseconds since the epoch, not a cast: casting a TIMESTAMPTZ uses the session's
    // time zone, and timezone('UTC', ts) goes through ICU, which doubled a day's rollup time (P4).
    // The remainder is made non-negative so days before 1970 floor instead of truncating.
    dt: `(date '1970-01-01' + cast((epoch_us(ts) - ${MICROS_OF_DAY}) // ${DAY_US} as integer))`,
    hr: `cast(${MICROS_OF_DAY} // 3600000000 as smallint)`,
    text: (column) => `coalesce(cast(${column} as varchar), '')`,
    count: (where) => (where ? `count(*) filter (where ${where})` : 'count(*)'),
    aggregate: (fn, column, where) => {
      const call = fn === 'count_distinct' ? `count(distinct ${column})` : `${fn}(${column})`;
      return where ? `${call} filter (where ${where})` : call;
    },
    ratio: (numerator, denominator) => `cast(${numerator} as double) / nullif(${denominator}, 0)`,
  },
  bigquery: {
    dt: 'DATE(ts)',
    hr: 'EXTRACT(HOUR FROM ts)',
    text: (column) => `COALESCE(CAST(${column} AS STRING), '')`,
    count: (where) => (where ? `COUNTIF(${where})` : 'COUNT(*)'),
    aggregate: (fn, column, where) => {
      const value = where ? `IF(${where}, ${column}, NULL)` : column;
      return fn === 'count_distinct' ? `COUNT(DISTINCT ${value})` : `${fn.toUpperCase()}(${value})`;
    },
    ratio: (numerator, denominator) => `SAFE_DIVIDE(${numerator}, ${denominator})`,
  },
};

function condition(match: Match | undefined): string | undefined {
  const parts = Object.entries(match ?? {}).map(([column, value]) =>
    typeof value === 'string' ? `${column} = '${value}'` : `${column} IN (${value.map((v) => `'${v}'`).join(', ')})`,
  );
  return parts.length ? parts.join(' AND ') : undefined;
}

function measureSql(measure: Exclude<Measure, { kind: 'ratio' }>, flavour: Flavour): string {
  const where = condition(measure.where);
  if (measure.kind === 'count') return flavour.count(where);
  return flavour.aggregate(measure.kind === 'distinct' ? 'count_distinct' : measure.kind, measure.column, where);
}

export interface RollupQuery {
  rollup: RollupDeclaration;
  logType: string;
  dialect: Dialect;
  /** What the SELECT reads: a table, view or CTE name, already quoted for the dialect if it must be. */
  source: string;
}

export function rollupSql({ rollup, logType, dialect, source }: RollupQuery): string {
  const flavour = FLAVOURS[dialect];
  const keys: Array<{ name: string; sql: string; grouped: boolean }> = [];
  // A literal, not grouped: each query reads one log type.
  if (hasLogTypeKey(rollup)) keys.push({ name: 'log_type', sql: `'${logType}'`, grouped: false });
  keys.push({ name: 'dt', sql: flavour.dt, grouped: true });
  if (rollup.grain === 'hour') keys.push({ name: 'hr', sql: flavour.hr, grouped: true });
  for (const d of rollup.dimensions) keys.push({ name: d.name, sql: flavour.text(d.column), grouped: true });

  const plain = new Map<string, string>();
  for (const m of rollup.measures) if (m.kind !== 'ratio') plain.set(m.name, measureSql(m, flavour));
  // A ratio repeats its parts' expressions: neither dialect lets a SELECT item use another's alias.
  const measures = rollup.measures.map((m) => ({ name: m.name, sql: m.kind === 'ratio' ? flavour.ratio(plain.get(m.numerator)!, plain.get(m.denominator)!) : plain.get(m.name)! }));

  const columns = [...keys, ...measures].map((c) => `  ${c.sql} AS ${c.name}`);
  const grouped = keys.flatMap((k, i) => (k.grouped ? [String(i + 1)] : []));
  const where = condition(rollup.where);
  return [`SELECT\n${columns.join(',\n')}`, `FROM ${source}`, ...(where ? [`WHERE ${where}`] : []), `GROUP BY ${grouped.join(', ')}`, `ORDER BY ${grouped.join(', ')}`].join('\n');
}

/** A rollup's PostgreSQL columns, keys first, with their types (what the generated migrations create). */
export function rollupColumns(rollup: RollupDeclaration): Array<{ name: string; type: string; key: boolean }> {
  const keyType = (name: string) => (name === 'dt' ? 'date' : name === 'hr' ? 'smallint' : 'text');
  return [
    ...rollupKeys(rollup).map((name) => ({ name, type: keyType(name), key: true })),
    ...rollup.measures.map((m) => ({ name: m.name, type: measureType(m) === 'bigint' ? 'bigint' : 'double precision', key: false })),
  ];
}

/** The BigQuery schema of a rollup's curated Parquet files (curated/<rollup>/dt=…/): dt comes from the path. */
export function bigQueryRollupSchema(rollup: RollupDeclaration): Array<{ name: string; type: 'STRING' | 'INT64' | 'FLOAT64'; mode: 'REQUIRED' | 'NULLABLE'; description?: string }> {
  const descriptions = new Map(rollup.measures.map((m) => [m.name, m.description]));
  return rollupColumns(rollup)
    .filter((c) => c.name !== 'dt')
    .map((c) => ({
      name: c.name,
      type: c.type === 'text' ? 'STRING' : c.type === 'double precision' ? 'FLOAT64' : 'INT64',
      mode: c.key || c.type === 'bigint' ? 'REQUIRED' : 'NULLABLE',
      ...(descriptions.has(c.name) ? { description: descriptions.get(c.name) } : {}),
    }));
}
