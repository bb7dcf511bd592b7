import { partitionKey, partitionPrefix, type Partition, type Registry } from '@strata/schemas';
import type { Logger } from '@strata/runtime';
import { ulid } from 'ulid';
import type { Admission } from './admit.js';
import type { LakeStore } from './lake-store.js';
import { encodeParquet, PARQUET_CONTENT_TYPE } from './parquet.js';
import {
  createPartitionBuffer,
  type AddResult,
  type BufferLimits,
  type FlushSummary,
} from './partition-buffer.js';
import {
  encodeQuarantine,
  QUARANTINE_CONTENT_TYPE,
  quarantineKey,
  quarantinePrefix,
  type QuarantineGroup,
  type QuarantineRecord,
} from './quarantine.js';

/**
 * Turns admitted messages into lake objects: rows are batched per event-time partition into
 * Parquet files, quarantined messages per log type and publish date into JSON Lines files.
 * Both kinds answer their push only once their object is written.
 */
export interface LakeWriter {
  write(admission: Admission): AddResult;
  flushAll(): Promise<FlushSummary>;
  bufferedRows(): number;
}

export interface LakeWriterDeps {
  store: LakeStore;
  registry: Pick<Registry, 'columns'>;
  logger: Logger;
  /** Rows and quarantine records are buffered separately, each within these limits. */
  limits: BufferLimits;
  /** Unique object names; ULIDs sort by creation time. */
  newId?: () => string;
}

export function createLakeWriter({ store, registry, logger, limits, newId = ulid }: LakeWriterDeps): LakeWriter {
  const rows = createPartitionBuffer<Partition, Record<string, unknown>>({
    limits,
    keyOf: partitionKey,
    async flush(partition, batch) {
      const fields = { log_type: partition.logType, dt: partition.dt, hr: partition.hr, rows: batch.length };
      const object = `${partitionPrefix(partition)}${newId()}.parquet`;
      try {
        const bytes = encodeParquet(registry.columns(partition.logType), batch);
        await store.put(object, bytes, PARQUET_CONTENT_TYPE);
        // The local stack counts these lines; keep the message and fields stable.
        logger.info({ ...fields, bytes: bytes.length, object }, 'partition flushed');
      } catch (err) {
        logger.error({ ...fields, object, err }, 'partition flush failed');
        throw err;
      }
    },
  });

  const quarantined = createPartitionBuffer<QuarantineGroup, QuarantineRecord>({
    limits,
    keyOf: quarantineKey,
    async flush(group, records) {
      const fields = { log_type: group.logType, count: records.length };
      const object = `${quarantinePrefix(group)}${newId()}.jsonl`;
      try {
        await store.put(object, encodeQuarantine(records), QUARANTINE_CONTENT_TYPE);
        logger.info({ ...fields, object }, 'quarantined');
      } catch (err) {
        logger.error({ ...fields, object, err }, 'quarantine flush failed');
        throw err;
      }
    },
  });

  return {
    write(admission) {
      return admission.kind === 'row'
        ? rows.add(admission.partition, admission.row, admission.bytes)
        : quarantined.add(admission.group, admission.record, admission.bytes);
    },
    async flushAll() {
      const [a, b] = await Promise.all([rows.flushAll(), quarantined.flushAll()]);
      return { batches: a.batches + b.batches, failed: a.failed + b.failed };
    },
    bufferedRows: () => rows.bufferedRows() + quarantined.bufferedRows(),
  };
}
