/**
 * `npm start`: the whole pipeline locally. Prints where everything listens and a curl to try,
 * shows live counters, runs the curator on a timer (as Cloud Scheduler would), and on Ctrl-C or
 * SIGTERM stops ingest, drains Pub/Sub into the lake (stack.drain), then stops the rest.
 *
 * Run it as `node --import tsx`, never through the `tsx` CLI: that launcher SIGKILLs its child
 * when the child does not confirm a SIGINT within tens of milliseconds, and a drain takes seconds.
 */
import { DEFAULT_DRAIN_TIMEOUT_MS, startStack, type DrainResult, type StopSummary } from './stack.js';
import { LOCAL, announceRunningStack, dataDirFromEnv, lakeDir, pubsubDir } from './local-config.js';
import { PUSH_DELIVERY } from '@strata/schemas';

const envInt = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`${name} must be a non-negative integer, got "${raw}"`);
    process.exit(2);
  }
  return value;
};

// This process talks to the emulators too; stop the auth library probing for a GCE metadata server.
process.env.METADATA_SERVER_DETECTION ??= 'none';

const curatorEveryMs = envInt('STRATA_CURATOR_INTERVAL_MS', 30_000);
const flushMaxAgeMs = envInt('FLUSH_MAX_AGE_MS', 5_000);
const drainTimeoutMs = envInt('STRATA_DRAIN_TIMEOUT_MS', DEFAULT_DRAIN_TIMEOUT_MS);
const pushConcurrency = envInt('STRATA_PUSH_CONCURRENCY', 0) || undefined;
// The writer's quiet flush (ms without a push before it flushes), passed through when set.
const flushQuietMs = process.env.FLUSH_QUIET_MS ? String(envInt('FLUSH_QUIET_MS', 0)) : undefined;
const dataDir = dataDirFromEnv();
// Trapped before anything starts: until a listener exists the OS default ends the process at once,
// which would leave the services behind and lose whatever the emulators held.
let signalledWhileStarting = false;
let onSignal = () => {
  signalledWhileStarting = true;
};
process.on('SIGINT', () => onSignal());
process.on('SIGTERM', () => onSignal());
console.log('Starting Strata locally (emulators, PGlite, ingest, writer, curator)…');
const stack = await startStack({
  dataDir,
  pushConcurrency,
  ports: {
    ingest: envInt('INGEST_PORT', 8081),
    writer: envInt('WRITER_PORT', 8082),
    curator: envInt('CURATOR_PORT', 8083),
    pubsub: envInt('PUBSUB_PORT', 8085),
    gcs: envInt('GCS_PORT', 9023),
  },
  databaseUrl: process.env.DATABASE_URL || undefined,
  flushMaxAgeMs,
  ...(flushQuietMs !== undefined && { writerEnv: { FLUSH_QUIET_MS: flushQuietMs } }),
  logLevel: process.env.LOG_LEVEL,
});
// Tools run from another terminal (npm run erase) find the emulator and the database here.
announceRunningStack(stack.dataDir, { pid: process.pid, gcs: stack.urls.gcs, database: stack.urls.database, pubsub: stack.urls.pubsub });

const now = new Date().toISOString();
console.log(`
Strata is running.
  ingest    ${stack.urls.ingest}/v1/events   (API key: ${LOCAL.apiKey})
  writer    ${stack.urls.writer}/push        (push subscription ${LOCAL.pushSubscription})
  curator   ${stack.urls.curator}/run         (every ${curatorEveryMs / 1000}s)
  pubsub    ${stack.urls.pubsub}               (PUBSUB_EMULATOR_HOST)
  gcs       ${stack.urls.gcs}          (STORAGE_EMULATOR_HOST; lake files in ${lakeDir(stack.dataDir)})
  postgres  ${stack.urls.database}
  logs      ${stack.dataDir}/logs/

Send events:
  curl -s -X POST ${stack.urls.ingest}/v1/events -H 'content-type: application/json' -H 'x-api-key: ${LOCAL.apiKey}' \\
    -d '[{"log_type":"user_action","event":"page_view","ts":"${now}","user_id":"u1","page_url":"https://shop.example/"}]'

Query the lake (after the ${flushMaxAgeMs / 1000}s flush):
  npm run query -- "select event, count(*) from user_action group by event"

Ctrl-C stops ingest, waits until everything accepted is in the lake, then stops the rest
(Ctrl-C again stops at once; what Pub/Sub still holds is kept on disk for the next start).
`);

