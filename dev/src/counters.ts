import type { ServiceName } from './service-process.js';

/**
 * Live pipeline counters, tallied from the services' structured log lines — the same lines
 * log-based metrics would count in Cloud Logging, so no debug endpoint is needed.
 */
export interface CounterValues {
  accepted: number;
  rejected: number;
  published: number;
  rowsWritten: number;
  files: number;
  quarantined: number;
  curatorRuns: number;
  rollupRows: number;
}

/** One `partition flushed` line: when this process saw it, and how many rows that file holds. */
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

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

export function createCounters(now: () => number = Date.now): Counters {
  const v: CounterValues = { accepted: 0, rejected: 0, published: 0, rowsWritten: 0, files: 0, quarantined: 0, curatorRuns: 0, rollupRows: 0 };
  const flushes: Flush[] = [];
  return {
    values: () => ({ ...v }),
    flushes: () => flushes,
    record(service, line) {
      const key = `${service}:${String(line.message)}`;
      switch (key) {
        case 'ingest:events accepted':
          v.accepted += num(line.accepted);
          v.published += num(line.published);
          break;
        case 'ingest:events rejected':
          v.rejected += num(line.rejected);
          break;
        case 'writer:partition flushed':
          v.rowsWritten += num(line.rows);
          v.files += 1;
          // Arrival time here, not the line's own: one clock for everything the stack measures.
          flushes.push({ at: now(), rows: num(line.rows) });
          break;
        case 'writer:quarantined':
          v.quarantined += num(line.count);
          break;
        case 'curator:curation run finished':
          v.curatorRuns += 1;
          v.rollupRows += num(line.rollupRows);
          break;
      }
    },
  };
}
