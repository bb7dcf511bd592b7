import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { signal, type Logger } from '@strata/runtime';
import { curatedObjectName, dayPrefix, LAKE_ROOT, logTypePrefix, PARQUET_CONTENT_TYPE, rollupApplies, type EventTimeWindow, type RollupDeclaration } from '@strata/schemas';
import { compactPartition, type CompactionResult } from './compact.js';
import { lagSeconds } from './lag.js';
import { planCompaction, type CompactionPolicy } from './compaction-policy.js';

import { forEachLimited } from './limited.js';
import { isNotFound, type LakeStore } from './lake-store.js';
import { definitionsOf, groupByDay, groupByPartition, type ListedDay, type ListedPartition } from './partitions.js';
import { splitDayFiles, type DayFiles, type DayRollup, type RollupEngine } from './rollup.js';
import type { CurationSession, DayWrite, SummaryStore } from './summary-store.js';
import { curationWindow, windowOffsets, type CurationWindow } from './window.js';

/** Which days a run looks at: the lateness window (every scheduled run), or all of history (backfills). */
export type RunScope = 'window' | 'all';

export interface CurationSummary {
  scope: RunScope;
  /** The days looked at, for scope "window". */
  window: CurationWindow | undefined;
  /** Hours (partitions) and days found in the listing. */
  partitionsListed: number;
  daysListed: number;
  /** Days with new, changed or compactable hours: the run's work. */
  daysChanged: number;
  daysCurated: number;
  /** Days that could not be curated; each keeps its old figures and fingerprints and is retried next run. */
  daysFailed: number;
  /** Days another instance was curating (its lock was held). */
  daysLocked: number;
  /** Days found already curated once their lock was taken (another instance did them meanwhile). */
  daysUnchanged: number;
  /** Days not started because the run's time budget was spent; the next run starts with them. */
  daysLeft: number;
  stoppedAtBudget: boolean;
  /** Hours compacted, input files replaced, and compactions that failed (the hour is curated anyway). */
  compactions: number;
  filesCompacted: number;
  compactionsFailed: number;
  /** Rollup rows written (upserted) for the curated days. */
  rollupRows: number;
  /** Rows dropped as duplicates of an event_id while curating. */
  duplicatesRemoved: number;
  /** Rollup rows deleted because they are older than the rollups' retention. */
  rollupRowsExpired: number;
  durationMs: number;
  /** How long the oldest change the run saw but left uncurated has waited, in seconds; 0 when none (lag.ts). */
  lagSeconds: number;
  /** The first failures, for whoever reads the answer (all are logged). */
  failures: Array<{ day: string; reason: string }>;
}

export interface CurationSettings {
  /** The event-time window ingest and the writer enforce: it bounds which days can still change. */
  eventWindow: EventTimeWindow;
  /** Days before the window that a run also looks at. */
  marginDays: number;
  /** No new day is started after this much of a run (keep it below Scheduler's attempt deadline). */
  runBudgetMs: number;
  /** Rollup rows older than this many days are deleted; 0 keeps them forever. */
  rollupRetentionDays: number;
  compaction: CompactionPolicy;
  /** Parallel downloads per day. */
  downloadConcurrency: number;
}

export interface PassDeps {
  lake: LakeStore;
  session: CurationSession;
  engine: RollupEngine;
  rollups: readonly RollupDeclaration[];
  settings: CurationSettings;
  /** A folder this pass owns; each day's files are downloaded below it and removed after it. */
  workDir: string;
  logger: Logger;
  newId: () => string;
  now: () => number;
  /** Each log type's rollup definitions, part of every fingerprint (definitionsOf). */
  definitions: (logType: string) => string;
}

const MAX_REPORTED_FAILURES = 20;

export type DayOutcome = { ok: true; rows: number; duplicates: number; compactions: CompactionResult[]; compactionsFailed: number } | { ok: false; reason: string; compactions: CompactionResult[]; compactionsFailed: number };

/** One day of one log type, the unit of curation and of its lock. */
export type DayKey = Pick<ListedDay, 'logType' | 'dt'>;

