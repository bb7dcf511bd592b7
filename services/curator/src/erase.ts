import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEAD_LETTER_ROOT, JSON_LINES_CONTENT_TYPE, LAKE_ROOT, PARQUET_CONTENT_TYPE, QUARANTINE_ROOT, dayPrefix, logTypePrefix, parseObjectName } from '@strata/schemas';
import { lakeLogTypes, recurateDay, withPass, type CuratorDeps, type DayKey, type PassDeps } from './curate.js';
import { countUserRows, writeWithoutUser, type UserRows } from './erase-parquet.js';
import { eraseJsonLines } from './erase-quarantine.js';
import { isNotFound, PreconditionFailed, type LakeObject, type LakeStore } from './lake-store.js';
import { forEachLimited } from './limited.js';
import { RECOMPUTE } from './summary-store.js';

/**
 * An erasure request: every stored copy of one user's events leaves the lake, and the rollups stop
 * counting them.
 *
 * Day by day of every log type (events/), each under the day's curation lock (summary-store.ts), so
 * no compaction or curation of the day runs meanwhile from copies read before:
 *   1. the day's Parquet files are downloaded in bounded batches and DuckDB counts the user's rows
 *      in each (erase-parquet.ts);
 *   2. a file holding some is rewritten in place without them, sorted and encoded as compaction
 *      writes, and verified before the upload; a file holding nothing else is deleted. Both are
 *      conditional on the generation that was read (ifGenerationMatch), so a file changed since is
 *      never clobbered: the day is listed again and what changed is read again, up to MAX_ROUNDS
 *      times, then reported. (Under the lock only the writer touches the day, and it only adds new
 *      names; a conflict means something outside the lock, such as PGlite's shared session locally.)
 *   3. the day is re-curated, whatever the lateness window (curate.ts recurateDay): its rows in
 *      PostgreSQL and its curated/ files.
 * Then the JSON-lines zones (quarantine/, dead-letter/): each file without the user's records
 * (erase-quarantine.ts), with the same generation conditions.
 *
 * Crash safety: before its first change a day is marked RECOMPUTE, and an erasure re-curates every
 * day so marked even when nothing is left to erase, so running it again after a crash finishes the
 * job. Run again after success, it changes nothing: an erasure is idempotent.
 *
 * Scale: every Parquet file of the lake is read once per erasure. Each is downloaded whole (the
 * curator's DuckDB cannot read gs://), but DuckDB decodes only its user_id column and skips row
 * groups whose statistics exclude the id, and at most one batch (SCAN_BATCH_BYTES) is on disk at a
 * time, with the copy being written. The cost is therefore the lake's bytes over one instance's
 * network, plus one list call per 1,000 objects (twice: once to find the days, once per day under
 * its lock): tens of GB fit one request (Cloud Run allows 60 minutes). Beyond that the candidates
 * should come from BigQuery (`select distinct _FILE_NAME from <log type> where user_id = …` over
 * the external tables reads only that column, server-side) and be passed here instead of the
 * listing. Quarantine and dead letters expire after 90 days (LAKE_ZONES), so they stay small.
 */

/** The most bytes of Parquet a batch downloads at once: Cloud Run's disk is its memory. */
const SCAN_BATCH_BYTES = 256 * 1024 * 1024;
/** The most files a batch downloads at once (one DuckDB query reads them together). */
const SCAN_BATCH_FILES = 64;
/** Times a day's files (or a JSON-lines file) are read again after a conflict before it is reported. */
const MAX_ROUNDS = 3;
/** How long to wait for a day another run is curating; a day takes seconds, a large one minutes. */
const DEFAULT_LOCK_WAIT_MS = 5 * 60_000;
const LOCK_POLL_MS = 1_000;
/** The zones whose objects are JSON lines holding events as received. */
const JSON_LINES_ZONES = [QUARANTINE_ROOT, DEAD_LETTER_ROOT];
/** The envelope's bound on user_id (schemas/envelope.json; the test holds them together). */
export const MAX_USER_ID_LENGTH = 128;

/** One object the erasure changed. */
export interface ErasedObject {
  object: string;
  /** events (Parquet rows), or the JSON-lines zone (records). */
  zone: string;
  /** The user's rows or records taken out, and what is left. */
  removed: number;
  kept: number;
  oldGeneration: string;
  /** The rewritten object's generation; null when nothing was left and it was deleted. */
  newGeneration: string | null;
}

