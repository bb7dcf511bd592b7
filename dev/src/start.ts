/**
 * `npm start`: the whole pipeline locally. Prints where everything listens and a curl to try,
 * shows live counters, runs the curator on a timer (as Cloud Scheduler would), and on Ctrl-C
 * stops everything with the writer flushed before the emulators go away.
 */
import { startStack } from './stack.js';
import { LOCAL, lakeDir } from './local-config.js';

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
console.log('Starting Strata locally (emulators, PGlite, ingest, writer, curator)…');
const stack = await startStack({
  ports: {
    ingest: envInt('INGEST_PORT', 8081),
    writer: envInt('WRITER_PORT', 8082),
    curator: envInt('CURATOR_PORT', 8083),
    pubsub: envInt('PUBSUB_PORT', 8085),
    gcs: envInt('GCS_PORT', 9023),
  },
  databaseUrl: process.env.DATABASE_URL || undefined,
  flushMaxAgeMs,
  logLevel: process.env.LOG_LEVEL,
});

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

Ctrl-C stops everything.
`);

const render = () => {
  const c = stack.counters.values();
  return `accepted ${c.accepted}  rejected ${c.rejected}  published ${c.published}  rows written ${c.rowsWritten}  files ${c.files}  quarantined ${c.quarantined}  curator runs ${c.curatorRuns}  rollup rows ${c.rollupRows}`;
};
let last = '';
const ticker = setInterval(() => {
  const line = render();
  if (process.stdout.isTTY) process.stdout.write(`\r\x1b[2K${line}`);
  else if (line !== last) console.log(line);
  last = line;
}, 1000);

const curatorTimer = setInterval(() => {
  stack.runCurator().catch((err: Error) => console.error(`\ncurator run failed: ${err.message}`));
}, curatorEveryMs);

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  clearInterval(curatorTimer);
  console.log('\nStopping (writer flushes first)…');
  try {
    await stack.stop();
    console.log(`Stopped. ${render()}`);
    process.exit(0);
  } catch (err) {
    console.error('Stopping failed:', err);
    process.exit(1);
  }
};
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
