import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@strata/runtime';
import { LAKE_ROOT, partitionKey } from '@strata/schemas';
import type { LakeReader } from './lake-reader.js';
import { diffPartitions, groupByPartition, type ListedPartition } from './partitions.js';
import type { EventCount, Rollup } from './rollup.js';
import type { CurationSession, SummaryStore } from './summary-store.js';

export interface CurationSummary {
  /** Partitions found in the lake listing. */
  partitionsScanned: number;
  /** Partitions recomputed or deleted by this run. */
  partitionsChanged: number;
  /** Changed partitions that could not be read this run; they keep their old fingerprint and are retried next run. */
  partitionsFailed: number;
  /** Rollup rows written (upserted) for the recomputed partitions. */
  rollupRows: number;
  durationMs: number;
}

export interface PassDeps {
  lake: LakeReader;
  session: CurationSession;
  rollup: Rollup;
  /** A folder this pass owns; each partition's files are downloaded below it and removed after it. */
  workDir: string;
  logger: Logger;
  /** Parallel downloads per partition. */
  downloadConcurrency?: number;
  now?: () => number;
}

type Recomputed = { ok: true; rows: number } | { ok: false; reason: string };

/**
 * Runs `work` over `items` with at most `limit` in flight. After a failure no new item starts, and
 * the first error is thrown only once the items in flight have settled, so nothing is still
 * writing into a folder the caller is about to remove.
 */
async function forEachLimited<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lane = async () => {
    while (next < items.length && !failure) {
      const index = next++;
      try {
        await work(items[index]!, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw failure.error;
}

/**
 * Downloads and rolls up one partition, then replaces its rows. Reading the lake (a missing or
 * corrupt object) fails only this partition; a PostgreSQL failure throws and ends the run, since
 * every later partition would fail the same way. Either way nothing half-written is left: the
 * rows and the fingerprint change together in one transaction or not at all.
 */
async function recompute(listed: ListedPartition, dir: string, deps: PassDeps): Promise<Recomputed> {
  let counts: EventCount[];
  try {
    await mkdir(dir, { recursive: true });
    // Local names by index: no character of an object name reaches the file system.
    const files = listed.objects.map((_, i) => join(dir, `${i}.parquet`));
    await forEachLimited(listed.objects, deps.downloadConcurrency ?? 4, (object, i) => deps.lake.download(object.name, files[i]!));
    const result = await deps.rollup.countEvents(files);
    if (!result.ok) return result;
    counts = result.counts;
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  } finally {
    // Cloud Run's disk is memory: free it before the next partition.
    await rm(dir, { recursive: true, force: true });
  }
  let rows: number;
  try {
    rows = await deps.session.replacePartition(
      { partition: listed.partition, fingerprint: listed.fingerprint, objectCount: listed.objects.length },
      counts,
    );
  } catch (err) {
    // A value PostgreSQL refuses (class 22, data exception: a date out of range, say) is this
    // partition's problem; it must not stop every later partition. Anything else (the connection,
    // the server) would fail them all, so it ends the run.
    if (isDataException(err)) return { ok: false, reason: `PostgreSQL refused its rollup: ${(err as Error).message}` };
    throw err;
  }
  const duplicates = counts.reduce((n, c) => n + c.rows - c.events, 0);
  deps.logger.debug({ partition: partitionKey(listed.partition), objects: listed.objects.length, rollupRows: rows, duplicates }, 'partition curated');
  return { ok: true, rows };
}

// https://www.postgresql.org/docs/current/errcodes-appendix.html
const isDataException = (err: unknown): boolean => typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('22');

/**
 * One incremental pass: list the lake, recompute what changed since the stored fingerprints, drop
 * what vanished. The listing covers all of events/ so late events in old partitions are caught;
 * it costs one list call per 1,000 objects, which compaction keeps small.
 */
export async function curatePass(deps: PassDeps): Promise<CurationSummary> {
  const now = deps.now ?? Date.now;
  const started = now();
  const listed = groupByPartition(await deps.lake.list(`${LAKE_ROOT}/`));
  const changes = diffPartitions(listed, await deps.session.storedPartitions());

  let rollupRows = 0;
  let failed = 0;
  for (const [index, partition] of changes.changed.entries()) {
    const result = await recompute(partition, join(deps.workDir, `p${index}`), deps);
    if (result.ok) {
      rollupRows += result.rows;
    } else {
      failed += 1;
      deps.logger.error({ partition: partitionKey(partition.partition), reason: result.reason }, 'partition not curated; retried next run');
    }
  }
  for (const partition of changes.vanished) {
    await deps.session.removePartition(partition);
    deps.logger.debug({ partition: partitionKey(partition) }, 'partition gone from the lake; rollup deleted');
  }

  return {
    partitionsScanned: listed.size,
    partitionsChanged: changes.changed.length - failed + changes.vanished.length,
    partitionsFailed: failed,
    rollupRows,
    durationMs: now() - started,
  };
}

export type RunOutcome = { ran: true; summary: CurationSummary } | { ran: false; reason: string };

export interface Curator {
  run(): Promise<RunOutcome>;
}

export interface CuratorDeps {
  lake: LakeReader;
  store: SummaryStore;
  openRollup: () => Promise<Rollup>;
  /** Parent of each run's private download folder (CURATOR_WORK_DIR). */
  workDir: string;
  logger: Logger;
}

/** A run = take the lock, open DuckDB and a private work folder, make one pass, release everything. */
export function createCurator(deps: CuratorDeps): Curator {
  return {
    async run() {
      const outcome = await deps.store.withRunLock(async (session) => {
        await mkdir(deps.workDir, { recursive: true });
        const runDir = await mkdtemp(join(deps.workDir, 'run-'));
        const rollup = await deps.openRollup();
        try {
          return await curatePass({ lake: deps.lake, session, rollup, workDir: runDir, logger: deps.logger });
        } finally {
          rollup.close();
          await rm(runDir, { recursive: true, force: true });
        }
      });
      if (!outcome.acquired) return { ran: false, reason: 'another run holds the lock' };
      deps.logger.info({ ...outcome.value }, 'curation run finished');
      return { ran: true, summary: outcome.value };
    },
  };
}