/**
 * A PostgreSQL error that is this day's problem, not the database's: a value it refuses (class 22,
 * data exception: a date out of range), a constraint (class 23), or a statement timeout on a large
 * day (57014). Anything else (the connection, the server) would fail every later day the same
 * way, so it ends the run. https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const isDayFailure = (err: unknown): boolean => {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('22') || code.startsWith('23') || code === '57014');
};


/** The log types present in the lake, from one delimiter listing of events/. */
export async function lakeLogTypes(lake: LakeStore): Promise<string[]> {
  const prefixes = await lake.listPrefixes(`${LAKE_ROOT}/`);
  return prefixes.flatMap((p) => /^events\/log_type=([a-z][a-z0-9_]*)\/$/.exec(p)?.[1] ?? []);
}

/**
 * The listing of the days a run looks at: one paginated list per log type, bounded by the window,
 * the log types listed at once (each list is a round trip of its own on GCS).
 */
async function listDays(lake: LakeStore, window: CurationWindow | undefined, definitions: (logType: string) => string): Promise<Map<string, ListedPartition>> {
  const listings = await Promise.all(
    (await lakeLogTypes(lake)).map((logType) => {
      if (!window) return lake.list(logTypePrefix(logType));
      const { prefix, startOffset, endOffset } = windowOffsets(logType, window);
      return lake.list(prefix, { startOffset, endOffset });
    }),
  );
  return groupByPartition(listings.flat(), definitions);
}

/** The day as the lake and the store have it now (after waiting for its lock, or a compaction). */
async function refreshDay(day: DayKey, deps: PassDeps): Promise<ListedDay | undefined> {
  const listed = groupByPartition(await deps.lake.list(dayPrefix(day.logType, day.dt)), deps.definitions);
  const stored = new Map([...(await deps.session.storedPartitions(day.dt, day.dt))].filter(([, p]) => p.partition.logType === day.logType));
  return groupByDay(listed, stored)[0];
}

/** Compacts the day's closed hours that need it; returns the day as listed afterwards. */
async function compactDay(day: ListedDay, dir: string, deps: PassDeps): Promise<{ day: ListedDay; results: CompactionResult[]; failed: number }> {
  const results: CompactionResult[] = [];
  let failed = 0;
  for (const hour of day.hours) {
    const plan = planCompaction(hour.partition, hour.objects, deps.now(), deps.settings.compaction);
    if (!plan) continue;
    try {
      results.push(await compactPartition(plan, { lake: deps.lake, connection: deps.engine.connection, workDir: dir, newId: deps.newId, logger: deps.logger, targetFileBytes: deps.settings.compaction.targetFileBytes }));
    } catch (err) {
      // The hour keeps its files: curation reads them as they are, and the next run tries again.
      failed += 1;
      deps.logger.error({ partition: `${day.logType}/${day.dt}/${hour.partition.hr}`, err }, 'compaction failed; the hour is curated uncompacted');
    }
  }
  if (results.length === 0 && failed === 0) return { day, results, failed };
  // Relist the day: a compacted hour holds new objects, and a failed one may have lost some inputs
  // after its output was written.
  return { day: (await refreshDay(day, deps)) ?? day, results, failed };
}

/** The day's files, downloaded; an hour written by one merge is known to hold each event once. */
async function downloadDay(day: ListedDay, dir: string, deps: PassDeps): Promise<DayFiles> {
  const objects = day.hours.flatMap((h) => h.objects);
  // Local names by index: no character of an object name reaches the file system.
  const files = objects.map((_, i) => join(dir, `${i}.parquet`));
  await forEachLimited(objects, deps.settings.downloadConcurrency, (object, i) => deps.lake.download(object.name, files[i]!));
  return splitDayFiles(objects.map((o) => o.name), files);
}

/**
 * One day of one log type: compact its closed hours, download its files, compute every rollup that
 * reads the log type with DuckDB, write the curated Parquet, then the rows and fingerprints in one
 * transaction. Reading the lake or computing fails only this day; a PostgreSQL failure other than
 * a data exception throws and ends the run, since every later day would fail the same way.
 */
