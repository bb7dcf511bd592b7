import type { Column } from './columns.js';

/**
 * The rollups: small precomputed summaries of the lake, declared once here. The curator computes
 * them with DuckDB (rollup-sql.ts renders each for DuckDB and for BigQuery), writes them to
 * PostgreSQL for product code (tables generated from these declarations: `npm run
 * rollups:migration -w @strata/curator`) and to the lake's curated zone as Parquet, for BigQuery
 * and Looker Studio (schemas from bigQueryRollupSchema).
 *
 * Every figure is computed over deduplicated events (one row per event_id, the first received
 * wins), so a redelivery or a compaction swap never counts twice. A daily rollup is computed over
 * the whole day's events, never summed from hours: distinct counts do not add up.
 *
 * Adding a measure: add it here, run the migration generator, commit both. Changing a rollup's
 * grain or dimensions changes its primary key: declare a new rollup (a new table) instead.
 */
export type Grain = 'hour' | 'day';

/** Rows of a rollup count only events matching every entry: column = value, or column in values. */
export type Match = Readonly<Record<string, string | readonly string[]>>;

export type Measure =
  /** Events (deduplicated rows). */
  | { name: string; kind: 'count'; where?: Match; description: string }
  /** Distinct non-null values of a column. */
  | { name: string; kind: 'distinct'; column: string; where?: Match; description: string }
  | { name: string; kind: 'sum' | 'avg'; column: string; where?: Match; description: string }
  /** numerator ÷ denominator, two other measures of the same rollup; null when the denominator is 0. */
  | { name: string; kind: 'ratio'; numerator: string; denominator: string; description: string };

export interface Dimension {
  /** The PostgreSQL and curated column name. */
  name: string;
  /** A top-level string column of the log type; an absent value groups under ''. */
  column: string;
}

export interface RollupDeclaration {
  /** The PostgreSQL table and the curated zone's folder (curated/<name>/dt=…/). */
  name: string;
  description: string;
  /** '*' for every log type, or the log types it reads; with more than one, the table has a log_type column. */
  logTypes: '*' | readonly string[];
  grain: Grain;
  /** Beyond the grain's own keys (dt, and hr for hourly rollups). */
  dimensions: readonly Dimension[];
  measures: readonly Measure[];
  /** Only events matching this are rolled up. */
  where?: Match;
}

const eventsAndUsers: Measure[] = [
  { name: 'events', kind: 'count', description: 'Events (distinct event_id).' },
  { name: 'users', kind: 'distinct', column: 'user_id', description: 'Exact distinct user_id over the whole grain.' },
];

export const ROLLUPS: readonly RollupDeclaration[] = [
  {
    name: 'hourly_event_counts',
    description: 'Events and distinct users per log type, hour (UTC, event time) and event name.',
    logTypes: '*',
    grain: 'hour',
    dimensions: [{ name: 'event', column: 'event' }],
    measures: eventsAndUsers,
  },
  {
    name: 'daily_event_counts',
    description: 'Events and distinct users per log type, day and event name; users is distinct over the day.',
    logTypes: '*',
    grain: 'day',
    dimensions: [{ name: 'event', column: 'event' }],
    measures: eventsAndUsers,
  },
  {
    name: 'daily_active_users',
    description: 'Distinct users and events per log type and day, whatever the event.',
    logTypes: '*',
    grain: 'day',
    dimensions: [],
    measures: [
      { name: 'users', kind: 'distinct', column: 'user_id', description: 'Exact distinct user_id over the day.' },
      { name: 'events', kind: 'count', description: 'Events (distinct event_id).' },
    ],
  },
  {
    name: 'daily_order_revenue',
    description: 'Orders created and their revenue per currency and day.',
    logTypes: ['order_event'],
    grain: 'day',
    dimensions: [{ name: 'currency', column: 'currency' }],
    where: { event: 'order_created' },
    measures: [
      { name: 'orders', kind: 'distinct', column: 'order_id', description: 'Distinct orders created.' },
      { name: 'revenue', kind: 'sum', column: 'amount', description: 'Sum of amount over the orders created, in the currency.' },
    ],
  },
  {
    name: 'daily_order_funnel',
    description: 'Distinct orders reaching each step of the funnel per day: created → paid → shipped → delivered.',
    logTypes: ['order_event'],
    grain: 'day',
    dimensions: [],
    measures: [
      { name: 'created', kind: 'distinct', column: 'order_id', where: { event: 'order_created' }, description: 'Orders created that day.' },
      { name: 'paid', kind: 'distinct', column: 'order_id', where: { event: 'order_paid' }, description: 'Orders paid that day.' },
      { name: 'shipped', kind: 'distinct', column: 'order_id', where: { event: 'order_shipped' }, description: 'Orders shipped that day.' },
      { name: 'delivered', kind: 'distinct', column: 'order_id', where: { event: 'order_delivered' }, description: 'Orders delivered that day.' },
    ],
  },
  {
    name: 'daily_impression_stats',
    description: 'Impressions, clicks, click-through rate and mean visible time per publisher, placement and day.',
    logTypes: ['impression'],
    grain: 'day',
    dimensions: [
      { name: 'publisher_id', column: 'publisher_id' },
      { name: 'placement', column: 'placement' },
    ],
    measures: [
      { name: 'impressions', kind: 'count', where: { event: 'impression' }, description: 'Impressions counted.' },
      { name: 'clicks', kind: 'count', where: { event: 'click' }, description: 'Clicks.' },
      { name: 'ctr', kind: 'ratio', numerator: 'clicks', denominator: 'impressions', description: 'clicks ÷ impressions; null without impressions.' },
      { name: 'avg_visible_ms', kind: 'avg', column: 'visible_ms', where: { event: 'impression' }, description: 'Mean visible_ms of the impressions.' },
    ],
  },
  {
    name: 'daily_package_transitions',
    description: 'Package status transitions (from → to) per day.',
    logTypes: ['seller_action'],
    grain: 'day',
    dimensions: [
      { name: 'from_status', column: 'from_status' },
      { name: 'to_status', column: 'to_status' },
    ],
    where: { event: 'package_status_updated' },
    measures: [
      { name: 'transitions', kind: 'count', description: 'Status updates from → to.' },
      { name: 'packages', kind: 'distinct', column: 'package_id', description: 'Distinct packages that made the transition.' },
    ],
  },
];

