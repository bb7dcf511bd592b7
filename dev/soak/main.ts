/**
 * `npm run soak -- --minutes 10` (dev, not in CI): the whole local pipeline under a fixed rate for a
 * long while. It starts the local stack in a temp folder, has a producer process send
 * `--rate` events a second in `--batch`-event batches for `--minutes`, samples the RSS of the
 * stack's process and of every service, then drains, reconciles every accepted event_id against
 * the lake, measures freshness (accepted → queryable) per event, and writes a markdown report with
 * SVG plots into `--out`. It exits 1 when an accepted event is missing or duplicated after dedup.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PUSH_DELIVERY } from '@strata/schemas';
import { LOCAL, repoRoot } from '../src/local-config.js';
import { readIdsFile, reconcile } from '../src/reconcile.js';
import { startStack, type Stack } from '../src/stack.js';
import { freshnessOf, memoryOf, soakWindow } from './analysis.js';
import { landedEvents } from './landed-events.js';
import type { ProducerOptions, ProducerTick } from './producer.js';
import { keptEverything, renderCharts, renderReport, type SoakSummary } from './report.js';
import { startRssSampler } from './rss-sampler.js';

// This process talks to the emulators too; stop the auth library probing for a GCE metadata server.
process.env.METADATA_SERVER_DETECTION ??= 'none';

const WARM_UP_FRACTION = 0.2;
const STATUS_EVERY_MS = 10_000;

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      rate: { type: 'string', default: '2000' },
      batch: { type: 'string', default: '100' },
      out: { type: 'string', default: 'docs/soak' },
      'sample-seconds': { type: 'string', default: '2' },
      'drain-timeout-seconds': { type: 'string', default: '300' },
      'keep-data': { type: 'boolean', default: false },
      // As npm start does; 0 leaves the curator idle.
      'curator-seconds': { type: 'string', default: '30' },
      // The curator's CURATOR_DUCKDB_MEMORY_LIMIT; its default (1GiB) when absent.
      'curator-memory-limit': { type: 'string' },
    },
  });
  const positive = (name: keyof typeof values) => {
    const value = Number(values[name]);
    if (!Number.isFinite(value) || value <= 0) {
      process.stderr.write(`--${name} must be a positive number, got ${String(values[name])}\n`);
      process.exit(2);
    }
    return value;
  };
  return {
    minutes: positive('minutes'),
    rate: positive('rate'),
    batchSize: Math.round(positive('batch')),
    sampleSeconds: positive('sample-seconds'),
    drainTimeoutMs: positive('drain-timeout-seconds') * 1000,
    out: resolve(repoRoot, values.out!),
    keepData: values['keep-data']!,
    curatorEveryMs: Number(values['curator-seconds']) * 1000,
    curatorMemoryLimit: values['curator-memory-limit'],
  };
}

/** Runs the producer to its end; `onTick` sees its running totals every second. */
function runProducer(producer: ProducerOptions, onTick: (tick: ProducerTick) => void): { done: Promise<ProducerTick>; kill(): void } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'dev/soak/producer.ts'), JSON.stringify(producer)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let last: ProducerTick | undefined;
  createInterface({ input: child.stdout }).on('line', (line) => {
    last = JSON.parse(line) as ProducerTick;
    onTick(last);
  });
  const done = new Promise<ProducerTick>((resolveDone, reject) => {
    child.once('exit', (code, signal) => {
      if (code === 0 && last?.done) resolveDone(last);
      else reject(new Error(`the producer exited ${signal ?? code} before it finished`));
    });
  });
  return { done, kill: () => child.kill('SIGTERM') };
}

