import { partitionKey, partitionPrefix, type Partition, type Registry } from '@strata/schemas';
import { createUlidFactory, type Logger } from '@strata/runtime';
import type { Admission } from './admit.js';
import { createBatchBuffer, type AddResult, type BufferStats, type FlushLimits, type FlushSummary } from './flush-policy.js';
import type { LakeStore } from './lake-store.js';
import { encodeParquet, PARQUET_CONTENT_TYPE } from './parquet.js';
import {
  encodeQuarantine,
  QUARANTINE_CONTENT_TYPE,
  quarantineKey,
  quarantinePrefix,
  type QuarantineGroup,
  type QuarantineRecord,
} from './quarantine.js';

/**
 * Turns admitted events into lake objects: rows are batched per event-time partition into Parquet
 * files, quarantine records per log type and publish date into JSON Lines files. Both share one
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
}

type Group = { kind: 'rows'; partition: Partition } | { kind: 'quarantine'; folder: QuarantineGroup };
type Item = Record<string, unknown> | QuarantineRecord;

export function createLakeWriter({ store, registry, logger, limits, newId = createUlidFactory() }: LakeWriterDeps): LakeWriter {
  async function writeRows(partition: Partition, rows: Record<string, unknown>[]): Promise<void> {
    const fields = { log_type: partition.logType, dt: partition.dt, hr: partition.hr, rows: rows.length };
    const object = `${partitionPrefix(partition)}${newId()}.parquet`;
    try {
      // Encoding is synchronous CPU work; let pending I/O (answers, uploads) run before each file.
      await new Promise((resolve) => setImmediate(resolve));
      const bytes = encodeParquet(registry.columns(partition.logType), rows);
      await store.put(object, bytes, PARQUET_CONTENT_TYPE);
      // The local stack counts these lines; keep the message and fields stable.
      logger.info({ ...fields, bytes: bytes.length, object }, 'partition flushed');
    } catch (err) {
      logger.error({ ...fields, object, err }, 'partition flush failed');
      throw err;
    }
  }

  async function writeQuarantine(folder: QuarantineGroup, records: QuarantineRecord[]): Promise<void> {
    const fields = { log_type: folder.logType, count: records.length };
    const object = `${quarantinePrefix(folder)}${newId()}.jsonl`;
    try {
      await store.put(object, encodeQuarantine(records), QUARANTINE_CONTENT_TYPE);
      logger.info({ ...fields, object }, 'quarantined');
    } catch (err) {
      logger.error({ ...fields, object, err }, 'quarantine flush failed');
      throw err;
    }
  }

  const buffer = createBatchBuffer<Group, Item>({
    limits,
    keyOf: (group) => (group.kind === 'rows' ? `rows/${partitionKey(group.partition)}` : `quarantine/${quarantineKey(group.folder)}`),
    flush: (group, items) =>
      group.kind === 'rows' ? writeRows(group.partition, items as Record<string, unknown>[]) : writeQuarantine(group.folder, items as QuarantineRecord[]),
  });

  return {
    write: (admissions) =>
      buffer.add(
        admissions.map((a) =>
          a.kind === 'row'
            ? { group: { kind: 'rows', partition: a.partition }, item: a.row, bytes: a.bytes }
            : { group: { kind: 'quarantine', folder: a.group }, item: a.record, bytes: a.bytes },
        ),
      ),
    flushAll: () => buffer.flushAll(),
    stats: () => buffer.stats(),
    full: () => buffer.full(),
  };
}
