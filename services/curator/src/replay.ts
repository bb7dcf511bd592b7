import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@strata/runtime';
import { REPLAYED_ROOT, encodeBatches, type EventTimeWindow, type FieldError, type Registry } from '@strata/schemas';
import { isNotFound, PreconditionFailed, type LakeStore } from './lake-store.js';
import { forEachLimited } from './limited.js';
import {
  REPLAY_ZONES,
  isRecordSelected,
  markerName,
  mergeMarker,
  parseMarker,
  parseRecordFile,
  recordKey,
  recordLogType,
  revalidate,
  selectRecordFiles,
  type RecordFile,
  type ReplayEvent,
  type ReplayMarker,
  type ReplayZone,
  type Selection,
} from './replay-records.js';

/**
 * Replay: the events kept in quarantine/ or dead-letter/ that pass the registry in force now (a
 * schema version published since, a bug fixed) go back to the events topic, as ingest would have
 * sent them, and so to the lake.
 *
 *   1. list the zone's record files (replay-records.ts selects by log type and day), and the
 *      markers (`replayed/<zone>/…`, REPLAYED_ROOT) of the records already replayed;
 *   2. read each file and re-validate every record no marker lists (revalidate: the latest
 *      version, the event time window around now, the PII rules of that version);
 *   3. publish those that pass as batch messages (encodeBatches), one log type and PII mark per
 *      message, each event with its own event_id and the `pii_protected` mark its record carries,
 *      so the writer neither hashes them again nor lets a duplicate through dedup;
 *   4. only once Pub/Sub acknowledged every message carrying a file's records, write that file's
 *      marker (created, or rewritten at the generation read, merged again after a conflict).
 *
 * Steps 2–4 run in rounds of whole files, about REPLAY_ROUND_BYTES of them each: after a schema
 * fix the quarantine can hold millions of records, and holding every passing event of it at once
 * would not fit the curator's memory (nor its downloads the disk, which is memory on Cloud Run).
 *
 * A replay that stops between 3 and 4 (a crash, a deadline) sent events it did not mark: the next
 * one sends them again, with the same event_ids, and the lake's dedup by event_id (every rollup,
 * the `_deduped` views) counts each once. So an interrupted replay is safe to run again. Records
 * of the same event in two files (a message the writer filed twice) are sent once per run.
 *
 * The writer validates what it is sent against its own registry, refreshed every
 * SCHEMA_REGISTRY_TTL_MS: replay right after publishing a version and the writer may still
 * quarantine the events again, as new records a later replay picks up. Wait out the TTL first.
 */
export interface ReplayOptions extends Selection {
  from: ReplayZone;
  /** Validate and report, publish and mark nothing. */
  dryRun?: boolean;
}

export interface ReplayFailure {
  /** The record file, and the record's line in it (0-based). */
  file: string;
  line: number;
  event_id?: string;
  log_type?: string;
  reasons: FieldError[];
}

export interface ReplayReport {
  from: ReplayZone;
  dryRun: boolean;
  /** Record files read. */
  files: number;
  /** Records of the selection found in them (already replayed ones included). */
  records: number;
  /** Records a marker lists: replayed by an earlier run, not sent again. */
  alreadyReplayed: number;
  /** Records that pass now (in a dry run: would be replayed). */
  passed: number;
  /** Of those, records published and marked (0 in a dry run). */
  replayed: number;
  /** Distinct events published (records of the same event_id count once). */
  eventsPublished: number;
  messages: number;
  /** Records that still fail, with their reasons (the first MAX_LISTED_FAILURES; `stillFailing` counts all). */
  stillFailing: number;
  failures: ReplayFailure[];
  /** What could not be done (a file unreadable, a publish refused, a marker not written): run the replay again. */
  errors: Array<{ what: string; reason: string }>;
  durationMs: number;
}

/** Where replayed events are published: the events topic (replay-publisher.ts). */
export interface ReplayPublisher {
  /** One outcome per message, in order; ok once Pub/Sub acknowledged it. */
  publish(messages: Array<{ data: Buffer; attributes: Record<string, string> }>): Promise<Array<{ ok: true } | { ok: false; error: unknown }>>;
}

export interface ReplayDeps {
  lake: LakeStore;
  /** The registry in force, as ingest and the writer see it (bundled + published versions). */
  registry: () => Promise<Pick<Registry, 'latestVersion' | 'validate' | 'pii'>>;
  publisher: ReplayPublisher;
  workDir: string;
  eventWindow: EventTimeWindow;
  downloadConcurrency: number;
  logger: Logger;
  now?: () => number;
  /** Record-file bytes per round (REPLAY_ROUND_BYTES); a file larger than this is a round alone. */
  roundBytes?: number;
}

export interface Replayer {
  replay(options: ReplayOptions): Promise<ReplayReport>;
}

/** The `source` attribute of replayed messages. */
export const REPLAY_SOURCE = 'curator-replay';
/** A report lists this many failing records at most: a broken producer can fill quarantine. */
export const MAX_LISTED_FAILURES = 500;
/** Record-file bytes a replay round reads before it publishes and marks them (ReplayDeps.roundBytes). */
export const REPLAY_ROUND_BYTES = 32 * 1024 * 1024;
/** Times a marker is read and merged again after another replay wrote it meanwhile. */
const MARKER_ROUNDS = 3;

