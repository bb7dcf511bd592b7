import { partitionKey } from '@strata/schemas';
import type { ListedDay, StoredPartition } from './partitions.js';

/**
 * The curator's lag, as the `curator.run_finished` signal reports it (runtime/src/signals.ts): how
 * long the oldest change a run saw but left uncurated has waited. A change is a lake file in one of
 * the day's changed hours written after that hour was last curated (every file of an hour never
 * curated); its age is `now` minus its write time (GCS `updated`). 0 when nothing is left.
 *
 * Only files count, so a day recomputed for another reason (a new rollup definition, files
 * removed) adds no lag: nothing new waits to be counted. Clocks: `updated` is GCS's, `curatedAt`
 * PostgreSQL's and `now` the curator's; a skew of a few seconds is below what anyone alerts on,
 * and a file "from the future" counts as 0, never negative.
 */
export function lagSeconds(left: readonly ListedDay[], stored: ReadonlyMap<string, StoredPartition>, now: number): number {
  let oldest = Infinity;
  for (const day of left) {
    for (const hour of day.hours) {
      if (!day.changedHours.includes(hour.partition.hr)) continue;
      // Never curated (or a time that does not parse): every file of the hour waits.
      const curatedAt = Date.parse(stored.get(partitionKey(hour.partition))?.curatedAt ?? '');
      const since = Number.isNaN(curatedAt) ? -Infinity : curatedAt;
      for (const object of hour.objects) {
        const written = Date.parse(object.updated);
        // An unparseable time (a listing without `updated`) says nothing: skipped, not counted as old.
        if (Number.isFinite(written) && written > since && written < oldest) oldest = written;
      }
    }
  }
  return oldest === Infinity ? 0 : Math.max(0, (now - oldest) / 1000);
}