const tty = process.stdout.isTTY;
const render = () => {
  const c = stack.counters.values();
  return `accepted ${c.accepted}  rejected ${c.rejected}  published ${c.published}  rows written ${c.rowsWritten}  files ${c.files}  quarantined ${c.quarantined}  curator runs ${c.curatorRuns}  rollup rows ${c.rollupRows}`;
};
let last = '';
const ticker = setInterval(() => {
  const line = render();
  if (tty) process.stdout.write(`\r\x1b[2K${line}`);
  else if (line !== last) console.log(line);
  last = line;
}, 1000);

const curatorTimer = setInterval(() => {
  stack.runCurator().catch((err: Error) => console.error(`\ncurator run failed: ${err.message}`));
}, curatorEveryMs);

// Run from a terminal, one Ctrl-C arrives twice: npm forwards its own SIGINT to us on top of the
// terminal's. A signal this soon after the first is that echo, not a second keypress.
const ECHO_MS = 1000;
let firstSignalAt: number | undefined;
const hurry = new AbortController();
onSignal = () => {
  if (firstSignalAt === undefined) {
    firstSignalAt = Date.now();
    void shutdown();
  } else if (Date.now() - firstSignalAt > ECHO_MS && !hurry.signal.aborted) {
    hurry.abort();
  } else if (hurry.signal.aborted && Date.now() - firstSignalAt > 2 * ECHO_MS) {
    // A third Ctrl-C, e.g. while a service takes its time to stop: exit now. The exit hook kills
    // every service process; what they held is redelivered only if Pub/Sub still had it.
    console.log('\nStopping at once: the services are killed.');
    process.exit(130);
  }
};
// A Ctrl-C that came while the stack was starting is acted on now.
if (signalledWhileStarting) onSignal();

let lastDrainLine = { queued: -1, at: 0 };
const showDraining = (queued: number) => {
  const line = `draining: ${queued} message${queued === 1 ? '' : 's'} still queued for the writer… (Ctrl-C again stops now and keeps them for the next start)`;
  if (tty) return void process.stdout.write(`\r\x1b[2K${line}`);
  // Into a log file: a line when the count moves, or every 5 s while it does not.
  if (queued !== lastDrainLine.queued || Date.now() - lastDrainLine.at >= 5000) {
    console.log(line);
    lastDrainLine = { queued, at: Date.now() };
  }
};

async function shutdown(): Promise<void> {
  clearInterval(ticker);
  clearInterval(curatorTimer);
  console.log(`\nStopping: ingest first, then waiting up to ${drainTimeoutMs / 1000}s until Pub/Sub has pushed everything it holds to the writer…`);
  let drain: DrainResult;
  let summary: StopSummary;
  try {
    drain = await stack.drain({ timeoutMs: drainTimeoutMs, onProgress: showDraining, signal: hurry.signal });
    if (tty) process.stdout.write('\r\x1b[2K');
    if (drain.outcome === 'drained') console.log(`Drained in ${(drain.ms / 1000).toFixed(1)}s: everything accepted is in the lake.`);
    else {
      const why = drain.outcome === 'aborted' ? 'Stopping now (second Ctrl-C)' : `The drain timed out after ${(drain.ms / 1000).toFixed(1)}s`;
      console.log(
        `${why} with ${drain.queued} message(s) still queued: the writer flushes the ${drain.withWriter} it holds, ` +
          `the rest stay in Pub/Sub's journal (${pubsubDir(stack.dataDir)}) and are delivered at the next npm start.`,
      );
    }
    console.log('Stopping the writer (it flushes what it holds), the curator, then the emulators…');
    summary = await stack.stop();
  } catch (err) {
    console.error('Stopping failed:', err);
    process.exit(1);
  }
  console.log(`Stopped. ${render()}`);
  const c = stack.counters.values();
  console.log(`Kept: ${c.rowsWritten} rows in ${c.files} Parquet files and ${c.quarantined} quarantined events under ${lakeDir(stack.dataDir)}.`);
  if (summary.keptInPubsub > 0) {
    console.log(`Kept in Pub/Sub: ${summary.keptInPubsub} message(s) not yet in the lake, in ${pubsubDir(stack.dataDir)}; npm start delivers them.`);
  }
  if (summary.deadLettered > 0) {
    console.log(
      `Dead letters: ${summary.deadLettered} message(s) the writer refused ${PUSH_DELIVERY.maxDeliveryAttempts} times and has not yet filed under dead-letter/ ` +
        `are kept in Pub/Sub's journal for the next start (see the writer's log for why).`,
    );
  }
  console.log('Lost: nothing.');
  // 130 is the shell's code for "stopped by Ctrl-C"; 1 says the drain timed out or messages were
  // dead-lettered: nothing is lost, but something kept the writer from taking them.
  process.exit(drain.outcome === 'aborted' ? 130 : drain.outcome === 'timed out' || summary.deadLettered > 0 ? 1 : 0);
}