export interface ErasureReport {
  userId: string;
  /** Every object changed, by zone then name. */
  objects: ErasedObject[];
  /** The days (`<log type>/<dt>`) whose rollups were recomputed. */
  daysRecurated: string[];
  /** What could not be done; run the erasure again (it is idempotent) once the reason is gone. */
  failures: Array<{ what: string; reason: string }>;
  totals: {
    /** Objects read, Parquet and JSON lines (a file read again after a conflict counts again). */
    objectsScanned: number;
    objectsRewritten: number;
    objectsRemoved: number;
    /** Parquet rows taken out of events/. */
    rowsRemoved: number;
    /** JSON-lines records taken out of quarantine/ and dead-letter/. */
    recordsRemoved: number;
    daysRecurated: number;
  };
  durationMs: number;
}

export interface Eraser {
  erase(userId: string): Promise<ErasureReport>;
}

export interface EraserDeps extends CuratorDeps {
  /** How long to wait for a day's lock (DEFAULT_LOCK_WAIT_MS). */
  lockWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
}

/** `value` as the user id of an erasure request, by the envelope's rule for user_id. */
export function readUserId(value: unknown): { ok: true; userId: string } | { ok: false; reason: string } {
  if (typeof value !== 'string') return { ok: false, reason: `user_id must be a string, got ${value === undefined ? 'nothing' : JSON.stringify(value)}` };
  if (value.length === 0 || value.length > MAX_USER_ID_LENGTH) return { ok: false, reason: `user_id must be 1 to ${MAX_USER_ID_LENGTH} characters, got ${value.length}` };
  return { ok: true, userId: value };
}

/** One erasure in progress. */
interface Erasure {
  user: string;
  pass: PassDeps;
  objects: ErasedObject[];
  failures: ErasureReport['failures'];
  daysRecurated: string[];
  scanned: number;
  lockPolls: number;
  sleep: (ms: number) => Promise<void>;
}

/** One day under erasure: what is known clean (`name#generation`), and whether it changed. */
interface DayErasure {
  key: DayKey;
  dir: string;
  clean: Set<string>;
  changed: number;
}

const dayName = (key: DayKey) => `${key.logType}/${key.dt}`;
const versionOf = (object: Pick<LakeObject, 'name' | 'generation'>) => `${object.name}#${object.generation}`;

/**
 * Replaces exactly the generation that was read: with `file`, or by nothing (a delete) when no file
 * is given. Returns the new generation, null once deleted, undefined when the object changed or
 * went since it was read (nothing was done).
 */
async function swap(lake: LakeStore, object: LakeObject, file: string | undefined, contentType: string): Promise<string | null | undefined> {
  try {
    if (file === undefined) return (await lake.remove(object.name, object.generation)) ? null : undefined;
    return await lake.rewrite(object.name, file, contentType, object.generation);
  } catch (err) {
    if (err instanceof PreconditionFailed) return undefined;
    throw err;
  }
}

