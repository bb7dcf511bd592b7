/**
 * `npm run replay -- --from quarantine|dead-letter [--log-type t] [--since <day or ISO time>] [--dry-run] [--json]`:
 * the events kept in a zone that pass the registry in force now go back to the events topic
 * (src/replay.ts), the same job as the curator's POST /replay. It works on the lake, topic and
 * registry the environment names, read as the curator reads them (LAKE_BUCKET, PUBSUB_TOPIC,
 * SCHEMA_REGISTRY_DATABASE_URL, STORAGE_EMULATOR_HOST, PUBSUB_EMULATOR_HOST, EVENT_MAX_*). With
 * LAKE_BUCKET unset it works on the local stack under .strata/ (STRATA_DATA_DIR): the running
 * `npm start`'s GCS emulator and Pub/Sub emulator (without one running, only --dry-run works).
 *
 * Prints the report as tables, or as JSON with --json. Exits 0 when everything that passes was
 * replayed (events that still fail are reported, not an error), 1 when something could not be
 * done (run it again: replayed events are deduplicated by event_id), 2 for bad arguments or
 * configuration.
 */
import { parseArgs } from 'node:util';
import { renderTable } from '@strata/dev/table';
import type { ReplayReport } from '../src/replay.js';
import { readReplayRequest, type ReplayRequest } from '../src/replay-records.js';
import { wireReplayer } from '../src/wiring.js';
import { fail, openCuratorJob } from './curator-job.js';

const USAGE =
  'usage: npm run replay -- --from quarantine|dead-letter [--log-type <t>] [--since <2026-03-01 or 2026-03-01T12:00:00Z>] [--dry-run] [--json]\n' +
  '       (LAKE_BUCKET, PUBSUB_TOPIC and SCHEMA_REGISTRY_DATABASE_URL for a deployed lake; the running npm start without them)';

function requestFromArgs(): { request: ReplayRequest; json: boolean } {
  let values: { from?: string; 'log-type'?: string; since?: string; 'dry-run'?: boolean; json?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      options: {
        from: { type: 'string' },
        'log-type': { type: 'string' },
        since: { type: 'string' },
        'dry-run': { type: 'boolean' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    fail(2, `${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values.from === undefined) fail(2, `--from is required\n${USAGE}`);
  const read = readReplayRequest({
    from: values.from,
    ...(values['log-type'] === undefined ? {} : { logType: values['log-type'] }),
    ...(values.since === undefined ? {} : { since: values.since }),
    dryRun: values['dry-run'] ?? false,
  });
  if (!read.ok) fail(2, `${read.reason}\n${USAGE}`);
  return { request: read.request, json: values.json ?? false };
}

const reasonsText = (reasons: Array<{ path: string; message: string }>) => reasons.map((r) => (r.path ? `${r.path} ${r.message}` : r.message)).join('; ');

function print(report: ReplayReport, where: string): void {
  const verb = report.dryRun ? 'Dry run of a replay' : 'Replay';
  console.log(`${verb} from ${report.from}/ in ${where}, ${(report.durationMs / 1000).toFixed(1)} s:`);
  console.log(
    renderTable(
      ['files', 'records', 'already replayed', report.dryRun ? 'would replay' : 'passed', 'replayed', 'events published', 'messages', 'still failing'],
      [[report.files, report.records, report.alreadyReplayed, report.passed, report.replayed, report.eventsPublished, report.messages, report.stillFailing]],
    ),
  );
  if (report.failures.length > 0) {
    console.log(renderTable(['still failing: file', 'line', 'event_id', 'log type', 'reasons'], report.failures.map((f) => [f.file, f.line, f.event_id, f.log_type, reasonsText(f.reasons)])));
    if (report.stillFailing > report.failures.length) console.log(`… and ${report.stillFailing - report.failures.length} more (--json lists the same first ${report.failures.length}).`);
  }
  if (report.errors.length > 0) {
    console.log(renderTable(['not done', 'reason'], report.errors.map((e) => [e.what, e.reason])));
    console.log('Run the replay again: what was published is marked only once Pub/Sub acknowledged it, and a resent event is deduplicated by its event_id.');
  }
}

const { request, json } = requestFromArgs();
const { job, config, deps, pool } = await openCuratorJob(USAGE, (opened) =>
  opened.stack === 'opened' && !request.dryRun
    ? 'npm start is not running: a replay publishes to its Pub/Sub topic, so start it first (or use --dry-run to see what would pass)'
    : undefined,
);
const replay = wireReplayer(config, deps);
let exitCode = 0;
try {
  const report = await replay.replayer.replay(request);
  if (json) console.log(JSON.stringify(report, null, 2));
  else print(report, job.where);
  if (report.errors.length > 0) exitCode = 1;
} catch (err) {
  console.error(`replay failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await replay.close();
  await pool.end();
  await job.close();
}
process.exit(exitCode);