const fmt = (value: number) => value.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** The run itself; aborting `signal` (Ctrl-C) stops the producer and ends the drain's wait. */
async function soak(opts: ReturnType<typeof options>, stack: Stack, dataDir: string, signal: AbortSignal): Promise<SoakSummary & { files: Record<string, string> }> {
  const startedAt = new Date();
  const sampler = startRssSampler(
    {
      'stack (emulators, PGlite)': () => process.pid,
      ingest: () => stack.service('ingest').pid,
      writer: () => stack.service('writer').pid,
      curator: () => stack.service('curator').pid,
    },
    opts.sampleSeconds * 1000,
  );
  const idsFile = join(dataDir, 'accepted-ids.txt');
  const ticks: ProducerTick[] = [];
  let lastStatus: number | undefined;
  const producer = runProducer(
    { ingestUrl: stack.urls.ingest, apiKey: LOCAL.apiKey, rate: opts.rate, batchSize: opts.batchSize, seconds: opts.minutes * 60, idsFile },
    (tick) => {
      ticks.push(tick);
      if (tick.at - (lastStatus ?? tick.startedAt) < STATUS_EVERY_MS) return;
      lastStatus = tick.at;
      const backlog = stack.backlog();
      console.log(
        `  ${fmt((tick.at - tick.startedAt) / 1000)} s: ${fmt(tick.accepted)} of ${fmt(tick.sent)} events accepted, ${fmt(tick.retries)} retries, ` +
          `${fmt(tick.inFlight)} batches in flight; ${fmt(backlog.ready + backlog.delayed + backlog.outstanding)} messages queued for the writer`,
      );
    },
  );
  signal.addEventListener('abort', producer.kill, { once: true });
  // The curator works as it would under Cloud Scheduler, so its memory is sampled at work. Its
  // compaction leaves these files alone (it rewrites closed hours, two hours after they end), so
  // the file times freshness reads stay the writer's.
  let curatorRuns = 0;
  const curatorTimer =
    opts.curatorEveryMs > 0
      ? setInterval(() => {
          stack.runCurator().then(
            () => (curatorRuns += 1),
            (err: Error) => console.error(`  curator run failed: ${err.message}`),
          );
        }, opts.curatorEveryMs)
      : undefined;
  const final = await producer.done;
  clearInterval(curatorTimer);
  const rss = sampler.stop();
  console.log(`curator: ${curatorRuns} runs during the load`);

  console.log(`load done: ${fmt(final.accepted)} events accepted; draining…`);
  const drain = await stack.drain({ timeoutMs: opts.drainTimeoutMs, signal, onProgress: (queued) => console.log(`  draining: ${fmt(queued)} messages still queued for the writer…`) });
  await stack.stop();
  console.log(`drain ${drain.outcome} in ${(drain.ms / 1000).toFixed(1)} s; reconciling the lake…`);

  const reconciliation = await reconcile(readIdsFile(idsFile), dataDir);
  const landed = await landedEvents(dataDir);
  const window = soakWindow(final.startedAt, final.startedAt + opts.minutes * 60_000, WARM_UP_FRACTION, PUSH_DELIVERY.flushMaxAgeMs);
  const summary: SoakSummary = {
    startedAt,
    command: `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'CPU'}, Node ${process.version}`,
    minutes: opts.minutes,
    rate: opts.rate,
    batchSize: opts.batchSize,
    flushMaxAgeMs: PUSH_DELIVERY.flushMaxAgeMs,
    curatorMemoryLimit: opts.curatorMemoryLimit,
    sampleSeconds: opts.sampleSeconds,
    warmUpFraction: WARM_UP_FRACTION,
    window,
    producer: final,
    drain,
    reconciliation,
    freshness: freshnessOf(landed, window),
    memory: memoryOf(rss, window),
  };
  return { ...summary, files: { 'report.md': renderReport(summary), ...renderCharts(summary, ticks, landed, rss) } };
}

async function main(): Promise<void> {
  const opts = options();
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-soak-'));
  console.log(`soak: ${opts.minutes} min at ${fmt(opts.rate)} events/s in ${opts.batchSize}-event batches; local stack in ${dataDir}`);
  // The stack's default flush age: the freshness goal is stated against it.
  const stack = await startStack({ dataDir, ...(opts.curatorMemoryLimit ? { curatorEnv: { CURATOR_DUCKDB_MEMORY_LIMIT: opts.curatorMemoryLimit } } : {}) });
  const interrupt = new AbortController();
  process.once('SIGINT', () => {
    console.log('\ninterrupted: stopping the producer and the stack (no report)…');
    interrupt.abort();
  });
  try {
    const result = await soak(opts, stack, dataDir, interrupt.signal);
    if (interrupt.signal.aborted) throw new Error('interrupted');
    mkdirSync(opts.out, { recursive: true });
    for (const [name, text] of Object.entries(result.files)) writeFileSync(join(opts.out, name), text);
    console.log(`\n${result.files['report.md']!.split('\n## Plots')[0]}`);
    const shown = relative(process.cwd(), opts.out);
    console.log(`report: ${join(shown.startsWith('..') ? opts.out : shown, 'report.md')} (plots beside it)`);
    if (!keptEverything(result)) {
      console.error('NOT every accepted event is in the lake exactly once after dedup.');
      process.exitCode = 1;
    }
  } catch (err) {
    if (!interrupt.signal.aborted) throw err;
    process.exitCode = 130;
  } finally {
    await stack.stop();
    if (opts.keepData) console.log(`data kept in ${dataDir} (STRATA_DATA_DIR=${dataDir} npm run query -- "…")`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
