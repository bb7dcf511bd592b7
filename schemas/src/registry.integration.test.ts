import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetTestDatabase, testDatabase, type TestDatabase } from '@strata/dev/postgres';
import { loadBundledSchemas, loadEnvelope } from './bundled.js';
import type { LogTypeVersion } from './log-type.js';
import { publishSchemas } from './publish.js';
import { recordingLogger, signupV1, signupV2, signupV3Breaking } from './registry-fixtures.js';
import { createRegistrySource, type RegistrySource } from './registry-source.js';
import { migrateRegistry, readPublished, REGISTRY_MIGRATIONS_TABLE } from './registry-table.js';

const envelope = loadEnvelope();
const bundled = loadBundledSchemas();
const TTL = 300;

let db: TestDatabase;
let admin: pg.Pool;
beforeAll(async () => {
  db = await testDatabase();
  admin = new pg.Pool({ connectionString: db.url, max: 1 });
});
afterAll(async () => {
  await admin?.end();
  await db?.stop();
});

const cleanups: Array<() => Promise<void>> = [];
beforeEach(async () => {
  await resetTestDatabase(db.url);
});
afterEach(async () => {
  await Promise.allSettled(cleanups.splice(0).map((cleanup) => cleanup()));
});

async function insert(...versions: LogTypeVersion[]): Promise<void> {
  for (const { logType, version, schema } of versions) {
    await admin.query('insert into schema_registry (log_type, version, schema) values ($1, $2, $3)', [logType, version, JSON.stringify(schema)]);
  }
}

/** A source on a fake clock; `pool.query` counted so single flight is visible. */
function openSource(pool = new pg.Pool({ connectionString: db.url, max: db.poolMax })) {
  const clock = { ms: 0 };
  const logger = recordingLogger();
  const counted = { queries: 0 };
  const query = pool.query.bind(pool);
  pool.query = ((...args: Parameters<typeof query>) => {
    counted.queries++;
    return query(...args);
  }) as typeof pool.query;
  const source: RegistrySource = createRegistrySource({ bundled, envelope, pool, ttlMs: TTL, logger, now: () => clock.ms });
  cleanups.push(() => source.close());
  return { source, clock, logger, counted, pool };
}

describe('createRegistrySource over PostgreSQL', () => {
  it('picks a newly published version up once the TTL has passed, not before, with one query for concurrent callers', async () => {
    await migrateRegistry(db.url);
    await insert(signupV1);
    const { source, clock, counted } = openSource();

    const first = await Promise.all([source.current(), source.current(), source.current()]);
    expect(counted.queries).toBe(1);
    expect(first[0]!.versions('test_signup')).toEqual([1]);
    expect(first[1]).toBe(first[0]);

    await insert(signupV2);
    clock.ms = TTL - 1;
    expect((await source.current()).versions('test_signup')).toEqual([1]);
    expect(counted.queries).toBe(1);

    clock.ms = TTL;
    const [a, b] = await Promise.all([source.current(), source.current()]);
    expect(counted.queries).toBe(2);
    expect(a).toBe(b);
    expect(a.versions('test_signup')).toEqual([1, 2]);
    expect(a.validate('test_signup', 2, { event_id: 'e1', event: 'signed_up', ts: '2026-01-01T00:00:00Z', received_at: '2026-01-01T00:00:00Z', schema_version: 2, plan: 'pro' })).toMatchObject({ ok: true });

    // Unchanged rows are not compiled again: the same registry object is served.
    clock.ms = 2 * TTL;
    expect(await source.current()).toBe(a);
  });

  it('ignores an incompatible row, a withdrawn one and a conflicting duplicate of a bundled version, with warnings', async () => {
    await migrateRegistry(db.url);
    const userAction = bundled.find((v) => v.logType === 'user_action' && v.version === 1)!;
    await insert(signupV1, signupV2, signupV3Breaking, { ...userAction, schema: { ...userAction.schema, description: 'edited' } });
    await admin.query("insert into schema_registry (log_type, version, schema, active) values ('test_withdrawn', 1, $1, false)", [
      JSON.stringify({ ...signupV1.schema, 'x-log-type': 'test_withdrawn' }),
    ]);
    const { source, logger } = openSource();

    const registry = await source.current();
    expect(registry.versions('test_signup')).toEqual([1, 2]);
    expect(registry.logTypes()).not.toContain('test_withdrawn');
    expect(registry.schema('user_action', 1).description).toBe(userAction.schema.description);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => `${w.fields.log_type} v${w.fields.version}`)).toEqual(['test_signup v3', 'user_action v1']);
    expect(warnings[0]!.message).toContain('(type-changed)');
  });

  it('keeps serving the last good registry when the database goes away, and logs it', async () => {
    await migrateRegistry(db.url);
    await insert(signupV1, signupV2);
    const { source, clock, logger, pool } = openSource();
    const good = await source.current();
    expect(good.versions('test_signup')).toEqual([1, 2]);

    await pool.end();
    clock.ms = TTL;
    expect(await source.current()).toBe(good);
    expect(logger.lines.at(-1)).toMatchObject({ level: 'error', message: 'schema registry refresh failed: serving the last good registry' });
    // The failure counts as a load: the next attempt waits a full TTL.
    const errors = () => logger.lines.filter((l) => l.level === 'error').length;
    clock.ms = 2 * TTL - 1;
    await source.current();
    expect(errors()).toBe(1);
  });

  it('starts with the bundled schemas when the database is unreachable or was never published to', async () => {
    const down = openSource(new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/strata_test', max: 1 }));
    const registry = await down.source.current();
    expect(registry.logTypes()).not.toContain('test_signup');
    expect(registry.logTypes()).toContain('user_action');
    expect(down.logger.lines).toEqual([expect.objectContaining({ level: 'error', message: 'schema registry unreachable: serving the bundled schemas' })]);

    // No table yet: a warning, not an error, and the bundled schemas.
    const empty = openSource();
    expect((await empty.source.current()).logTypes()).toContain('user_action');
    expect(empty.logger.lines.map((l) => l.level)).toEqual(['warn']);
  });

  it('ends its pool on close and then serves what it has', async () => {
    const { source, pool } = openSource();
    await source.current();
    await source.close();
    await source.close();
    expect(pool.ended).toBe(true);
    expect((await source.current()).logTypes()).toContain('user_action');
  });
});