/** Whether a rollup's rows carry log_type: when it reads more than one, each log type's rows are its own. */
export function hasLogTypeKey(rollup: RollupDeclaration): boolean {
  return rollup.logTypes === '*' || rollup.logTypes.length > 1;
}

/** The key columns of a rollup's rows, in primary-key order. */
export function rollupKeys(rollup: RollupDeclaration): string[] {
  return [...(hasLogTypeKey(rollup) ? ['log_type'] : []), 'dt', ...(rollup.grain === 'hour' ? ['hr'] : []), ...rollup.dimensions.map((d) => d.name)];
}

/** Whether a rollup reads a log type. */
export function rollupApplies(rollup: RollupDeclaration, logType: string): boolean {
  return rollup.logTypes === '*' || rollup.logTypes.includes(logType);
}

/** The value type of a measure's column: counts are integers, everything else a double. */
export function measureType(measure: Measure): 'bigint' | 'double' {
  return measure.kind === 'count' || measure.kind === 'distinct' ? 'bigint' : 'double';
}

const NAME = /^[a-z][a-z0-9_]{0,62}$/;
const RESERVED = new Set(['log_type', 'dt', 'hr', 'updated_at']);
// Match values are inlined into SQL for two dialects: plain words only, so none needs escaping.
const VALUE = /^[A-Za-z0-9_.:-]{1,128}$/;
// Names are written unquoted into PostgreSQL, DuckDB and BigQuery SQL, so none may be a reserved word
// of any of them (`user`, `to`, `order`, `end`…): the union of PostgreSQL's reserved keywords
// (https://www.postgresql.org/docs/current/sql-keywords-appendix.html), BigQuery's
// (https://cloud.google.com/bigquery/docs/reference/standard-sql/lexical#reserved_keywords) and
// DuckDB's (`select keyword_name from duckdb_keywords() where keyword_category = 'reserved'`).
const KEYWORDS = new Set(
  (
    'all analyse analyze and any array as asc assert_rows_modified asymmetric at authorization between binary both by case cast ' +
    'check collate collation column concurrently constraint contains create cross cube current current_catalog current_date ' +
    'current_role current_schema current_time current_timestamp current_user default deferrable define desc describe distinct do ' +
    'else end enum escape except exclude exists extract false fetch following for foreign freeze from full grant group grouping ' +
    'groups hash having if ignore ilike in initially inner interval intersect into is isnull join lambda lateral leading left like ' +
    'limit localtime localtimestamp lookup merge natural new no not notnull null nulls of offset on only or order outer over ' +
    'overlaps partition pivot pivot_longer pivot_wider placing preceding primary proto qualify range recursive references respect ' +
    'returning right rollup rows select session_user set show similar some struct summarize symmetric system_user table tablesample ' +
    'then to trailing treat true unbounded union unique unnest unpivot user using variadic verbose when where window with within'
  ).split(' '),
);

