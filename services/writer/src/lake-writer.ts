import { DEAD_LETTER_ROOT, JSON_LINES_CONTENT_TYPE, partitionKey, partitionPrefix, QUARANTINE_ROOT, type Partition, type Registry } from '@strata/schemas';
import { createUlidFactory, signal, type Logger } from '@strata/runtime';
import type { Admission } from './admit.js';
import { createBatchBuffer, type AddResult, type BufferStats, type FlushLimits, type FlushSummary } from './flush-policy.js';
import type { LakeStore } from './lake-store.js';
import { encodeParquet, PARQUET_CONTENT_TYPE } from './parquet.js';
import { encodeRecords, recordsKey, recordsPrefix, type Filed, type QuarantineRecord, type RecordFolder } from './quarantine.js';

/**
 * Turns admitted events into lake objects: rows are batched per event-time partition into Parquet
 * files, quarantine and dead-letter records per zone, log type and publish date into JSON Lines files. All share one
 * buffer, so one byte budget bounds the writer's memory. A push is answered only once every object
 * holding one of its events is written.
 */
export interface LakeWriter {
  /** All of one message's admissions, or none of them (backpressure). */
  write(admissions: readonly Admission[]): AddResult;
  flushAll(): Promise<FlushSummary>;
  stats(): BufferStats;
  /** True while any message would be refused: the push can be answered 429 before it is decoded. */
  full(): boolean;
}

export interface LakeWriterDeps {
  store: LakeStore;
  registry: Pick<Registry, 'columns'>;
  logger: Logger;
  limits: FlushLimits;
  /** Unique object names; ULIDs sort by creation time. */
  newId?: () => string;
  /** The buffer's clock, which flush latency is measured on. */
  now?: () => number;
}

type Zone = Filed['kind'];
type Group = { kind: 'rows'; partition: Partition } | { kind: 'records'; zone: Zone; folder: RecordFolder };

/** Each JSON-lines zone: its root in the lake, and the signal emitted per file (runtime/src/signals.ts). */
const ZONES: Record<Zone, { root: string; signal: 'writer.quarantined' | 'writer.dead_letters_filed' }> = {
  quarantine: { root: QUARANTINE_ROOT, signal: 'writer.quarantined' },
  'dead-letter': { root: DEAD_LETTER_ROOT, signal: 'writer.dead_letters_filed' },
};
type Item = Record<string, unknown> | QuarantineRecord;

export function createLakeWriter({ store, registry, logger, limits, newId = createUlidFactory(), now = Date.now }: LakeWriterDeps): LakeWriter {
  async function writeRows(partition: Partition, rows: Record<string, unknown>[], openedAt: number): Promise<void> {
    const fields = { log_type: partition.logType, dt: partition.dt, hr: partition.hr, rows: rows.length };
    const object = `${partitionPrefix(partition)}${newId()}.parquet`;
    try {
      // Encoding is synchronous CPU work; let pending I/O (answers, uploads) run before each file.
      await new Promise((resolve) => setImmediate(resolve));
      const bytes = encodeParquet(registry.columns(partition.logType), rows);
      await store.put(object, bytes, PARQUET_CONTENT_TYPE);
      // Once the put resolved the file is durable: the batch's latency ends here.
      signal(logger, 'writer.partition_flushed', { log_type: fields.log_type, rows: fields.rows, bytes: bytes.length, flushLatencyMs: now() - openedAt }, { dt: fields.dt, hr: fields.hr, object });
    } catch (err) {
      logger.error({ ...fields, object, err }, 'partition flush failed');
      throw err;
    }
  }

  async function writeRecords(zone: Zone, folder: RecordFolder, records: QuarantineRecord[]): Promise<void> {
    const fields = { log_type: folder.logType, count: records.length };
    const object = `${recordsPrefix(ZONES[zone].root, folder)}${newId()}.jsonl`;
    try {
      await store.put(object, encodeRecords(records), JSON_LINES_CONTENT_TYPE);
      signal(logger, ZONES[zone].signal, fields, { object });
    } catch (err) {
      logger.error({ ...fields, object, err }, `${zone} flush failed`);
      throw err;
    }
  }

  const buffer = createBatchBuffer<Group, Item>({
    limits,
    now,
    keyOf: (group) => (group.kind === 'rows' ? `rows/${partitionKey(group.partition)}` : `${group.zone}/${recordsKey(group.folder)}`),
    flush: (group, items, openedAt) =>
      group.kind === 'rows' ? writeRows(group.partition, items as Record<string, unknown>[], openedAt) : writeRecords(group.zone, group.folder, items as QuarantineRecord[]),
  });

  return {
    write: (admissions) =>
      buffer.add(
        admissions.map((a) =>
          a.kind === 'row'
            ? { group: { kind: 'rows', partition: a.partition }, item: a.row, bytes: a.bytes }
            : { group: { kind: 'records', zone: a.kind, folder: a.group }, item: a.record, bytes: a.bytes },
        ),
      ),
    flushAll: () => buffer.flushAll(),
    stats: () => buffer.stats(),
    full: () => buffer.full(),
  };
}
