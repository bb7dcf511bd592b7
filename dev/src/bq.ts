/**
 * `npm run bq -- "<sql>"`: the same question as `npm run query`, asked of the deployed BigQuery
 * datasets (infra/components/bigquery.ts) instead of the local lake, with the same names:
 *
 * - `<log_type>` and `<log_type>_deduped` are tables and views of the raw dataset, which is the
 *   query's default dataset, so bare names resolve there as they do locally;
 * - `curated_<rollup>` (the local view of the curator's files) is the curated dataset's `<rollup>`
 *   table, and `curated_<rollup>_live` its `<rollup>_live` view: those bare names, outside strings,
 *   comments and backquotes, are rewritten to the fully qualified table, and the rewrite is printed.
 *   Dataset-qualified names (`strata_curated.daily_event_counts`) work as they are.
 *
 * The raw tables require a filter on dt (or hr), through the dedup views too: a query without one
 * fails with BigQuery's own message rather than reading the whole lake. `--dry-run` prints the
 * bytes a query would scan without running it.
 *
 * Project: GOOGLE_CLOUD_PROJECT, else Application Default Credentials' (`gcloud auth
 * application-default login`). Datasets: STRATA_BQ_RAW_DATASET, STRATA_BQ_CURATED_DATASET, with
 * infra's defaults; STRATA_BQ_LOCATION when the datasets' location must be named (BigQuery infers it
 * from the tables otherwise); STRATA_BQ_MAX_ROWS rows are printed at most (1000).
 */
import { BigQuery, type Query } from '@google-cloud/bigquery';
import Table from 'cli-table3';
import { ROLLUPS } from '@strata/schemas';
import { DEFAULT_DATASETS, curatedTableName, liveViewName, tableRef } from '@strata/infra/bigquery-sql';

export class BqUsageError extends Error {}

export interface BqSettings {
  /** Undefined: the client's (Application Default Credentials'). */
  project?: string;
  rawDataset: string;
  curatedDataset: string;
  location?: string;
  maxRows: number;
}

const DATASET = /^[A-Za-z0-9_]{1,1024}$/;

/** Reads the environment once, naming any bad variable. */
export function bqSettingsFromEnv(env: Record<string, string | undefined>): BqSettings {
  const dataset = (name: string, fallback: string) => {
    const value = env[name] || fallback;
    if (!DATASET.test(value)) throw new BqUsageError(`${name}="${value}" is not a BigQuery dataset id (letters, digits, underscores)`);
    return value;
  };
  const maxRows = Number(env.STRATA_BQ_MAX_ROWS ?? 1000);
  if (!Number.isInteger(maxRows) || maxRows < 1) throw new BqUsageError(`STRATA_BQ_MAX_ROWS="${env.STRATA_BQ_MAX_ROWS}" must be a positive integer`);
  return {
    ...(env.GOOGLE_CLOUD_PROJECT ? { project: env.GOOGLE_CLOUD_PROJECT } : {}),
    rawDataset: dataset('STRATA_BQ_RAW_DATASET', DEFAULT_DATASETS.raw),
    curatedDataset: dataset('STRATA_BQ_CURATED_DATASET', DEFAULT_DATASETS.curated),
    ...(env.STRATA_BQ_LOCATION ? { location: env.STRATA_BQ_LOCATION } : {}),
    maxRows,
  };
}

export interface BqArgs {
  sql: string;
  dryRun: boolean;
}

export const USAGE = 'usage: npm run bq -- [--dry-run] "select event, count(*) from user_action_deduped where dt = current_date() group by event"';

export function parseBqArgs(argv: readonly string[]): BqArgs {
  const flags = argv.filter((a) => /^--[a-z]/.test(a));
  const unknown = flags.filter((f) => f !== '--dry-run');
  if (unknown.length > 0) throw new BqUsageError(`unknown option ${unknown.join(', ')}\n${USAGE}`);
  const sql = argv.filter((a) => !flags.includes(a)).join(' ').trim();
  if (!sql) throw new BqUsageError(USAGE);
  return { sql, dryRun: flags.includes('--dry-run') };
}

// Strings (', ", triple-quoted, with backslash escapes), backquoted names and comments are kept
// as they are; only the code between them is rewritten.
const OPAQUE = /'''[\s\S]*?'''|"""[\s\S]*?"""|'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*"|`[^`]*`|--[^\n]*|#[^\n]*|\/\*[\s\S]*?\*\//g;

