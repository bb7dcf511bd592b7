import { mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildBundle, importProblems, listFiles, packageNameOf, repoRoot, SERVICES, zipFiles, type BuiltBundle } from './bundle-service.js';

/**
 * The bundle as esbuild and the metafile make it, without the registry (the lockfile and the
 * install are deploy.integration.test.ts's).
 */
const root = mkdtempSync(join(tmpdir(), 'strata-bundle-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Manifest {
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}
const manifest = (dir: string) => JSON.parse(readFileSync(join(repoRoot, dir, 'package.json'), 'utf8')) as Manifest;
const devOnly = new Set(
  ['.', 'schemas', 'runtime', 'services/ingest', 'services/writer', 'services/curator', 'infra', 'dev', 'test', 'sdk/publisher']
    .flatMap((dir) => Object.keys(manifest(dir).devDependencies ?? {}))
    .filter((name) => !['schemas', 'runtime', 'services/ingest', 'services/writer', 'services/curator'].some((dir) => name in (manifest(dir).dependencies ?? {}))),
);

function installedVersion(importer: string, name: string): string | undefined {
  for (let dir = dirname(importer); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'node_modules', name, 'package.json');
    if (existsSync(path)) return (JSON.parse(readFileSync(path, 'utf8')) as { version: string }).version;
  }
  return undefined;
}

describe.each(SERVICES)('the %s bundle', (service) => {
  let built: BuiltBundle;
  const dir = join(root, service);

  it('inlines the workspace code, leaves every third-party package an import, and pins each at the version installed', async () => {
    built = await buildBundle(service, dir);
    expect(built.inputs).toContain(`services/${service}/src/function.ts`);
    expect(built.inputs.some((input) => input.startsWith('runtime/src/'))).toBe(true);
    expect(built.inputs.filter((input) => input.includes('node_modules'))).toEqual([]);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<string, unknown>;
    expect(pkg).toMatchObject({ name: `strata-${service}`, private: true, type: 'module', main: 'index.mjs', scripts: { start: `functions-framework --target=${service}` } });
    const deps = pkg.dependencies as Record<string, string>;
    expect(Object.keys(deps)).toContain('@google-cloud/functions-framework');
    expect(Object.keys(deps).filter((name) => name.startsWith('@strata/'))).toEqual([]);
    // The version Node loads for each importer, read from node_modules on disk.
    for (const [importer, input] of Object.entries(built.metafile.inputs)) {
      for (const record of input.imports.filter((r) => r.external && r.path in deps)) {
        expect(deps[record.path], `${importer} → ${record.path}`).toBe(installedVersion(join(repoRoot, importer), record.path));
      }
    }
    const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
    for (const name of Object.keys(deps)) expect(code, name).toMatch(new RegExp(`from ["']${name.replace(/[/.]/g, '\\$&')}(/[^"']*)?["']`));
    expect(code).not.toMatch(/from ["']@strata\//);
  });

  it('carries no dev dependency in its import graph', () => {
    expect(importProblems(built.metafile)).toEqual([]);
    const imported = Object.values(built.metafile.inputs).flatMap((input) => input.imports.map((record) => record.original ?? record.path));
    const bare = imported.filter((specifier) => /^[^./]/.test(specifier) && !specifier.startsWith('node:')).map(packageNameOf);
    expect(bare.filter((name) => devOnly.has(name))).toEqual([]);
    expect(built.inputs.filter((input) => /^(dev|test)\//.test(input) || input === 'schemas/src/generate.ts')).toEqual([]);
    expect(Object.keys(built.metafile.inputs).join('\n')).not.toMatch(/json-schema-to-typescript|prettier/);
  });

  it('copies beside index.mjs the files its modules read at run time', () => {
    expect(built.assets).toEqual(expect.arrayContaining(['schemas/envelope.json', 'schemas/log-types']));
    if (service === 'curator') expect(built.assets).toContain('services/curator/migrations');
    for (const asset of built.assets) expect(existsSync(join(dir, 'assets', asset)), asset).toBe(true);
    expect(listFiles(dir)).toEqual(expect.arrayContaining(['index.mjs', 'package.json', 'assets/schemas/envelope.json', 'assets/schemas/log-types/user_action/v1.json']));
  });
});

describe('zipFiles', () => {
  it('gives the same bytes for the same files, whatever their times on disk, and different bytes for a change', () => {
    const dir = join(root, 'zip');
    mkdirSync(join(dir, 'b'), { recursive: true });
    writeFileSync(join(dir, 'a.txt'), 'a');
    writeFileSync(join(dir, 'b', 'c.txt'), 'c');
    const first = zipFiles(dir, listFiles(dir));
    utimesSync(join(dir, 'a.txt'), new Date('2011-11-11'), new Date('2011-11-11'));
    expect(zipFiles(dir, listFiles(dir)).equals(first)).toBe(true);
    writeFileSync(join(dir, 'a.txt'), 'A');
    expect(zipFiles(dir, listFiles(dir)).equals(first)).toBe(false);
    expect(listFiles(dir)).toEqual(['a.txt', 'b/c.txt']);
  });
});
