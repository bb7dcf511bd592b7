/**
 * `npm run rollups:migration -w @strata/curator` writes the migration that brings the rollup tables
 * to what schemas/src/rollups.ts declares (migrations/<Date.now()>_rollups-<what>.sql) and updates
 * migrations/rollups.snapshot.json, the tables as of the last generated migration; commit all three.
 * `-- --check` exits 1 when the declarations and the snapshot disagree (CI runs it), so a declaration
 * edited without its migration never reaches a deploy.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROLLUPS, checkRollups, createRegistry, loadBundledSchemas } from '@strata/schemas';
import { MIGRATIONS_DIR } from '../src/migrate.js';
import { changesOf, diffRollups, planRollupsMigration, type RollupsSnapshot } from './rollups-migration-plan.js';

const SNAPSHOT = join(MIGRATIONS_DIR, 'rollups.snapshot.json');
const name = 'rollups:migration';
const check = process.argv.includes('--check');

function fail(lines: string[]): never {
  console.error(lines.join('\n'));
  process.exit(1);
}

const invalid = checkRollups(ROLLUPS, createRegistry(loadBundledSchemas()));
if (invalid.length > 0) fail([...invalid, `${name}: fix the declarations in schemas/src/rollups.ts first.`]);

const snapshot = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as RollupsSnapshot;

if (check) {
  // Everything that differs, refusals and pending changes alike, so one CI run shows it all.
  const diff = diffRollups(ROLLUPS, snapshot);
  const missing = existsSync(join(MIGRATIONS_DIR, `${snapshot.migration}.sql`)) ? [] : [`the snapshot names migration ${snapshot.migration}, which is not in services/curator/migrations/`];
  const problems = [...missing, ...diff.refused, ...changesOf(diff).map((c) => `declared but not migrated: ${c}`)];
  if (problems.length > 0) {
    const next = diff.refused.length > 0 ? 'undo the changes refused above' : `run \`npm run rollups:migration -w @strata/curator\` and commit the migration with the snapshot`;
    fail([...problems, `${name}: schemas/src/rollups.ts and services/curator/migrations/rollups.snapshot.json disagree; ${next}.`]);
  }
  console.log(`${name}: the ${ROLLUPS.length} rollup tables match their declarations`);
} else {
  generate(snapshot);
}

function generate(snapshot: RollupsSnapshot): void {
  const plan = planRollupsMigration(ROLLUPS, snapshot);
  if (plan.kind === 'refused') fail([...plan.problems, `${name}: no migration written.`]);
  if (plan.kind === 'unchanged') {
    console.log(`${name}: nothing to generate, the rollup tables match their declarations`);
    return;
  }
  const migration = `${Date.now()}_rollups-${plan.slug}`;
  writeFileSync(join(MIGRATIONS_DIR, `${migration}.sql`), plan.sql);
  const next: RollupsSnapshot = { migration, tables: plan.tables };
  writeFileSync(SNAPSHOT, `${JSON.stringify(next, null, 2)}\n`);
  console.log(`${name}: wrote services/curator/migrations/${migration}.sql (${plan.changes.join('; ')}) and updated rollups.snapshot.json`);
}