/** `curated_<rollup>[_live]` → the curated dataset's table (view), fully qualified; the rewrites made. */
export function qualifyCuratedNames(sql: string, project: string, curatedDataset: string, rollups: readonly string[] = ROLLUPS.map((r) => r.name)): { sql: string; rewrites: string[] } {
  if (rollups.length === 0) return { sql, rewrites: [] };
  const name = new RegExp(`(?<![\\w.$])curated_(${rollups.join('|')})(_live)?(?![\\w$])`, 'gi');
  const rewrites = new Set<string>();
  const rewrite = (code: string) =>
    code.replace(name, (bare: string, rollup: string, live?: string) => {
      const r = rollup.toLowerCase();
      const qualified = tableRef(project, curatedDataset, live ? liveViewName(r) : curatedTableName(r));
      rewrites.add(`${bare} → ${qualified}`);
      return qualified;
    });
  let out = '';
  let last = 0;
  for (const match of sql.matchAll(OPAQUE)) {
    out += rewrite(sql.slice(last, match.index)) + match[0];
    last = match.index + match[0].length;
  }
  out += rewrite(sql.slice(last));
  return { sql: out, rewrites: [...rewrites] };
}

/** The jobs.insert query request: standard SQL, the raw dataset as default dataset. */
export function buildQueryRequest(sql: string, project: string, settings: BqSettings, dryRun = false): Query {
  return {
    query: sql,
    useLegacySql: false,
    defaultDataset: { projectId: project, datasetId: settings.rawDataset },
    ...(settings.location ? { location: settings.location } : {}),
    ...(dryRun ? { dryRun: true } : {}),
    labels: { tool: 'strata-bq' },
  };
}

/** What the command needs of the BigQuery client (the real one, or a fake in tests). */
export interface BqClient {
  getProjectId(): Promise<string>;
  createQueryJob(request: Query): Promise<
    [{ metadata?: { statistics?: { totalBytesProcessed?: string | number } }; getQueryResults(options: { maxResults: number }): Promise<[Array<Record<string, unknown>>, unknown?, { schema?: { fields?: Array<{ name?: string | null }> } }?]> }, ...unknown[]]
  >;
}

export type BqResult =
  | { kind: 'rows'; columns: string[]; rows: unknown[][]; rewrites: string[] }
  | { kind: 'dry-run'; totalBytesProcessed: number; rewrites: string[] };

export async function runBq(client: BqClient, args: BqArgs, settings: BqSettings): Promise<BqResult> {
  const project = settings.project ?? (await client.getProjectId());
  const { sql, rewrites } = qualifyCuratedNames(args.sql, project, settings.curatedDataset);
  const [job] = await client.createQueryJob(buildQueryRequest(sql, project, settings, args.dryRun));
  if (args.dryRun) return { kind: 'dry-run', totalBytesProcessed: Number(job.metadata?.statistics?.totalBytesProcessed ?? 0), rewrites };
  const [rows, , response] = await job.getQueryResults({ maxResults: settings.maxRows });
  const columns = response?.schema?.fields?.map((f) => f.name ?? '') ?? Object.keys(rows[0] ?? {});
  return { kind: 'rows', columns, rows: rows.map((row) => columns.map((c) => row[c])), rewrites };
}

/** As `npm run query` prints: NULL, JSON for records and arrays, the text of dates, timestamps and big numbers. */
export function cell(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value !== 'object') return String(value);
  // BigQueryDate, BigQueryTimestamp, BigQueryDatetime, BigQueryTime and Big wrap their text.
  if ('value' in value && typeof (value as { value: unknown }).value === 'string') return (value as { value: string }).value;
  if (Buffer.isBuffer(value)) return value.toString('base64');
  if (typeof (value as { toFixed?: unknown }).toFixed === 'function') return String(value);
  return JSON.stringify(value, (_k, v: unknown) => (v && typeof v === 'object' && 'value' in v && typeof (v as { value: unknown }).value === 'string' ? (v as { value: string }).value : v));
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  let args: BqArgs;
  let settings: BqSettings;
  try {
    args = parseBqArgs(process.argv.slice(2));
    settings = bqSettingsFromEnv(process.env);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  try {
    const client = new BigQuery(settings.project ? { projectId: settings.project } : {});
    const result = await runBq(client as unknown as BqClient, args, settings);
    for (const r of result.rewrites) console.error(r);
    if (result.kind === 'dry-run') {
      console.log(`would process ${result.totalBytesProcessed} bytes (${(result.totalBytesProcessed / 2 ** 30).toFixed(3)} GiB)`);
    } else {
      const table = new Table({ head: result.columns });
      for (const row of result.rows) table.push(row.map(cell));
      console.log(table.toString());
      console.log(`${result.rows.length} row${result.rows.length === 1 ? '' : 's'}${result.rows.length === settings.maxRows ? ` (STRATA_BQ_MAX_ROWS=${settings.maxRows} shown at most)` : ''}`);
    }
  } catch (err) {
    console.error(`query failed: ${(err as Error).message}`);
    process.exit(1);
  }
}
