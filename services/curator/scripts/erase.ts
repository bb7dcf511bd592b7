/**
 * `npm run erase -- --user-id <id>`: an erasure request (src/erase.ts) from a terminal, the same job
 * as the curator's POST /erase. It works on the lake and PostgreSQL the environment names, read as
 * the curator reads them (LAKE_BUCKET, DATABASE_URL, STORAGE_EMULATOR_HOST, CURATOR_*). With
 * LAKE_BUCKET unset it works on the local stack under .strata/ (STRATA_DATA_DIR): the GCS emulator
 * and database of the running `npm start`, or, when none runs, the same folders served here.
 *
 * Prints the report as tables. Exits 0 when everything was erased, 1 when something was not (the
 * report says what: run it again, an erasure is idempotent), 2 for bad arguments or configuration.
 */
import { parseArgs } from 'node:util';
import { renderTable } from '@strata/dev/table';
import { createEraser, readUserId, type ErasureReport } from '../src/erase.js';
import { fail, openCuratorJob } from './curator-job.js';

const USAGE = 'usage: npm run erase -- --user-id <id>    (LAKE_BUCKET and DATABASE_URL for a deployed lake; the local stack without them)';

function userIdFromArgs(): string {
  let values: { 'user-id'?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ options: { 'user-id': { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    fail(2, `${(err as Error).message}\n${USAGE}`);
  }
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (values['user-id'] === undefined) fail(2, `--user-id is required\n${USAGE}`);
  const checked = readUserId(values['user-id']);
  if (!checked.ok) fail(2, `--user-id: ${checked.reason}`);
  return checked.userId;
}

function print(report: ErasureReport, where: string): void {
  console.log(`Erasure of user ${JSON.stringify(report.userId)} in ${where}, ${(report.durationMs / 1000).toFixed(1)} s:`);
  if (report.objects.length === 0) console.log('No object held the user\'s data: nothing changed.');
  else {
    const rows = report.objects.map((o) => [o.zone, o.object, o.removed, o.kept, o.oldGeneration, o.newGeneration ?? 'deleted (empty)']);
    console.log(renderTable(['zone', 'object', 'removed', 'kept', 'old generation', 'new generation'], rows));
  }
  if (report.daysRecurated.length > 0) console.log(`Rollups recomputed for ${report.daysRecurated.length} day${report.daysRecurated.length === 1 ? '' : 's'}: ${report.daysRecurated.join(', ')}`);
  const t = report.totals;
  console.log(`Read ${t.objectsScanned} objects; rewrote ${t.objectsRewritten}, deleted ${t.objectsRemoved}; removed ${t.rowsRemoved} rows from events/ and ${t.recordsRemoved} records from quarantine/ and dead-letter/.`);
  if (report.failures.length > 0) {
    console.log(renderTable(['not done', 'reason'], report.failures.map((f) => [f.what, f.reason])));
    console.log('Run the erasure again once the reasons are gone: it does only what is left.');
  }
}

const userId = userIdFromArgs();
const { job, deps, pool } = await openCuratorJob(USAGE);
let exitCode = 0;
try {
  const report = await createEraser(deps).erase(userId);
  print(report, job.where);
  if (report.failures.length > 0) exitCode = 1;
} catch (err) {
  console.error(`erasure failed: ${(err as Error).message}`);
  exitCode = 1;
} finally {
  await pool.end();
  await job.close();
}
process.exit(exitCode);
