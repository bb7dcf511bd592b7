import { rollupColumns, type RollupDeclaration } from '@strata/schemas';

/**
 * What the rollup tables look like in PostgreSQL after the last generated migration, and the
 * migration that takes them to what ROLLUPS declares now. Pure: the CLI (rollups-migration.ts)
 * reads and writes the files.
 *
 * Only additive changes are generated (a new rollup → a new table, a new measure → a new column).
 * A rollup's keys are its primary key and its rows cannot be converted to another grain, and a
 * dropped column or table is data lost: those are refused with a message saying what to do.
 */
export interface SnapshotColumn {
  name: string;
  type: string;
  key: boolean;
}

export interface RollupsSnapshot {
  /** The migration (file name without .sql) that last brought the tables to this state. */
  migration: string;
  /** Table → its columns as rollupColumns gave them (measures added later come last). */
  tables: Record<string, SnapshotColumn[]>;
}

export interface RollupsDiff {
  created: RollupDeclaration[];
  added: Array<{ rollup: RollupDeclaration; columns: SnapshotColumn[] }>;
  /** Changes the generator will not make, one message each. */
  refused: string[];
}

export type MigrationPlan =
  | { kind: 'unchanged' }
  | { kind: 'refused'; problems: string[] }
  | { kind: 'migration'; slug: string; sql: string; changes: string[]; tables: RollupsSnapshot['tables'] };

// PostgreSQL truncates longer identifiers (NAMEDATALEN - 1), so two long index names could clash.
const MAX_IDENTIFIER = 63;

const keyList = (columns: SnapshotColumn[]) => `(${columns.filter((c) => c.key).map((c) => `${c.name} ${c.type}`).join(', ')})`;

