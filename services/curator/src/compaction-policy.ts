import { parseObjectName, type Partition } from '@strata/schemas';
import type { LakeObject } from './lake-store.js';

/**
 * When an hour of the lake is compacted, and which of its files. IceDB's two merge workers are the
 * model (../shared/seeds/004): young partitions get small, frequent merges that keep file counts
 * down; old ones get aggressive merges into a few large files, since nothing much will be added.
 */
export interface CompactionPolicy {
  /**
   * An hour is closed this long after it ends. Before that the writer is still adding a file per
   * flush, so merging would only race it and be redone; events later than this are rare
   * (late arrivals within the lateness window) and are picked up by the next merge.
   */
  closeAfterMs: number;
  /** An hour is aged this long after it ends: from then on it is merged aggressively. */
  agedAfterMs: number;
  /** Files below this are "small", the only ones a light merge touches. */
  smallFileBytes: number;
  /** A light merge waits for this many small files, so each merge cuts the file count by ≥ lightMinFiles − 1. */
  lightMinFiles: number;
  /**
   * Size compaction writes files up to (then starts another); a file this large is never merged
   * again, so an aged hour settles at a few files instead of being rewritten on every pass.
   */
  targetFileBytes: number;
}

const HOUR_MS = 3_600_000;
const MiB = 1024 * 1024;

export const DEFAULT_COMPACTION_POLICY: CompactionPolicy = {
  closeAfterMs: 2 * HOUR_MS,
  agedAfterMs: 24 * HOUR_MS,
  // The writer's files are one flush each (≤ 50,000 rows, a few MiB); 16 MiB is also the smallest
  // row group BigQuery recommends, so anything smaller is worth merging.
  smallFileBytes: 16 * MiB,
  lightMinFiles: 4,
  targetFileBytes: 256 * MiB,
};

export interface CompactionPlan {
  partition: Partition;
  /** Sorted by name: the order compaction reads them in, which breaks ties when deduplicating. */
  inputs: LakeObject[];
  mode: 'light' | 'aggressive';
}

/** When the hour ends, in ms since the epoch (partitions are UTC). */
export function hourEndMs(partition: Partition): number {
  return Date.parse(`${partition.dt}T${partition.hr}:00:00Z`) + HOUR_MS;
}

export const byName = (a: LakeObject, b: LakeObject): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

export const samePartition = (a: Partition, b: Partition | undefined): boolean => b !== undefined && a.logType === b.logType && a.dt === b.dt && a.hr === b.hr;

/**
 * The merge to run on one partition now, or undefined when it should be left alone. `objects` is a
 * listing of the partition; anything in it that is not one of its Parquet files is ignored.
 */
export function planCompaction(partition: Partition, objects: LakeObject[], nowMs: number, policy: CompactionPolicy = DEFAULT_COMPACTION_POLICY): CompactionPlan | undefined {
  const end = hourEndMs(partition);
  if (Number.isNaN(end) || nowMs < end + policy.closeAfterMs) return undefined;
  const files = objects.filter((o) => samePartition(partition, parseObjectName(o.name)));

  const plan = (inputs: LakeObject[], mode: CompactionPlan['mode']): CompactionPlan | undefined =>
    // One file merged alone is the same data rewritten (at most its own duplicates removed): never worth it.
    inputs.length < 2 ? undefined : { partition, inputs: [...inputs].sort(byName), mode };

  if (nowMs >= end + policy.agedAfterMs) {
    // Aged: everything into as few files as the target allows. Files already at the target are
    // left out, or every pass would rewrite the whole hour; a duplicate they share with a newer
    // file then stays until readers dedup it, which they must do anyway (at-least-once delivery).
    return plan(
      files.filter((f) => f.size < policy.targetFileBytes),
      'aggressive',
    );
  }
  // Closed but young: only the small files, and only once there are enough of them to be worth a
  // rewrite. Larger files wait for the aggressive merge.
  const small = files.filter((f) => f.size < policy.smallFileBytes);
  return small.length >= policy.lightMinFiles ? plan(small, 'light') : undefined;
}
