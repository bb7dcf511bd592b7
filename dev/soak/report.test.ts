import { describe, expect, it } from 'vitest';
import { soakWindow } from './analysis.js';
import { keptEverything, renderReport, type SoakSummary } from './report.js';

const T0 = Date.UTC(2026, 11, 1, 12);
const summary: SoakSummary = {
  startedAt: new Date(T0),
  command: 'npm run soak -- --minutes 1',
  machine: '2 × test CPU',
  minutes: 1,
  rate: 2000,
  batchSize: 100,
  flushMaxAgeMs: 5000,
  curatorMemoryLimit: '192MiB',
  sampleSeconds: 2,
  warmUpFraction: 0.2,
  window: soakWindow(T0, T0 + 60_000, 0.2, 5000),
  producer: { at: T0 + 61_000, startedAt: T0, sent: 120_000, accepted: 120_000, retries: 3, refused: 0, abandoned: 0, inFlight: 0, done: true },
  drain: { outcome: 'drained', queued: 0, withWriter: 0, ms: 980 },
  reconciliation: { accepted: 120_000, inLake: 120_000, lost: 0, duplicatesRaw: 7, duplicatesAfterDedup: 0, unaccepted: 0 },
  freshness: { all: { count: 120_000, p50: 3340, p99: 8590, max: 8820 }, afterWarmUp: { count: 96_000, p50: 2820, p99: 5900, max: 6200 } },
  memory: [
    { name: 'writer', startMiB: 167, endMiB: 358, peakMiB: 385, slopeMiBPerMinute: 8.48, floorSlopeMiBPerMinute: 6.1, lateFloorSlopeMiBPerMinute: 5.2 },
    // Spikes tilt its plain slope, and its heap settled after the warm-up; over the second half its floor is flat.
    { name: 'curator', startMiB: 169, endMiB: 168, peakMiB: 170, slopeMiBPerMinute: 2.5, floorSlopeMiBPerMinute: 1.8, lateFloorSlopeMiBPerMinute: 0.2 },
  ],
};

describe('renderReport', () => {
  const report = renderReport(summary);
  const row = (measure: string) => report.split('\n').find((line) => line.startsWith(`| ${measure} |`));

  it('judges each figure against its goal', () => {
    expect(row('**lost** (accepted, not in the lake)')).toBe('| **lost** (accepted, not in the lake) | **0** | 0 | ✅ |');
    expect(row('**freshness p99**')).toBe('| **freshness p99** | **8.59 s** | ≤ 7.00 s (flush age + 2 s) | ❌ |');
    expect(row('accepted rate')).toBe('| accepted rate | 2,000 ev/s | 2,000 ev/s | ✅ |');
    expect(row('duplicates in the lake (raw)')).toBe('| duplicates in the lake (raw) | 7 |  |  |');
  });

  it('calls memory that grows faster than the threshold not flat, and shrinking memory flat', () => {
    expect(row('writer')).toBe('| writer | 167 | 358 | 385 | 8.48 | 6.10 | 5.20 | ❌ |');
    expect(row('curator')).toBe('| curator | 169 | 168 | 170 | 2.50 | 1.80 | 0.20 | ✅ |');
    // The header, its separator and every row have as many cells.
    const lines = report.split('\n');
    const header = lines.findIndex((line) => line.startsWith('| process |'));
    const cells = (line: string | undefined) => line!.split('|').length;
    expect(cells(lines[header + 1])).toBe(cells(lines[header]));
    expect(cells(row('writer'))).toBe(cells(lines[header]));
  });

  it('says what bounded the curator: its DuckDB memory limit', () => {
    expect(report).toContain('curator `CURATOR_DUCKDB_MEMORY_LIMIT` 192MiB');
  });

  it('links the three plots', () => {
    for (const plot of ['throughput.svg', 'freshness.svg', 'memory.svg']) expect(report).toContain(`](${plot})`);
  });
});

describe('keptEverything', () => {
  it('holds only when the drain finished and nothing was lost or left duplicated after dedup', () => {
    expect(keptEverything(summary)).toBe(true);
    expect(keptEverything({ ...summary, reconciliation: { ...summary.reconciliation, lost: 1 } })).toBe(false);
    expect(keptEverything({ ...summary, reconciliation: { ...summary.reconciliation, duplicatesAfterDedup: 1 } })).toBe(false);
    expect(keptEverything({ ...summary, drain: { ...summary.drain, outcome: 'timed out' } })).toBe(false);
  });
});
