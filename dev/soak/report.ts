import type { DrainResult } from '../src/stack.js';
import type { Reconciliation } from '../src/reconcile.js';
import { freshnessOverTime, rssOverTime, throughputOf, type Freshness, type ProcessMemory, type Window } from './analysis.js';
import type { LandedEvents } from './landed-events.js';
import type { ProducerTick } from './producer.js';
import type { RssSeries } from './rss-sampler.js';
import { lineChart, type Series } from './svg-chart.js';

/** What one soak run measured, as the report needs it. */
export interface SoakSummary {
  startedAt: Date;
  command: string;
  machine: string;
  minutes: number;
  rate: number;
  batchSize: number;
  flushMaxAgeMs: number;
  /** The curator's DuckDB memory_limit (CURATOR_DUCKDB_MEMORY_LIMIT), what bounds its run peaks; its default when unset. */
  curatorMemoryLimit: string | undefined;
  sampleSeconds: number;
  warmUpFraction: number;
  window: Window;
  producer: ProducerTick;
  drain: DrainResult;
  reconciliation: Reconciliation;
  freshness: Freshness;
  memory: ProcessMemory[];
}

/** The goals of issue 11: p99 freshness within the flush age + 2 s, memory flat after warm-up, 0 lost. */
const FRESHNESS_MARGIN_MS = 2_000;
/**
 * What "flat" means here: growing at most 1 MiB a minute, 10 MiB over the 10-minute run, within
 * what the heap's GC cycles move RSS by. Shrinking is flat too: it is not a leak.
 */
export const FLAT_MIB_PER_MINUTE = 1;

export const freshnessGoalMs = (flushMaxAgeMs: number) => flushMaxAgeMs + FRESHNESS_MARGIN_MS;

const n = (value: number, digits = 0) =>
  Number.isFinite(value) ? value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : 'n/a';
const s = (ms: number) => `${n(ms / 1000, 2)} s`;
const verdict = (ok: boolean) => (ok ? '✅' : '❌');

/** Whether the run kept every accepted event exactly once after dedup, and drained. */
export function keptEverything(summary: SoakSummary): boolean {
  const { reconciliation: r, drain } = summary;
  return drain.outcome === 'drained' && r.lost === 0 && r.duplicatesAfterDedup === 0;
}

