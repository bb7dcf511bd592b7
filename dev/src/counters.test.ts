import { signal } from '@strata/runtime';
import { captureLogs } from '@strata/runtime/signals-testing';
import { describe, expect, it } from 'vitest';
import { createCounters } from './counters.js';

describe('createCounters', () => {
  it('tallies the signals each service emits, by name, and ignores every other line', () => {
    const counters = createCounters(() => 42);
    const ingest = captureLogs('ingest');
    const writer = captureLogs('writer');
    const curator = captureLogs('curator');
    signal(ingest.logger, 'ingest.events_accepted', { accepted: 5, published: 5, messages: 2 });
    signal(ingest.logger, 'ingest.events_rejected', { rejected: 2, quarantined: true });
    signal(writer.logger, 'writer.partition_flushed', { log_type: 'user_action', rows: 5, bytes: 900, flushLatencyMs: 120 });
    signal(writer.logger, 'writer.quarantined', { log_type: 'user_action', count: 2 });
    signal(writer.logger, 'writer.dead_letters_filed', { log_type: 'order_event', count: 1 });
    signal(curator.logger, 'curator.day_failed', { day: 'user_action/2025-03-01', reason: 'corrupt' });
    const run = { scope: 'window', durationMs: 80, daysChanged: 2, daysCurated: 1, daysFailed: 1, daysLocked: 0, daysLeft: 0, stoppedAtBudget: false, rollupRows: 7, duplicatesRemoved: 0, compactions: 0, compactionsFailed: 0, failures: 1, lagSeconds: 30 };
    signal(curator.logger, 'curator.run_finished', run);
    // The old contract (a message without a signal) and a signal from the wrong process count nothing.
    ingest.lines.push({ service: 'ingest', message: 'events accepted', accepted: 100, published: 100 });
    for (const line of ingest.lines) counters.record('ingest', line);
    for (const line of writer.lines) counters.record('writer', line);
    for (const line of curator.lines) counters.record('curator', line);
    counters.record('curator', writer.lines[0]!);

    expect(counters.values()).toEqual({
      accepted: 5,
      rejected: 2,
      published: 5,
      rowsWritten: 5,
      bytesWritten: 900,
      files: 1,
      quarantined: 2,
      deadLettered: 1,
      curatorRuns: 1,
      rollupRows: 7,
      daysFailed: 1,
      curatorLagSeconds: 30,
    });
    expect(counters.flushes()).toEqual([{ at: 42, rows: 5 }]);
  });
});