async function curateDay(listed: ListedDay, dir: string, deps: PassDeps): Promise<DayOutcome> {
  await mkdir(dir, { recursive: true });
  let compacted: Awaited<ReturnType<typeof compactDay>> = { day: listed, results: [], failed: 0 };
  const failed = (reason: string): DayOutcome => ({ ok: false, reason, compactions: compacted.results, compactionsFailed: compacted.failed });
  try {
    compacted = await compactDay(listed, join(dir, 'compaction'), deps);
    let day = compacted.day;
    let files: DayFiles;
    try {
      files = await downloadDay(day, dir, deps);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Readers of a compacting lake list again when a listed object has gone (compact.ts).
      day = (await refreshDay(day, deps)) ?? day;
      files = await downloadDay(day, dir, deps);
    }
    const result = await deps.engine.computeDay(day.logType, files, dir);
    if (!result.ok) return failed(result.reason);

    const stored = await storeDay(
      {
        logType: day.logType,
        dt: day.dt,
        hours: day.hours.map((h) => ({ partition: h.partition, fingerprint: h.fingerprint, objectCount: h.objects.length })),
        vanishedHours: day.vanishedHours,
        rollups: result.rollups,
      },
      deps,
    );
    if (!stored.ok) return failed(stored.reason);
    return { ok: true, rows: stored.rows, duplicates: result.rows - result.events, compactions: compacted.results, compactionsFailed: compacted.failed };
  } catch (err) {
    if ((err as { fromDatabase?: boolean }).fromDatabase) throw err;
    return failed((err as Error).message);
  } finally {
    // Cloud Run's disk is memory: free it before the next day.
    await rm(dir, { recursive: true, force: true });
  }
}

/** A day's recomputed figures: per rollup its rows and, for the curated zone, their Parquet file (none: the day has no rows left). */
type DayFigures = Omit<DayWrite, 'rollups'> & { rollups: Array<Pick<DayRollup, 'rollup' | 'rows'> & { parquetPath?: string }> };

/**
 * Writes a day's figures: rows and fingerprints in one transaction, then the curated files. A day
 * some of whose hours have expired from the lake keeps its daily figures and curated files as they
 * were: recomputed from what is left, they would shrink. A PostgreSQL failure other than a data
 * exception throws (marked fromDatabase) and ends the run.
 */
async function storeDay(figures: DayFigures, deps: PassDeps): Promise<{ ok: true; rows: number } | { ok: false; reason: string }> {
  const { logType, dt } = figures;
  const complete = figures.vanishedHours.length === 0;
  const rollups = figures.rollups.filter((r) => complete || r.rollup.grain === 'hour');
  let rows: number;
  try {
    rows = await deps.session.writeDay({ ...figures, rollups });
  } catch (err) {
    if (isDayFailure(err)) return { ok: false, reason: `PostgreSQL refused its rollups: ${(err as Error).message}` };
    throw Object.assign(err as Error, { fromDatabase: true });
  }
  // After the commit, so the curated zone never runs ahead of PostgreSQL; if an upload fails the
  // day is marked for recomputation, so the next run writes both again.
  if (complete) {
    try {
      for (const r of rollups) {
        const name = curatedObjectName(r.rollup.name, dt, logType);
        if (r.parquetPath) await deps.lake.replace(name, r.parquetPath, PARQUET_CONTENT_TYPE);
        else await removeCurated(deps.lake, name);
      }
    } catch (err) {
      await deps.session.forgetDay(logType, dt);
      return { ok: false, reason: `its curated files could not be written: ${(err as Error).message}` };
    }
  }
  return { ok: true, rows };
}

/** Deletes a curated object, whichever generation is there (derived data: nothing to protect). */
async function removeCurated(lake: LakeStore, name: string): Promise<void> {
  for (const object of (await lake.list(name)).filter((o) => o.name === name)) await lake.remove(object.name, object.generation);
}

/**
 * A day whose files have all gone on purpose (an erasure left it empty, and forgot its hours):
 * every rollup row of it is deleted, and its curated files. Hours that expired before keep their
 * figures, as a run keeps them.
 */
