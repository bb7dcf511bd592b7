import { readSignal, SIGNALS } from '@strata/runtime';
import type { ServiceName } from './service-process.js';

/**
 * Live pipeline counters, tallied from the signals the services log (runtime/src/signals.ts) — the
 * same lines the cloud's log-based metrics count, so no debug endpoint is needed. Lines are read
 * by their `signal` name, never by their message.
 */
export interface CounterValues {
  accepted: number;
  rejected: number;
  published: number;
  rowsWritten: number;
  /** Bytes of the Parquet files written. */
  bytesWritten: number;
  files: number;
  quarantined: number;
  /** Records filed under dead-letter/. */
  deadLettered: number;
  curatorRuns: number;
  rollupRows: number;
  /** Days curation runs could not curate (each retried next run). */
  daysFailed: number;
  /** The last run's lagSeconds: how long its oldest uncurated change had waited. */
  curatorLagSeconds: number;
}

/** One `writer.partition_flushed` signal: when this process saw it, and how many rows that file holds. */
export interface Flush {
  at: number;
  rows: number;
}

export interface Counters {
  values(): CounterValues;
  /** Every file written so far, oldest first: when rows landed in the lake (the benchmark's clock). */
  flushes(): readonly Flush[];
  record(service: ServiceName, line: Record<string, unknown>): void;
}

export function createCounters(now: () => number = Date.now): Counters {
  const v: CounterValues = {
    accepted: 0,
    rejected: 0,
    published: 0,
    rowsWritten: 0,
    bytesWritten: 0,
    files: 0,
    quarantined: 0,
    deadLettered: 0,
    curatorRuns: 0,
    rollupRows: 0,
    daysFailed: 0,
    curatorLagSeconds: 0,
  };
  const flushes: Flush[] = [];
  return {
    values: () => ({ ...v }),
    flushes: () => flushes,
    record(service, line) {
      const s = readSignal(line);
      // A signal counts only from the service it is declared for.
      if (!s || SIGNALS[s.name].service !== service) return;
      switch (s.name) {
        case 'ingest.events_accepted':
          v.accepted += s.fields.accepted;
          v.published += s.fields.published;
          break;
        case 'ingest.events_rejected':
          v.rejected += s.fields.rejected;
          break;
        case 'writer.partition_flushed':
          v.rowsWritten += s.fields.rows;
          v.bytesWritten += s.fields.bytes;
          v.files += 1;
          // Arrival time here, not the line's own: one clock for everything the stack measures.
          flushes.push({ at: now(), rows: s.fields.rows });
          break;
        case 'writer.quarantined':
          v.quarantined += s.fields.count;
          break;
        case 'writer.dead_letters_filed':
          v.deadLettered += s.fields.count;
          break;
        case 'curator.run_finished':
          v.curatorRuns += 1;
          v.rollupRows += s.fields.rollupRows;
          v.curatorLagSeconds = s.fields.lagSeconds;
          break;
        case 'curator.day_failed':
          v.daysFailed += 1;
          break;
      }
    },
  };
}
