import { createHash } from 'node:crypto';
import { parseObjectName, partitionKey, rollupApplies, type Partition, type RollupDeclaration } from '@strata/schemas';
import type { LakeObject } from './lake-store.js';

/** A lake partition (one hour of one log type) as listed now: its objects and their fingerprint. */
export interface ListedPartition {
  partition: Partition;
  objects: LakeObject[];
  fingerprint: string;
}

/** What the summary store remembers about an hour it curated. */
export interface StoredPartition {
  partition: Partition;
  fingerprint: string;
  objectCount: number;
  /** When it was last curated (text, as PostgreSQL gives it); absent before it is stored. */
  curatedAt?: string;
}

/** One day of one log type: the unit of curation (a daily distinct needs the whole day). */
export interface ListedDay {
  logType: string;
  dt: string;
  /** Its hours as listed, in hour order. */
  hours: ListedPartition[];
  /** Hours whose objects differ from what was curated (new, grown, compacted). */
  changedHours: string[];
  /** Hours curated before whose objects have all gone: retention, or an operator. */
  vanishedHours: string[];
  /** The oldest curated_at of its hours; undefined when some hour was never curated. */
  curatedAt: string | undefined;
}

/**
 * Identifies exactly the set of object versions in a partition: any object added, removed or
 * rewritten (new generation) changes it; listing order does not. `definitions` (the rollups that
 * read the log type, see definitionsOf) is part of it, so a new rollup or measure makes every day
 * in the window recompute, and a run with scope "all" backfills the rest.
 */
export function fingerprintOf(objects: Pick<LakeObject, 'name' | 'generation' | 'size'>[], definitions = ''): string {
  const lines = objects.map((o) => `${o.name}:${o.generation}:${o.size}`).sort();
  return createHash('sha256').update(definitions).update('\n').update(lines.join('\n')).digest('hex');
}

/** What the figures of a log type are computed by: the declarations of the rollups that read it. */
export function definitionsOf(rollups: readonly RollupDeclaration[], logType: string): string {
  return JSON.stringify(rollups.filter((r) => rollupApplies(r, logType)));
}

/**
 * Groups a listing by partition (keyed by `partitionKey`); anything that is not a lake Parquet file
 * is ignored. `definitions` gives each log type's definitions for its fingerprints.
 */
export function groupByPartition(objects: LakeObject[], definitions: (logType: string) => string = () => ''): Map<string, ListedPartition> {
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
  for (const [key, group] of groups) listed.set(key, { ...group, fingerprint: fingerprintOf(group.objects, definitions(group.partition.logType)) });
  return listed;
}

/**
 * The listed hours grouped into days, each compared with what the store remembers. `stored` covers
 * at least the listed days; a stored hour of a listed day with no objects now has vanished.
 */
export function groupByDay(listed: Map<string, ListedPartition>, stored: Map<string, StoredPartition>): ListedDay[] {
  const days = new Map<string, ListedDay>();
  const dayOf = (logType: string, dt: string) => {
    const key = `${logType}/${dt}`;
    let day = days.get(key);
    if (!day) days.set(key, (day = { logType, dt, hours: [], changedHours: [], vanishedHours: [], curatedAt: undefined }));
    return day;
  };
  for (const [key, hour] of listed) {
    const day = dayOf(hour.partition.logType, hour.partition.dt);
    day.hours.push(hour);
    const before = stored.get(key);
    if (before?.fingerprint !== hour.fingerprint) day.changedHours.push(hour.partition.hr);
  }
  for (const [key, before] of stored) {
    const day = days.get(`${before.partition.logType}/${before.partition.dt}`);
    if (day && !listed.has(key) && before.objectCount > 0) day.vanishedHours.push(before.partition.hr);
  }
  for (const day of days.values()) {
    const curated = day.hours.map((h) => stored.get(partitionKey(h.partition))?.curatedAt);
    // ISO-like text from PostgreSQL sorts as time; one hour never curated makes the day "never".
    day.curatedAt = curated.includes(undefined) ? undefined : (curated as string[]).sort()[0];
    day.hours.sort((a, b) => (a.partition.hr < b.partition.hr ? -1 : 1));
    day.changedHours.sort();
    day.vanishedHours.sort();
  }
  return [...days.values()].sort((a, b) => (a.logType === b.logType ? (a.dt < b.dt ? -1 : 1) : a.logType < b.logType ? -1 : 1));
}
