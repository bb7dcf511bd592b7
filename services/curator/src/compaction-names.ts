/**
 * How compaction names what it writes, and what a reader may conclude from the names.
 *
 * Every file of one merge carries the merge's id: `compacted-<id>.parquet` when the merge wrote one
 * file, `compacted-<id>-<k>.parquet` (k = 1, 2, …) when it was cut at the target size. A merge
 * deduplicates all of its rows by event_id before it cuts them (compaction-merge.ts), so the files
 * of one merge hold each event at most once between them.
 */
const NAME = /(?:^|\/)compacted-([0-9A-Za-z]+)(?:-(\d+))?\.parquet$/;

/** The object name (under `prefix`) of file `index` of `count` written by merge `mergeId`. */
export function compactionOutputName(prefix: string, mergeId: string, index: number, count: number): string {
  return count === 1 ? `${prefix}compacted-${mergeId}.parquet` : `${prefix}compacted-${mergeId}-${index + 1}.parquet`;
}

/** The id of the merge that wrote `name`, or undefined for any other file (the writer's, say). */
export function mergeIdOf(name: string): string | undefined {
  return NAME.exec(name)?.[1];
}

/**
 * Whether an hour's objects are known to hold each event_id at most once: every one of them was
 * written by the same merge. Anything added since (a late file from the writer, the next merge's
 * outputs during its swap) is another name, so the hour is then not known to be unique and its
 * readers deduplicate it. Removing files or rows (retention, erasure's rewrite in place) keeps the
 * rest unique. Files of earlier merges named one id per file cannot be told apart, so an hour of
 * several such files is not known unique either: only cost, never a wrong figure.
 */
export function holdsEachEventOnce(names: readonly string[]): boolean {
  if (names.length === 0) return false;
  const ids = names.map(mergeIdOf);
  return ids[0] !== undefined && ids.every((id) => id === ids[0]);
}
