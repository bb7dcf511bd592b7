import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from '@strata/runtime';
import { PARQUET_CONTENT_TYPE, parseObjectName, partitionKey, partitionPrefix, type Partition } from '@strata/schemas';
import { mergeParquet, verifyMerged } from './compaction-merge.js';
import { compactionOutputName } from './compaction-names.js';
import { byName, DEFAULT_COMPACTION_POLICY, samePartition, type CompactionPlan } from './compaction-policy.js';
import { PreconditionFailed, type LakeObject, type LakeStore } from './lake-store.js';
import { forEachLimited } from './limited.js';

/** Parallel downloads of one compaction's inputs. */
const DOWNLOAD_CONCURRENCY = 4;

export interface CompactionResult {
  partition: Partition;
  mode: 'light' | 'aggressive';
  /** Input files merged. */
  inputs: number;
  /** Names of the objects written. */
  outputs: string[];
  rowsIn: number;
  /** rowsIn − rowsOut duplicates were removed. */
  rowsOut: number;
  bytesIn: number;
  bytesOut: number;
}

export interface CompactDeps {
  lake: LakeStore;
  connection: DuckDBConnection;
  /** Parent of the private folder each compaction downloads into and removes after. */
  workDir: string;
  /** Unique ids for merges, which name their outputs (compaction-names.ts); ULIDs (createUlidFactory) sort by creation time. */
  newId: () => string;
  logger: Logger;
  /** Output files are cut at this size (default DEFAULT_COMPACTION_POLICY.targetFileBytes). */
  targetFileBytes?: number;
}

/**
 * Rewrites a plan's files as deduplicated, sorted files, in an order that never loses an event,
 * whoever else is reading or writing the partition:
 *   1. download the inputs and merge them locally (DuckDB), then read the result back and verify
 *      it holds exactly the inputs' events; any failure so far throws and leaves the lake as it was;
 *   2. upload every output under a new name (create-only, so nothing is ever overwritten); if one
 *      fails, the ones already written are removed again and the lake is as it was;
 *   3. only then delete the inputs, each by the generation that was read. A reader listing at any
 *      moment sees the events in the inputs, the outputs or both (duplicates, which readers dedup
 *      by event_id anyway); a crash between 2 and 3 leaves duplicates the next pass removes. The
 *      writer only ever adds new names, so files it writes meanwhile are not in the plan and stay.
 * A reader that lists, then finds a listed input gone, must list again: the outputs were written
 * before the input was deleted.
 */
export async function compactPartition(plan: CompactionPlan, deps: CompactDeps): Promise<CompactionResult> {
  const { lake, connection, logger } = deps;
  const { partition, mode } = plan;
  const prefix = partitionPrefix(partition);
  // Outputs go to the plan's partition: an input from another would move its rows there.
  const stray = plan.inputs.find((o) => !samePartition(partition, parseObjectName(o.name)));
  if (stray) throw new Error(`${stray.name} is not a Parquet file of partition ${partitionKey(partition)}`);
  // Name order is the tie-break order of the dedup (compaction-merge.ts): fixed, whoever built the plan.
  const inputs = [...plan.inputs].sort(byName);

  await mkdir(deps.workDir, { recursive: true });
  const dir = await mkdtemp(join(deps.workDir, 'compact-'));
  try {
    // Local names by index: no character of an object name reaches the file system.
    const local = inputs.map((_, i) => join(dir, `input-${i}.parquet`));
    await forEachLimited(inputs, DOWNLOAD_CONCURRENCY, (object, i) => lake.download(object.name, local[i]!));
    const bytesIn = (await Promise.all(local.map(async (f) => (await stat(f)).size))).reduce((a, b) => a + b, 0);
    const outDir = join(dir, 'out');
    await mkdir(outDir);
    const merged = await mergeParquet(connection, local, outDir, deps.targetFileBytes ?? DEFAULT_COMPACTION_POLICY.targetFileBytes);
    const counts = await verifyMerged(connection, local, merged.files);

    const mergeId = deps.newId();
    const outputs = await uploadAll(lake, merged.files, (i) => compactionOutputName(prefix, mergeId, i, merged.files.length), logger);
    const removed = await removeInputs(lake, inputs, logger);

    const result: CompactionResult = { partition, mode, inputs: inputs.length, outputs, ...counts, bytesIn, bytesOut: merged.bytesOut };
    logger.info(
      {
        partition: partitionKey(partition),
        mode,
        inputs: inputs.length,
        outputs: outputs.length,
        rowsIn: counts.rowsIn,
        rowsOut: counts.rowsOut,
        duplicates: counts.rowsIn - counts.rowsOut,
        bytesIn,
        bytesOut: merged.bytesOut,
        ...removed,
      },
      'partition compacted',
    );
    return result;
  } finally {
    // Cloud Run's disk is memory: free it whatever happened.
    await rm(dir, { recursive: true, force: true });
  }
}

/** Creates every file under a fresh name, or none: on a failure the ones written are removed again. */
async function uploadAll(lake: LakeStore, files: string[], nameOf: (index: number) => string, logger: Logger): Promise<string[]> {
  const written: { name: string; generation: string }[] = [];
  try {
    for (const [index, file] of files.entries()) {
      const name = nameOf(index);
      written.push({ name, generation: await lake.create(name, file, PARQUET_CONTENT_TYPE) });
    }
    return written.map((w) => w.name);
  } catch (err) {
    for (const { name, generation } of written) {
      // The inputs are all still there, so these are only duplicates: a failure to remove one is harmless.
      await lake.remove(name, generation).catch((cleanup: unknown) => logger.warn({ object: name, err: cleanup }, 'compaction output left after a failed upload (duplicates only)'));
    }
    throw err;
  }
}

interface Removal {
  /** Inputs deleted. */
  removed: number;
  /** Already gone: another compaction got there first. */
  gone: number;
  /** Rewritten since they were listed, so kept: their data is now duplicated, not lost. */
  kept: number;
}

/**
 * Deletes each input by the generation that was read, so a file rewritten since is never deleted
 * unread. A failure to delete throws only after every input was tried: the outputs are in, so what
 * is left behind is duplicates.
 */
async function removeInputs(lake: LakeStore, inputs: LakeObject[], logger: Logger): Promise<Removal> {
  const removal: Removal = { removed: 0, gone: 0, kept: 0 };
  let failure: { error: unknown } | undefined;
  for (const input of inputs) {
    try {
      if (await lake.remove(input.name, input.generation)) removal.removed += 1;
      else removal.gone += 1;
    } catch (err) {
      if (err instanceof PreconditionFailed) {
        removal.kept += 1;
        logger.warn({ object: input.name, generation: input.generation }, 'compaction input rewritten since it was listed; kept (its events are now duplicated, not lost)');
      } else {
        failure ??= { error: err };
        logger.error({ object: input.name, err }, 'compaction input not deleted (its events are now duplicated, not lost)');
      }
    }
  }
  if (failure) throw failure.error;
  return removal;
}
