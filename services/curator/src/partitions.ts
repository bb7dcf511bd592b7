import { createHash } from 'node:crypto';
import { parseObjectName, partitionKey, type Partition } from '@strata/schemas';
import type { LakeObject } from './lake-reader.js';

/** A lake partition as listed now: its objects and their fingerprint. */
export interface ListedPartition {
  partition: Partition;
  objects: LakeObject[];
  fingerprint: string;
}

/** What the summary store remembers about a partition it rolled up. */
export interface StoredPartition {
  partition: Partition;
  fingerprint: string;
  objectCount: number;
}

export interface PartitionChanges {
  /** New partitions and ones whose objects changed, in key order. */
  changed: ListedPartition[];
  /** Partitions the store knows whose objects have all gone (e.g. deleted by retention). */
  vanished: Partition[];
  unchanged: number;
}

/**
 * Identifies exactly the set of object versions in a partition: any object added, removed or
 * rewritten (new generation) changes it; listing order does not.
 */
export function fingerprintOf(objects: Pick<LakeObject, 'name' | 'generation' | 'size'>[]): string {
  const lines = objects.map((o) => `${o.name}:${o.generation}:${o.size}`).sort();
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

/** Groups a listing by partition (keyed by `partitionKey`); anything that is not a lake Parquet file is ignored. */
export function groupByPartition(objects: LakeObject[]): Map<string, ListedPartition> {
  const groups = new Map<string, { partition: Partition; objects: LakeObject[] }>();
  for (const object of objects) {
    const partition = parseObjectName(object.name);
    if (!partition) continue;
    const key = partitionKey(partition);
    const group = groups.get(key) ?? { partition, objects: [] };
    group.objects.push(object);
    groups.set(key, group);
  }
  const listed = new Map<string, ListedPartition>();
  for (const [key, group] of groups) listed.set(key, { ...group, fingerprint: fingerprintOf(group.objects) });
  return listed;
}

/** Which partitions need recomputing or deleting, given what the store remembers (keyed by `partitionKey`). */
export function diffPartitions(listed: Map<string, ListedPartition>, stored: Map<string, StoredPartition>): PartitionChanges {
  const byKey = (a: [string, unknown], b: [string, unknown]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);
  const changed = [...listed]
    .filter(([key, p]) => stored.get(key)?.fingerprint !== p.fingerprint)
    .sort(byKey)
    .map(([, p]) => p);
  const vanished = [...stored]
    .filter(([key]) => !listed.has(key))
    .sort(byKey)
    .map(([, p]) => p.partition);
  return { changed, vanished, unchanged: listed.size - changed.length };
}