export function renderReport(summary: SoakSummary): string {
  const { producer: p, reconciliation: r, freshness: f, window: w } = summary;
  const loadSeconds = (w.loadEndedAt - w.loadStartedAt) / 1000;
  const goalMs = freshnessGoalMs(summary.flushMaxAgeMs);
  const warmUpSeconds = (w.warmUpEndsAt - w.loadStartedAt) / 1000;
  const rows: Array<[string, string, string, string]> = [
    ['events sent', n(p.sent), '', ''],
    ['events accepted (202)', n(p.accepted), '', ''],
    ['accepted rate', `${n(p.accepted / loadSeconds)} ev/s`, `${n(summary.rate)} ev/s`, verdict(p.accepted / loadSeconds >= summary.rate * 0.99)],
    ['requests retried (429, 503, connection lost)', n(p.retries), '', ''],
    ['events refused / abandoned', `${n(p.refused)} / ${n(p.abandoned)}`, '0 / 0', verdict(p.refused + p.abandoned === 0)],
    ['**lost** (accepted, not in the lake)', `**${n(r.lost)}**`, '0', verdict(r.lost === 0)],
    ['duplicates in the lake (raw)', n(r.duplicatesRaw), '', ''],
    ['**duplicates after dedup**', `**${n(r.duplicatesAfterDedup)}**`, '0', verdict(r.duplicatesAfterDedup === 0)],
    ['in the lake, never accepted', n(r.unaccepted), '', ''],
    ['drain after the load', `${summary.drain.outcome}, ${s(summary.drain.ms)}`, 'drained', verdict(summary.drain.outcome === 'drained')],
    ['freshness p50', s(f.all.p50), '', ''],
    ['**freshness p99**', `**${s(f.all.p99)}**`, `≤ ${s(goalMs)} (flush age + 2 s)`, verdict(f.all.p99 <= goalMs)],
    ['freshness max', s(f.all.max), '', ''],
    [`freshness p50 / p99 / max after warm-up`, `${s(f.afterWarmUp.p50)} / ${s(f.afterWarmUp.p99)} / ${s(f.afterWarmUp.max)}`, `p99 ≤ ${s(goalMs)}`, verdict(f.afterWarmUp.p99 <= goalMs)],
  ];
  const slopeText = (slope: number | undefined) => (slope === undefined ? 'n/a' : n(slope, 2));
  const memoryRows = summary.memory.map((m) => {
    const flat = m.lateFloorSlopeMiBPerMinute !== undefined && m.lateFloorSlopeMiBPerMinute <= FLAT_MIB_PER_MINUTE;
    const slopes = [m.slopeMiBPerMinute, m.floorSlopeMiBPerMinute, m.lateFloorSlopeMiBPerMinute].map(slopeText).join(' | ');
    return `| ${m.name} | ${n(m.startMiB)} | ${n(m.endMiB)} | ${n(m.peakMiB)} | ${slopes} | ${verdict(flat)} |`;
  });
  return `# Soak run: ${n(summary.minutes, 1)} min at ${n(summary.rate)} events/s

- \`${summary.command}\`, started ${summary.startedAt.toISOString()} on ${summary.machine}
- the local stack (\`startStack\`: both emulators and PGlite in the soak's own process, each service a process of its own) in a temp folder; writer \`FLUSH_MAX_AGE_MS\` ${n(summary.flushMaxAgeMs)}; curator \`CURATOR_DUCKDB_MEMORY_LIMIT\` ${summary.curatorMemoryLimit ?? 'unset (its default)'}
- ${n(summary.batchSize)}-event batches with client-side ULID event_ids; RSS sampled every ${n(summary.sampleSeconds)} s
- warm-up: the first ${n(summary.warmUpFraction * 100)}% of the load (${n(warmUpSeconds)} s), left out of the memory slopes and of the "after warm-up" figures

| measure | value | goal | |
| --- | --- | --- | --- |
${rows.map((row) => `| ${row.join(' | ')} |`).join('\n')}

## Memory (RSS)

| process | start (MiB) | end (MiB) | peak (MiB) | slope after warm-up (MiB/min) | floor slope after warm-up | floor slope, second half | flat (second-half floor slope ≤ ${FLAT_MIB_PER_MINUTE} MiB/min) |
| --- | --- | --- | --- | --- | --- | --- | --- |
${memoryRows.join('\n')}

## Plots

![Throughput over time](throughput.svg)

![Freshness over time](freshness.svg)

![RSS per process over time](memory.svg)

## Definitions

- **accepted**: event_ids ingest answered 202 for, as the producer recorded them. A batch answered 429,
  503 or not at all is sent again with the same ids, up to 2 minutes (then its events are *abandoned*);
  the copies a partial 503 had published already are the raw duplicates that dedup removes.
- **lost**: accepted event_ids not in the lake (\`events/\` under any log type) once the stack drained:
  ingest stopped, then the push subscription held nothing, then every service stopped. Reconciled in
  DuckDB (\`dev/src/reconcile.ts\`).
- **duplicates**: lake rows − distinct event_ids (raw); the same over the \`<log_type>_deduped\` views
  that \`npm run query\` and the rollups read (after dedup).
- **freshness** (accepted → queryable), per event: the creation time of the first Parquet file holding it
  (the mtime of the file the GCS emulator renames into place when the upload completes) − its
  \`received_at\` (ingest's clock on receipt). Over time, by when the event was received.
- **slope**: least-squares line through the RSS samples after the warm-up (\`VmRSS\` of
  \`/proc/<pid>/status\`); **floor slope**: the same through each whole minute's lowest sample, the
  level RSS returns to after each GC, after the warm-up and over the second half of the load. The
  verdict is on the second half's floor: a leak keeps raising it to the end, while a heap still
  settling moves it early on, and a GC sawtooth or the curator's run spikes tilt the plain slope
  without any growth. Every sample is in \`rss.csv\` beside this report. The stack's
  process also hosts both emulators and PGlite. The curator runs every 30 s, as under Cloud
  Scheduler (\`--curator-seconds\`); its compaction leaves the soak's files alone (it rewrites hours
  two hours after they end), so the file times freshness reads stay the writer's.
`;
}

/** The report's plots by file name. */
export function renderCharts(summary: SoakSummary, ticks: ProducerTick[], landed: LandedEvents, rss: RssSeries[]): Record<string, string> {
  const w = summary.window;
  const span = (y: number): Array<[number, number]> => [[0, y], [(w.loadEndedAt - w.loadStartedAt) / 1000, y]];
  const throughput = throughputOf(ticks, landed, w);
  const freshness = freshnessOverTime(landed, w);
  const chart = (title: string, yLabel: string, series: Series[]) => lineChart({ title, xLabel: 'seconds since the load started', yLabel, series });
  return {
    'throughput.svg': chart('Throughput', 'events / s', [
      { name: 'accepted by ingest', points: throughput.accepted },
      { name: 'landed in the lake', points: throughput.landed },
      { name: 'target rate', points: span(summary.rate), dashed: true },
    ]),
    'freshness.svg': chart('Freshness (accepted → queryable), by time received', 'seconds', [
      { name: 'p50', points: freshness.p50 },
      { name: 'p99', points: freshness.p99 },
      { name: 'max', points: freshness.max },
      { name: 'goal: flush age + 2 s', points: span(freshnessGoalMs(summary.flushMaxAgeMs) / 1000), dashed: true },
    ]),
    'memory.svg': chart('RSS per process', 'MiB', rssOverTime(rss, w)),
    'rss.csv': ['seconds_since_load_start,process,rss_mib', ...rss.flatMap(({ name, samples }) => samples.map(([at, mib]) => `${((at - w.loadStartedAt) / 1000).toFixed(1)},${name},${mib.toFixed(1)}`))].join('\n') + '\n',
  };
}
