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

export interface Counters {
  values(): CounterValues;
  record(service: ServiceName, line: Record<string, unknown>): void;
}

const num = (value: unknown) => (typeof value === 'number' ? value : 0);

export function createCounters(): Counters {
  const v: CounterValues = { accepted: 0, rejected: 0, published: 0, rowsWritten: 0, files: 0, quarantined: 0, curatorRuns: 0, rollupRows: 0 };
  return {
    values: () => ({ ...v }),
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