/** Batches of at most SCAN_BATCH_FILES files and SCAN_BATCH_BYTES (a larger file goes alone). */
function batchesOf(objects: LakeObject[]): LakeObject[][] {
  const batches: LakeObject[][] = [];
  let batch: LakeObject[] = [];
  let bytes = 0;
  for (const object of objects) {
    if (batch.length > 0 && (batch.length === SCAN_BATCH_FILES || bytes + object.size > SCAN_BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(object);
    bytes += object.size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

async function lockDay(key: DayKey, e: Erasure): Promise<boolean> {
  for (let poll = 0; ; poll++) {
    if (await e.pass.session.tryLockDay(key.logType, key.dt)) return true;
    if (poll >= e.lockPolls) return false;
    await e.sleep(LOCK_POLL_MS);
  }
}

/** Downloads a batch and erases the user from each file that has rows of theirs; returns the conflicts. */
async function eraseBatch(batch: LakeObject[], day: DayErasure, e: Erasure): Promise<number> {
  const { lake, engine, settings, session } = e.pass;
  const dir = await mkdtemp(join(day.dir, 'batch-'));
  try {
    // Local names by index: no character of an object name reaches the file system.
    const local = batch.map((_, i) => join(dir, `${i}.parquet`));
    const present = batch.map(() => true);
    await forEachLimited(batch, settings.downloadConcurrency, async (object, i) => {
      try {
        await lake.download(object.name, local[i]!);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        present[i] = false; // gone since the listing: the next round lists what replaced it
      }
    });
    const here = batch.flatMap((object, i) => (present[i] ? [{ object, file: local[i]! }] : []));
    const counts = await countUserRows(engine.connection, here.map((h) => h.file), e.user);
    e.scanned += here.length;
    let conflicts = batch.length - here.length;
    for (const [i, { object, file }] of here.entries()) {
      const rows: UserRows = counts[i]!;
      if (rows.matched === 0) {
        day.clean.add(versionOf(object));
        continue;
      }
      // Marked before the first change, so a crash from here on leaves the day to be re-curated.
      if (day.changed === 0) await session.forgetDay(day.key.logType, day.key.dt);
      const kept = rows.rows - rows.matched;
      const out = kept > 0 ? `${file}.erased` : undefined;
      if (out) await writeWithoutUser(engine.connection, file, out, e.user, rows);
      const generation = await swap(lake, object, out, PARQUET_CONTENT_TYPE);
      if (generation === undefined) {
        conflicts += 1;
        continue;
      }
      day.changed += 1;
      if (generation !== null) day.clean.add(versionOf({ name: object.name, generation }));
      e.objects.push({ object: object.name, zone: LAKE_ROOT, removed: rows.matched, kept, oldGeneration: object.generation, newGeneration: generation });
    }
    return conflicts;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Rounds over the day's files until a listing shows none it has not scanned: files that changed
 * under it (a conflict) and files written since the last listing (the writer keeps writing, and
 * compaction may rewrite an hour) are scanned in the next round. After MAX_ROUNDS, what is left
 * is reported.
 */
async function eraseDayFiles(day: DayErasure, e: Erasure): Promise<void> {
  const listDay = async () => (await e.pass.lake.list(dayPrefix(day.key.logType, day.key.dt))).filter((o) => parseObjectName(o.name) && !day.clean.has(versionOf(o)));
  let objects = await listDay();
  for (let round = 1; objects.length > 0; round++) {
    let conflicts = 0;
    for (const batch of batchesOf(objects)) conflicts += await eraseBatch(batch, day, e);
    objects = await listDay();
    if (round === MAX_ROUNDS && objects.length > 0) {
      e.failures.push({
        what: dayName(day.key),
        reason: `${conflicts} of its files changed while being erased and ${objects.length} are not yet scanned after ${MAX_ROUNDS} rounds; run the erasure again`,
      });
      return;
    }
  }
}

/**
 * Hours an erasure left without files: their stored rows are marked RECOMPUTE (forgetDay) and none
 * of their files is listed. Forgotten, so the re-curation sees them as never curated; as expired
 * hours, their figures would be kept, the user's events counted in them. (A day whose curated files
 * failed to upload is marked the same way; an hour of it that expired since is forgotten too, and
 * the day's figures come from what is left. Rare, and those figures hold no ids.)
 */
async function forgetErasedHours(key: DayKey, e: Erasure): Promise<void> {
  const { session, lake } = e.pass;
  const listed = new Set((await lake.list(dayPrefix(key.logType, key.dt))).flatMap((o) => parseObjectName(o.name)?.hr ?? []));
  const stored = [...(await session.storedPartitions(key.dt, key.dt)).values()].filter((p) => p.partition.logType === key.logType);
  const erased = stored.filter((p) => p.fingerprint === RECOMPUTE && !listed.has(p.partition.hr)).map((p) => p.partition.hr);
  if (erased.length > 0) await session.forgetHours(key.logType, key.dt, erased);
}

/** One day: under its lock, erase the user from its files, then re-curate it if anything changed (or an earlier erasure marked it). */
async function eraseDay(key: DayKey, marked: boolean, index: number, e: Erasure): Promise<void> {
  if (!(await lockDay(key, e))) {
    e.failures.push({ what: dayName(key), reason: `another run held the day's lock for ${(e.lockPolls * LOCK_POLL_MS) / 1000} s; run the erasure again` });
    return;
  }
  const day: DayErasure = { key, dir: join(e.pass.workDir, `day-${index}`), clean: new Set(), changed: 0 };
  try {
    await mkdir(day.dir, { recursive: true });
    try {
      await eraseDayFiles(day, e);
    } catch (err) {
      // A file that cannot be read or verified fails this day only; what changed is re-curated below.
      e.failures.push({ what: dayName(key), reason: (err as Error).message });
    }
    if (day.changed === 0 && !marked) return;
    await forgetErasedHours(key, e);
    const outcome = await recurateDay(key, join(day.dir, 'curate'), e.pass);
    if (outcome.ok) e.daysRecurated.push(dayName(key));
    else e.failures.push({ what: dayName(key), reason: `its rollups could not be recomputed: ${outcome.reason}` });
  } finally {
    await e.pass.session.unlockDay(key.logType, key.dt);
    await rm(day.dir, { recursive: true, force: true });
  }
}

/** One JSON-lines file without the user's records, retried from a fresh listing after a conflict. */
async function eraseJsonLinesObject(zone: string, listed: LakeObject, file: string, e: Erasure): Promise<void> {
  const { lake } = e.pass;
  let object: LakeObject | undefined = listed;
  for (let round = 1; object; round++) {
    try {
      await lake.download(object.name, file);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    e.scanned += 1;
    const erased = eraseJsonLines(await readFile(file, 'utf8'), e.user);
    if (erased.removed === 0) return;
    const out = erased.kept > 0 ? `${file}.erased` : undefined;
    if (out) await writeFile(out, erased.text);
    const generation = await swap(lake, object, out, JSON_LINES_CONTENT_TYPE);
    if (generation !== undefined) {
      e.objects.push({ object: object.name, zone, removed: erased.removed, kept: erased.kept, oldGeneration: object.generation, newGeneration: generation });
      return;
    }
    if (round === MAX_ROUNDS) {
      e.failures.push({ what: object.name, reason: `changed while being erased, ${MAX_ROUNDS} times over; run the erasure again` });
      return;
    }
    object = (await lake.list(listed.name)).find((o) => o.name === listed.name);
  }
}

async function eraseJsonLinesZone(zone: string, e: Erasure): Promise<void> {
  const objects = await e.pass.lake.list(`${zone}/`);
  const dir = await mkdtemp(join(e.pass.workDir, `${zone}-`));
  try {
    await forEachLimited(objects, e.pass.settings.downloadConcurrency, async (object, i) => {
      try {
        await eraseJsonLinesObject(zone, object, join(dir, String(i)), e);
      } catch (err) {
        e.failures.push({ what: object.name, reason: (err as Error).message });
      }
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Every day to look at, in order: each day with Parquet files, and each day an earlier erasure
 * marked and may have left without any (a rerun after a crash re-curates it).
 */
async function daysToErase(pass: PassDeps): Promise<Array<{ key: DayKey; marked: boolean }>> {
  const days = new Map<string, { key: DayKey; marked: boolean }>();
  for (const logType of await lakeLogTypes(pass.lake)) {
    for (const object of await pass.lake.list(logTypePrefix(logType))) {
      const partition = parseObjectName(object.name);
      if (partition) days.set(dayName(partition), { key: { logType: partition.logType, dt: partition.dt }, marked: false });
    }
  }
  for (const stored of (await pass.session.storedPartitions('0001-01-01')).values()) {
    if (stored.fingerprint === RECOMPUTE) days.set(dayName(stored.partition), { key: { logType: stored.partition.logType, dt: stored.partition.dt }, marked: true });
  }
  return [...days.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, day]) => day);
}

function reportOf(userId: string, e: Erasure, durationMs: number): ErasureReport {
  const objects = [...e.objects].sort((a, b) => (a.zone === b.zone ? (a.object < b.object ? -1 : 1) : a.zone < b.zone ? -1 : 1));
  const sum = (list: ErasedObject[]) => list.reduce((n, o) => n + o.removed, 0);
  return {
    userId,
    objects,
    daysRecurated: e.daysRecurated,
    failures: e.failures,
    totals: {
      objectsScanned: e.scanned,
      objectsRewritten: objects.filter((o) => o.newGeneration !== null).length,
      objectsRemoved: objects.filter((o) => o.newGeneration === null).length,
      rowsRemoved: sum(objects.filter((o) => o.zone === LAKE_ROOT)),
      recordsRemoved: sum(objects.filter((o) => o.zone !== LAKE_ROOT)),
      daysRecurated: e.daysRecurated.length,
    },
    durationMs,
  };
}

/** Erasures over the lake and the summary store, one pass (withPass) each. */
export function createEraser(deps: EraserDeps): Eraser {
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const lockPolls = Math.ceil((deps.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS) / LOCK_POLL_MS);
  return {
    async erase(userId) {
      const checked = readUserId(userId);
      if (!checked.ok) throw new Error(checked.reason);
      const started = Date.now();
      const report = await withPass(deps, async (pass) => {
        const e: Erasure = { user: userId, pass, objects: [], failures: [], daysRecurated: [], scanned: 0, lockPolls, sleep };
        for (const [index, { key, marked }] of (await daysToErase(pass)).entries()) await eraseDay(key, marked, index, e);
        for (const zone of JSON_LINES_ZONES) await eraseJsonLinesZone(zone, e);
        return reportOf(userId, e, Date.now() - started);
      });
      // Counts only: the id of someone who asked to be forgotten does not go into the logs.
      deps.logger.info({ ...report.totals, failures: report.failures.length, durationMs: report.durationMs }, 'erasure finished');
      return report;
    },
  };
}
