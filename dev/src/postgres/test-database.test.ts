import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../free-port.js';
import { assertTestDatabase, databaseNameOf, resetTestDatabase } from './test-database.js';
import { findPostgresBinDir } from './throwaway.js';

describe('assertTestDatabase', () => {
  it('refuses a database whose name does not say test', () => {
    expect(() => assertTestDatabase('postgres://postgres@127.0.0.1:5432/strata')).toThrow(/"strata".*does not contain "test"/);
    expect(() => assertTestDatabase('postgres://postgres@127.0.0.1:5432/')).toThrow(/\(none\)/);
    expect(() => assertTestDatabase('not a url')).toThrow(/cannot be parsed/);
  });

  it('accepts one that does', () => {
    expect(() => assertTestDatabase('postgres://postgres@127.0.0.1:5432/strata_test')).not.toThrow();
    expect(() => assertTestDatabase('postgresql://u:p@db.internal/test_rollups?sslmode=disable')).not.toThrow();
  });

  it('reads the name from the path, not from the host or user', () => {
    expect(databaseNameOf('postgres://test:test@test-host:5432/strata')).toBe('strata');
    expect(() => assertTestDatabase('postgres://test:test@test-host:5432/strata')).toThrow();
  });

  it('guards the reset helper before it connects', async () => {
    await expect(resetTestDatabase('postgres://postgres@127.0.0.1:1/strata')).rejects.toThrow(/does not contain "test"/);
  });
});

describe('findPostgresBinDir', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('picks the newest version that has initdb and pg_ctl', () => {
    dir = mkdtempSync(join(tmpdir(), 'strata-pglib-'));
    const install = (version: string, tools: string[]) => {
      mkdirSync(join(dir!, version, 'bin'), { recursive: true });
      for (const tool of tools) writeFileSync(join(dir!, version, 'bin', tool), '');
    };
    install('9.6', ['initdb', 'pg_ctl']);
    install('15', ['initdb', 'pg_ctl']);
    install('16', ['psql']); // client-only install
    install('13', ['initdb', 'pg_ctl']);
    expect(findPostgresBinDir(dir)).toBe(join(dir, '15', 'bin'));
  });

  it('is undefined when nothing is installed', () => {
    expect(findPostgresBinDir('/nonexistent/postgresql')).toBeUndefined();
  });
});

describe('freePort', () => {
  it('stays below the ephemeral range', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThanOrEqual(15_000);
    expect(port).toBeLessThan(32_768);
  });
});