async function clearDay({ logType, dt }: DayKey, deps: PassDeps): Promise<DayOutcome> {
  const stored = [...(await deps.session.storedPartitions(dt, dt)).values()].filter((p) => p.partition.logType === logType && p.objectCount > 0);
  const rollups = deps.rollups.filter((r) => rollupApplies(r, logType)).map((rollup) => ({ rollup, rows: [] }));
  const result = await storeDay({ logType, dt, hours: [], vanishedHours: stored.map((p) => p.partition.hr), rollups }, deps);
  return result.ok ? { ...result, duplicates: 0, compactions: [], compactionsFailed: 0 } : { ...result, compactions: [], compactionsFailed: 0 };
}

/**
 * Recomputes one day now, whatever its fingerprints and the lateness window say: an erasure
 * rewrote its files (erase.ts). The caller holds the day's lock. A day with no files left is
 * cleared (clearDay).
 */
export async function recurateDay(key: DayKey, dir: string, deps: PassDeps): Promise<DayOutcome> {
  const day = await refreshDay(key, deps);
  return day ? curateDay(day, dir, deps) : clearDay(key, deps);
}

/** Least recently curated first (never curated before anything), so a run cut short by its budget never starves a day. */
function byCurationAge(a: ListedDay, b: ListedDay): number {
  if (a.curatedAt !== b.curatedAt) {
    if (a.curatedAt === undefined) return -1;
    if (b.curatedAt === undefined) return 1;
    return a.curatedAt < b.curatedAt ? -1 : 1;
  }
  return `${a.logType}/${a.dt}` < `${b.logType}/${b.dt}` ? -1 : 1;
}

/**
 * One incremental pass: list the days that can still change, curate those whose hours changed
 * (or need compacting) since the stored fingerprints, oldest curation first, until the budget is
 * spent. A day whose files have all gone is not listed and keeps its rollups.
 */