interface Pending {
  file: RecordFile;
  marker: { marker: ReplayMarker; generation: string } | undefined;
  /** Records of this file that pass, by key. */
  passed: Array<{ key: string; eventId: string }>;
}

export function createReplayer(deps: ReplayDeps): Replayer {
  const now = deps.now ?? Date.now;
  return {
    async replay(options) {
      const started = now();
      const dryRun = options.dryRun ?? false;
      const report: ReplayReport = {
        from: options.from,
        dryRun,
        files: 0,
        records: 0,
        alreadyReplayed: 0,
        passed: 0,
        replayed: 0,
        eventsPublished: 0,
        messages: 0,
        stillFailing: 0,
        failures: [],
        errors: [],
        durationMs: 0,
      };
      const root = REPLAY_ZONES[options.from];
      const files = selectRecordFiles(options.from, await deps.lake.list(`${root}/`), options);
      const markers = new Map((await deps.lake.list(`${REPLAYED_ROOT}/${root}/`)).map((m) => [m.name, m.generation]));
      const registry = await deps.registry();
      const ctx = { registry, nowMs: now(), window: deps.eventWindow };

      await mkdir(deps.workDir, { recursive: true });
      const dir = await mkdtemp(join(deps.workDir, 'replay-'));
      // The event_ids Pub/Sub acknowledged in this run: a record of one of them in a later round's
      // file (a message the writer filed twice) is marked without being sent again.
      const acked = new Set<string>();
      try {
        for (const round of rounds(files, deps.roundBytes ?? REPLAY_ROUND_BYTES)) {
          const { pending, events } = await readRound(round, { deps, dir, markers, options, ctx, report, acked });
          if (dryRun) continue;
          if (events.size > 0) {
            const sent = await publishAll([...events.values()], deps.publisher, report);
            for (const id of sent) acked.add(id);
          }
          await markRound(pending, acked, new Date(now()).toISOString(), deps.lake, dir, report);
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      report.durationMs = now() - started;
      const { failures: _listed, errors, ...counts } = report;
      deps.logger.info({ ...counts, errors: errors.length }, 'replay finished');
      return report;
    },
  };
}

/** The files in order, cut into rounds of about `maxBytes` (a larger file is a round alone). */
function* rounds(files: RecordFile[], maxBytes: number): Generator<RecordFile[]> {
  let round: RecordFile[] = [];
  let bytes = 0;
  for (const file of files) {
    if (round.length > 0 && bytes + file.size > maxBytes) {
      yield round;
      round = [];
      bytes = 0;
    }
    round.push(file);
    bytes += file.size;
  }
  if (round.length > 0) yield round;
}

interface RoundContext {
  deps: ReplayDeps;
  dir: string;
  markers: Map<string, string>;
  options: ReplayOptions;
  ctx: Parameters<typeof revalidate>[2];
  report: ReplayReport;
  acked: ReadonlySet<string>;
}

/** One round's files read and re-validated: each file's passing records, and the events to send (one per event_id not acknowledged yet). */
async function readRound(files: RecordFile[], { deps, dir, markers, options, ctx, report, acked }: RoundContext): Promise<{ pending: Pending[]; events: Map<string, ReplayEvent> }> {
  const pending: Pending[] = [];
  // One event per event_id: the first record of it found is sent.
  const events = new Map<string, ReplayEvent>();
  await forEachLimited(files, deps.downloadConcurrency, async (file, i) => {
    try {
      const markerGeneration = markers.get(markerName(file.name));
      const marker = markerGeneration === undefined ? undefined : await readMarker(deps.lake, file.name, join(dir, `${i}.marker`), markerGeneration);
      const text = await readObject(deps.lake, file.name, join(dir, `${i}.jsonl`));
      if (text === undefined) return; // gone since the listing (expired, or erased empty)
      report.files += 1;
      const done = new Set(marker?.marker.replayed.map((r) => r.key));
      const entry: Pending = { file, marker, passed: [] };
      for (const line of parseRecordFile(text)) {
        if (!line.ok) {
          report.records += 1;
          addFailure(report, { file: file.name, line: line.line, reasons: [{ path: '', message: line.reason }] });
          continue;
        }
        const { record } = line;
        if (!isRecordSelected(record, options)) continue;
        if (options.logType !== undefined && recordLogType(record, file.logType) !== options.logType) continue;
        report.records += 1;
        const key = recordKey(record, line.line);
        if (done.has(key)) {
          report.alreadyReplayed += 1;
          continue;
        }
        const outcome = revalidate(record, file.logType, ctx);
        if (!outcome.ok) {
          addFailure(report, {
            file: file.name,
            line: line.line,
            ...(typeof record.event_id === 'string' ? { event_id: record.event_id } : {}),
            ...(outcome.logType === undefined ? {} : { log_type: outcome.logType }),
            reasons: outcome.reasons,
          });
          continue;
        }
        report.passed += 1;
        const { eventId } = outcome.replay;
        entry.passed.push({ key, eventId });
        if (!acked.has(eventId) && !events.has(eventId)) events.set(eventId, outcome.replay);
      }
      if (entry.passed.length > 0) pending.push(entry);
    } catch (err) {
      report.errors.push({ what: file.name, reason: (err as Error).message });
    }
  });
  return { pending, events };
}

/** Each file's marker gains its records whose events Pub/Sub acknowledged (in this round or an earlier one). */
async function markRound(pending: Pending[], acked: ReadonlySet<string>, at: string, lake: LakeStore, dir: string, report: ReplayReport): Promise<void> {
  for (const entry of pending) {
    const sent = entry.passed.filter((p) => acked.has(p.eventId));
    if (sent.length === 0) continue;
    const added = sent.map((p) => ({ key: p.key, event_id: p.eventId, at }));
    try {
      await writeMarker(lake, entry, added, join(dir, 'marker-out'));
      report.replayed += sent.length;
    } catch (err) {
      report.errors.push({ what: markerName(entry.file.name), reason: `published, but the marker could not be written (a rerun sends them again, deduplicated by event_id): ${(err as Error).message}` });
    }
  }
}

function addFailure(report: ReplayReport, failure: ReplayFailure): void {
  report.stillFailing += 1;
  if (report.failures.length < MAX_LISTED_FAILURES) report.failures.push(failure);
}

/** Publishes the events, one log type and PII mark per message; returns the event_ids Pub/Sub acknowledged. */
async function publishAll(events: ReplayEvent[], publisher: ReplayPublisher, report: ReplayReport): Promise<Set<string>> {
  const groups = new Map<string, ReplayEvent[]>();
  for (const event of events) {
    const key = `${event.logType}\n${event.piiProtected ?? ''}`;
    const group = groups.get(key);
    if (group) group.push(event);
    else groups.set(key, [event]);
  }
  const messages: Array<{ data: Buffer; attributes: Record<string, string> }> = [];
  const carried: string[][] = [];
  for (const group of groups.values()) {
    const first = group[0]!;
    try {
      const batches = await encodeBatches(first.logType, group.map((e) => e.event), {
        source: REPLAY_SOURCE,
        ...(first.piiProtected === undefined ? {} : { piiProtected: first.piiProtected }),
      });
      for (const batch of batches) {
        messages.push({ data: batch.data, attributes: batch.attributes });
        carried.push(batch.indexes.map((i) => group[i]!.eventId));
      }
    } catch (err) {
      // Only an event too large for any message; it passed validation, so it is far beyond the shape limits.
      report.errors.push({ what: `${first.logType} events`, reason: (err as Error).message });
    }
  }
  const outcomes = await publisher.publish(messages);
  const acked = new Set<string>();
  outcomes.forEach((outcome, i) => {
    if (outcome.ok) {
      report.messages += 1;
      for (const id of carried[i]!) acked.add(id);
    } else {
      report.errors.push({ what: `a message of ${carried[i]!.length} events`, reason: `Pub/Sub refused it (run the replay again): ${String((outcome.error as Error)?.message ?? outcome.error)}` });
    }
  });
  report.eventsPublished += acked.size;
  return acked;
}

async function readObject(lake: LakeStore, name: string, path: string): Promise<string | undefined> {
  try {
    await lake.download(name, path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    return await readFile(path, 'utf8');
  } finally {
    // Read whole: the copy on disk (memory, on Cloud Run) is not needed again.
    await rm(path, { force: true });
  }
}

/**
 * The file's marker with the generation it was listed at (listed again when not given); undefined
 * when there is none. A rewrite between the listing and the download leaves the generation older
 * than the content read, which the marker's rewrite precondition then catches.
 */
async function readMarker(lake: LakeStore, file: string, path: string, listedGeneration?: string): Promise<{ marker: ReplayMarker; generation: string } | undefined> {
  const name = markerName(file);
  const generation = listedGeneration ?? (await lake.list(name)).find((o) => o.name === name)?.generation;
  if (generation === undefined) return undefined;
  const text = await readObject(lake, name, path);
  if (text === undefined) return undefined;
  return { marker: parseMarker(text, file), generation };
}

/** Creates the marker, or rewrites exactly the generation read; when another replay wrote it meanwhile, reads it again and merges. */
async function writeMarker(lake: LakeStore, entry: Pending, added: ReplayMarker['replayed'], path: string): Promise<void> {
  const name = markerName(entry.file.name);
  let current = entry.marker;
  for (let round = 1; ; round++) {
    const merged = mergeMarker(current?.marker, entry.file.name, entry.file.generation, added);
    const out = `${path}-${round}`;
    await writeFile(out, `${JSON.stringify(merged)}\n`);
    try {
      if (current) await lake.rewrite(name, out, 'application/json', current.generation);
      else await lake.create(name, out, 'application/json');
      return;
    } catch (err) {
      if (!(err instanceof PreconditionFailed) || round === MARKER_ROUNDS) throw err;
      current = await readMarker(lake, entry.file.name, `${out}.read`);
    } finally {
      await rm(out, { force: true });
    }
  }
}