/**
 * Every way a declaration can be wrong, as messages naming the rollup and the field: bad names,
 * clashes, measures referring to nothing, and columns the log types do not have (checked against
 * each log type's lake columns). Empty when all is well; the curator refuses to start otherwise.
 */
export function checkRollups(rollups: readonly RollupDeclaration[], registry: { logTypes(): string[]; columns(logType: string): Column[] }): string[] {
  const known = new Set(registry.logTypes());
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const rollup of rollups) {
    const at = `rollup ${rollup.name}`;
    if (!NAME.test(rollup.name)) problems.push(`${at}: the name must match ${NAME}`);
    if (seen.has(rollup.name)) problems.push(`${at}: declared twice`);
    seen.add(rollup.name);
    if (KEYWORDS.has(rollup.name)) problems.push(`${at}: the name is an SQL reserved word`);
    const names = [...rollupKeys(rollup), ...rollup.measures.map((m) => m.name)];
    for (const name of names) if (!NAME.test(name)) problems.push(`${at}: column name "${name}" must match ${NAME}`);
    for (const name of names) if (KEYWORDS.has(name)) problems.push(`${at}: column name "${name}" is an SQL reserved word`);
    for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) problems.push(`${at}: column "${name}" is declared twice`);
    for (const d of rollup.dimensions) if (RESERVED.has(d.name)) problems.push(`${at}: dimension "${d.name}" is a name the grain uses`);
    for (const m of rollup.measures) if (RESERVED.has(m.name)) problems.push(`${at}: measure "${m.name}" is a name the grain uses`);
    if (rollup.measures.length === 0) problems.push(`${at}: declares no measures`);
    const measures = new Map(rollup.measures.map((m) => [m.name, m]));
    for (const m of rollup.measures) {
      if (m.kind !== 'ratio') continue;
      for (const ref of [m.numerator, m.denominator]) {
        const target = measures.get(ref);
        if (!target) problems.push(`${at}: ratio ${m.name} refers to "${ref}", which is not one of its measures`);
        else if (target.kind === 'ratio') problems.push(`${at}: ratio ${m.name} refers to another ratio (${ref})`);
      }
    }
    const matches = [rollup.where, ...rollup.measures.map((m) => (m.kind === 'ratio' ? undefined : m.where))];
    for (const value of matches.flatMap((m) => Object.values(m ?? {}).flat())) {
      if (!VALUE.test(value)) problems.push(`${at}: match value "${value}" must match ${VALUE}`);
    }
    // `column IN ()` is a syntax error in every dialect, and would match nothing anyway.
    for (const [column, value] of matches.flatMap((m) => Object.entries(m ?? {}))) {
      if (Array.isArray(value) && value.length === 0) problems.push(`${at}: the match on "${column}" lists no values`);
    }
    if (rollup.logTypes !== '*' && rollup.logTypes.length === 0) problems.push(`${at}: reads no log types (use '*' for all)`);
    for (const logType of rollup.logTypes === '*' ? known : rollup.logTypes) {
      if (!known.has(logType)) {
        problems.push(`${at}: unknown log type "${logType}"`);
        continue;
      }
      const byName = new Map(registry.columns(logType).map((c) => [c.name, c]));
      const need = (column: string, where: string, types: readonly Column['type'][]) => {
        const c = byName.get(column);
        if (KEYWORDS.has(column)) problems.push(`${at}: ${where} reads "${column}", an SQL reserved word the generated SQL cannot name unquoted`);
        else if (!c) problems.push(`${at}: ${where} reads "${column}", which ${logType} does not have`);
        else if (!types.includes(c.type)) problems.push(`${at}: ${where} reads "${column}", a ${c.type} column of ${logType}; it must be ${types.join(' or ')}`);
      };
      const text = ['string', 'enum'] as const;
      for (const d of rollup.dimensions) need(d.column, `dimension ${d.name}`, text);
      for (const [column] of Object.entries(rollup.where ?? {})) need(column, 'its where', text);
      for (const m of rollup.measures) {
        if (m.kind === 'ratio') continue;
        for (const [column] of Object.entries(m.where ?? {})) need(column, `measure ${m.name}'s where`, text);
        if (m.kind === 'distinct') need(m.column, `measure ${m.name}`, [...text, 'int64']);
        if (m.kind === 'sum' || m.kind === 'avg') need(m.column, `measure ${m.name}`, ['int64', 'double']);
      }
    }
  }
  return problems;
}