export async function curatePass(deps: PassDeps, scope: RunScope = 'window'): Promise<CurationSummary> {
  const started = deps.now();
  const { settings } = deps;
  const window = scope === 'window' ? curationWindow(started, settings.eventWindow, settings.marginDays) : undefined;
  const listed = await listDays(deps.lake, window, deps.definitions);
  const stored = await deps.session.storedPartitions(window?.fromDt ?? '0001-01-01');
  const days = groupByDay(listed, stored);
  const compactable = (day: ListedDay) => day.hours.some((h) => planCompaction(h.partition, h.objects, started, settings.compaction) !== undefined);
  const work = days.filter((d) => d.changedHours.length > 0 || compactable(d)).sort(byCurationAge);

  const summary: CurationSummary = {
    scope,
    window,
    partitionsListed: listed.size,
    daysListed: days.length,
    daysChanged: work.length,
    daysCurated: 0,
    daysFailed: 0,
    daysLocked: 0,
    daysUnchanged: 0,
    daysLeft: 0,
    stoppedAtBudget: false,
    compactions: 0,
    filesCompacted: 0,
    compactionsFailed: 0,
    rollupRows: 0,
    duplicatesRemoved: 0,
    rollupRowsExpired: 0,
    durationMs: 0,
    lagSeconds: 0,
    failures: [],
  };
  /** Days with changes this run leaves uncurated (budget spent, failed): what its lag is measured on. */
  const left: ListedDay[] = [];
  for (const [index, day] of work.entries()) {
    if (deps.now() - started >= settings.runBudgetMs) {
      summary.stoppedAtBudget = true;
      summary.daysLeft = work.length - index;
      left.push(...work.slice(index));
      deps.logger.warn({ daysLeft: summary.daysLeft, budgetMs: settings.runBudgetMs }, 'run budget spent; the next run continues');
      break;
    }
    const key = `${day.logType}/${day.dt}`;
    if (!(await deps.session.tryLockDay(day.logType, day.dt))) {
      summary.daysLocked += 1;
      continue;
    }
    let outcome: DayOutcome | undefined;
    try {
      // Another instance may have curated the day while this run listed and waited: look again,
      // so an older listing never overwrites newer figures.
      let fresh: ListedDay | undefined;
      try {
        fresh = await refreshDay(day, deps);
      } catch (err) {
        if (!isDayFailure(err)) throw err;
        outcome = { ok: false, reason: `PostgreSQL refused the day: ${(err as Error).message}`, compactions: [], compactionsFailed: 0 };
      }
      if (fresh && (fresh.changedHours.length > 0 || compactable(fresh))) outcome = await curateDay(fresh, join(deps.workDir, `d${index}`), deps);
    } finally {
      await deps.session.unlockDay(day.logType, day.dt);
    }
    if (!outcome) {
      summary.daysUnchanged += 1;
      continue;
    }
    summary.compactions += outcome.compactions.length;
    summary.filesCompacted += outcome.compactions.reduce((n, c) => n + c.inputs, 0);
    summary.compactionsFailed += outcome.compactionsFailed;
    if (outcome.compactionsFailed > 0 && summary.failures.length < MAX_REPORTED_FAILURES) {
      summary.failures.push({ day: key, reason: `${outcome.compactionsFailed} of its hours could not be compacted (see the logs); it was curated from its files as they are` });
    }
    if (outcome.ok) {
      summary.daysCurated += 1;
      summary.rollupRows += outcome.rows;
      summary.duplicatesRemoved += outcome.duplicates;
      deps.logger.debug({ day: key, changedHours: day.changedHours, rollupRows: outcome.rows, duplicates: outcome.duplicates }, 'day curated');
    } else {
      summary.daysFailed += 1;
      if (summary.failures.length < MAX_REPORTED_FAILURES) summary.failures.push({ day: key, reason: outcome.reason });
      left.push(day);
      signal(deps.logger, 'curator.day_failed', { day: key, reason: outcome.reason });
    }
  }
  if (settings.rollupRetentionDays > 0) {
    summary.rollupRowsExpired = await deps.session.pruneRollups(deps.rollups, settings.rollupRetentionDays);
  }
  summary.durationMs = deps.now() - started;
  summary.lagSeconds = lagSeconds(left, stored, deps.now());
  return summary;
}

export interface Curator {
  run(scope?: RunScope): Promise<CurationSummary>;
}

export interface CuratorDeps {
  lake: LakeStore;
  store: SummaryStore;
  /** A DuckDB engine for one pass; what does not fit its memory limit spills to `spillDir` (inside the pass's folder). */
  openEngine: (spillDir: string) => Promise<RollupEngine>;
  rollups: readonly RollupDeclaration[];
  settings: CurationSettings;
  /** Parent of each run's private download folder (CURATOR_WORK_DIR). */
  workDir: string;
  logger: Logger;
  newId: () => string;
  now?: () => number;
}

/** One PostgreSQL session, DuckDB and a private work folder for one pass (a run, an erasure), released after it. */
export async function withPass<T>(deps: CuratorDeps, work: (pass: PassDeps) => Promise<T>): Promise<T> {
  return deps.store.withSession(async (session) => {
    await mkdir(deps.workDir, { recursive: true });
    const runDir = await mkdtemp(join(deps.workDir, 'run-'));
    const engine = await deps.openEngine(join(runDir, 'duckdb-spill'));
    try {
      const definitions = (logType: string) => definitionsOf(deps.rollups, logType);
      return await work({ ...deps, session, engine, workDir: runDir, now: deps.now ?? Date.now, definitions });
    } finally {
      engine.close();
      await rm(runDir, { recursive: true, force: true });
    }
  });
}

/** A run = one pass (withPass) over the days that can still change. */
export function createCurator(deps: CuratorDeps): Curator {
  return {
    async run(scope = 'window') {
      const summary = await withPass(deps, (pass) => curatePass(pass, scope));
      // The whole summary: the declared fields are the contract, the rest (the window…) is context.
      signal(deps.logger, 'curator.run_finished', { ...summary, failures: summary.failures.length });
      return summary;
    },
  };
}