export function diffRollups(rollups: readonly RollupDeclaration[], snapshot: RollupsSnapshot): RollupsDiff {
  const diff: RollupsDiff = { created: [], added: [], refused: [] };
  const declared = new Set(rollups.map((r) => r.name));
  for (const table of Object.keys(snapshot.tables)) {
    if (!declared.has(table)) {
      diff.refused.push(
        `table ${table} is in the snapshot but no rollup declares it: the generator never drops a table (its rows would be lost). ` +
          'Restore the declaration; to retire a rollup, write a DROP migration by hand once nothing reads it, and remove it from the snapshot.',
      );
    }
  }
  for (const rollup of rollups) {
    const now = rollupColumns(rollup);
    const then = snapshot.tables[rollup.name];
    if (!then) {
      diff.created.push(rollup);
      continue;
    }
    const at = `rollup ${rollup.name}`;
    if (keyList(now) !== keyList(then)) {
      diff.refused.push(
        `${at}: its key columns changed from ${keyList(then)} to ${keyList(now)}. The grain and dimensions are the table's primary key and ` +
          'rows computed under the old key cannot be converted: declare a new rollup (a new name, so a new table) instead, and leave this one as it was.',
      );
      continue;
    }
    const nowByName = new Map(now.map((c) => [c.name, c]));
    const thenByName = new Map(then.map((c) => [c.name, c]));
    for (const old of then) {
      const current = nowByName.get(old.name);
      if (!current) {
        diff.refused.push(`${at}: measure ${old.name} is no longer declared; the generator never drops a column (its figures would be lost). Restore the measure, or declare a new rollup without it instead.`);
      } else if (current.type !== old.type) {
        diff.refused.push(`${at}: measure ${old.name} changed type from ${old.type} to ${current.type}; existing rows hold ${old.type} figures. Keep the type and add a measure under a new name, or declare a new rollup instead.`);
      }
    }
    const columns = now.filter((c) => !thenByName.has(c.name));
    if (columns.length > 0) diff.added.push({ rollup, columns });
  }
  return diff;
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

function createTable(rollup: RollupDeclaration): { up: string; down: string } {
  const columns = rollupColumns(rollup);
  const dimensions = new Map(rollup.dimensions.map((d) => [d.name, d.column]));
  const measures = new Map(rollup.measures.map((m) => [m.name, m.description]));
  const width = Math.max(...columns.map((c) => c.name.length), 'updated_at'.length);
  const typeWidth = Math.max(...columns.map((c) => c.type.length), 'timestamptz'.length);
  const definitions = [
    // Measures are nullable: one added later is NULL in the rows computed before it, until recomputed.
    ...columns.map((c) => `${c.name.padEnd(width)} ${c.type.padEnd(typeWidth)}${c.key ? ' NOT NULL' : ''}${c.name === 'hr' ? ' CHECK (hr BETWEEN 0 AND 23)' : ''}`.trimEnd()),
    `${'updated_at'.padEnd(width)} ${'timestamptz'.padEnd(typeWidth)} NOT NULL DEFAULT now()`,
    `PRIMARY KEY (${columns.filter((c) => c.key).map((c) => c.name).join(', ')})`,
  ];
  const comments = [
    `COMMENT ON TABLE ${rollup.name} IS ${literal(rollup.description)};`,
    ...columns.flatMap((c) => {
      const description = measures.get(c.name) ?? (dimensions.has(c.name) ? `${dimensions.get(c.name)} of the events; '' when absent.` : undefined);
      return description === undefined ? [] : [`COMMENT ON COLUMN ${rollup.name}.${c.name} IS ${literal(description)};`];
    }),
  ];
  // Product code reads "the last N days": without dt leading the primary key, that is a full scan.
  const index = columns[0]?.name === 'dt' ? [] : [`CREATE INDEX ${rollup.name}_dt ON ${rollup.name} (dt);`];
  return {
    up: [`-- ${rollup.description}`, `CREATE TABLE ${rollup.name} (\n${definitions.map((d) => `  ${d}`).join(',\n')}\n);`, ...comments, ...index].join('\n'),
    down: `DROP TABLE ${rollup.name};`,
  };
}

function addColumns({ rollup, columns }: RollupsDiff['added'][number]): { up: string; down: string } {
  const descriptions = new Map(rollup.measures.map((m) => [m.name, m.description]));
  return {
    up: [
      `-- NULL in the rows computed before this migration, until the curator recomputes their partitions.`,
      ...columns.flatMap((c) => [`ALTER TABLE ${rollup.name} ADD COLUMN ${c.name} ${c.type};`, `COMMENT ON COLUMN ${rollup.name}.${c.name} IS ${literal(descriptions.get(c.name) ?? '')};`]),
    ].join('\n'),
    down: columns.map((c) => `ALTER TABLE ${rollup.name} DROP COLUMN ${c.name};`).join('\n'),
  };
}

/** A few words for the file name: what the migration does, kebab-case. */
function slugOf(diff: RollupsDiff): string {
  const kebab = (name: string) => name.replaceAll('_', '-');
  const parts = [...diff.created.map((r) => `create-${kebab(r.name)}`), ...diff.added.map(({ rollup, columns }) => `add-${kebab(rollup.name)}-${columns.map((c) => kebab(c.name)).join('-')}`)];
  const all = parts.join('-');
  return all.length <= 60 ? all : `${parts[0]}-and-${parts.length - 1}-more`;
}

/** The migration that takes the snapshot's tables to the declarations, or why there is none. */
export function planRollupsMigration(rollups: readonly RollupDeclaration[], snapshot: RollupsSnapshot): MigrationPlan {
  const diff = diffRollups(rollups, snapshot);
  const long = diff.created.filter((r) => `${r.name}_dt`.length > MAX_IDENTIFIER).map((r) => `rollup ${r.name}: the name is too long for its index (${r.name}_dt must fit in ${MAX_IDENTIFIER} characters)`);
  const problems = [...diff.refused, ...long];
  if (problems.length > 0) return { kind: 'refused', problems };
  if (diff.created.length === 0 && diff.added.length === 0) return { kind: 'unchanged' };

  const steps = [...diff.created.map(createTable), ...diff.added.map(addColumns)];
  const sql = [
    '-- Generated by `npm run rollups:migration -w @strata/curator` from schemas/src/rollups.ts: change the declarations, not this file.',
    '',
    '-- Up Migration',
    '',
    steps.map((s) => s.up).join('\n\n'),
    '',
    '-- Down Migration',
    '',
    // Undone in reverse order.
    steps.map((s) => s.down).reverse().join('\n'),
    '',
  ].join('\n');

  const tables = { ...snapshot.tables };
  for (const rollup of diff.created) tables[rollup.name] = rollupColumns(rollup);
  for (const { rollup, columns } of diff.added) tables[rollup.name] = [...tables[rollup.name]!, ...columns];
  return { kind: 'migration', slug: slugOf(diff), sql, changes: changesOf(diff), tables };
}

/** The changes a migration would make, one line each ("new table …", "new column …"). */
export function changesOf(diff: RollupsDiff): string[] {
  return [
    ...diff.created.map((r) => `new table ${r.name}`),
    ...diff.added.map(({ rollup, columns }) => `new column${columns.length > 1 ? 's' : ''} ${columns.map((c) => `${rollup.name}.${c.name}`).join(', ')}`),
  ];
}