describe('publishSchemas', () => {
  it('creates the table under its own migrations table, publishes the bundled versions once, then nothing', async () => {
    const first = await publishSchemas({ databaseUrl: db.url, versions: bundled, envelope });
    expect(first).toEqual({ ok: true, published: bundled, alreadyPresent: 0 });
    const again = await publishSchemas({ databaseUrl: db.url, versions: bundled, envelope });
    expect(again).toEqual({ ok: true, published: [], alreadyPresent: bundled.length });

    const tables = await admin.query<{ tablename: string }>("select tablename from pg_tables where schemaname = 'public' order by 1");
    expect(tables.rows.map((r) => r.tablename)).toEqual(['schema_registry', REGISTRY_MIGRATIONS_TABLE]);
    const rows = await readPublished(admin, { activeOnly: true });
    expect(rows.map(({ logType, version, schema }) => ({ logType, version, schema }))).toEqual(
      [...bundled].sort((a, b) => (a.logType < b.logType ? -1 : a.logType > b.logType ? 1 : a.version - b.version)),
    );
  });

  it('publishes an additive version and refuses an incompatible one without writing anything', async () => {
    expect(await publishSchemas({ databaseUrl: db.url, versions: [signupV1], envelope })).toMatchObject({ ok: true, published: [signupV1] });
    expect(await publishSchemas({ databaseUrl: db.url, versions: [signupV1, signupV2], envelope })).toEqual({ ok: true, published: [signupV2], alreadyPresent: 1 });

    const signupV4 = { ...signupV3Breaking, version: 4, schema: { ...signupV3Breaking.schema, 'x-version': 4 } };
    const refused = await publishSchemas({ databaseUrl: db.url, versions: [signupV3Breaking, signupV4], envelope });
    expect(refused.ok).toBe(false);
    expect(refused.ok || refused.problems).toEqual([expect.stringContaining('test_signup v2 → v3: /plan changed type from string to integer (type-changed)')]);
    const rows = await readPublished(admin, { activeOnly: false });
    expect(rows.map((r) => `${r.logType} v${r.version}`)).toEqual(['test_signup v1', 'test_signup v2']);
  });
});

describe('npm run schemas:publish', () => {
  const script = fileURLToPath(new URL('../scripts/publish.ts', import.meta.url));
  const run = (args: string[]) =>
    // node --import tsx: without npx and tsx's own wrapper process, a run costs about a second.
    promisify(execFile)(process.execPath, ['--import', 'tsx', script, ...args], { env: { ...process.env, DATABASE_URL: '', SCHEMA_REGISTRY_DATABASE_URL: '' } }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );

  it('publishes the bundled files, then refuses (exit 1, nothing written) once a published version differs from its file', async () => {
    const published = await run(['--database-url', db.url]);
    expect(published).toMatchObject({ code: 0, stdout: `published ${bundled.map((v) => `${v.logType} v${v.version}`).join(', ')}; 0 already present\n` });

    await admin.query("update schema_registry set schema = jsonb_set(schema, '{description}', '\"edited in place\"') where log_type = 'user_action' and version = 1");
    const refused = await run(['--database-url', db.url]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('refused to publish, nothing was written:\n✗ user_action v1 differs from the version already published');
  });
});
