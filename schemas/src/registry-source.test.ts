import { describe, expect, it } from 'vitest';
import { loadBundledSchemas, loadEnvelope } from './bundled.js';
import { recordingLogger, signupV1, signupV2, signupV3Breaking, signupVersion } from './registry-fixtures.js';
import { buildRegistry, createRegistrySource } from './registry-source.js';
import type { PublishedVersion } from './registry-table.js';

const envelope = loadEnvelope();
const bundled = loadBundledSchemas();
const published = (...versions: Array<Omit<PublishedVersion, 'active'>>): PublishedVersion[] => versions.map((v) => ({ ...v, active: true }));
const userActionV1 = bundled.find((v) => v.logType === 'user_action' && v.version === 1)!;

describe('createRegistrySource without a pool', () => {
  it('serves the bundled registry at once, the same one every time', async () => {
    const source = createRegistrySource({ bundled, envelope, ttlMs: 10, logger: recordingLogger() });
    const first = await source.current();
    expect(first.logTypes()).toEqual([...new Set(bundled.map((v) => v.logType))].sort());
    expect(await source.current()).toBe(first);
    await source.close();
  });
});

describe('buildRegistry', () => {
  it('serves compatible published versions beside the bundled ones', () => {
    const logger = recordingLogger();
    const registry = buildRegistry(bundled, published(signupV1, signupV2), envelope, logger);
    expect(registry.versions('test_signup')).toEqual([1, 2]);
    expect(registry.latestVersion('user_action')).toBe(Math.max(...bundled.filter((v) => v.logType === 'user_action').map((v) => v.version)));
    expect(logger.lines.filter((l) => l.level === 'warn')).toEqual([]);
    expect(logger.lines.at(-1)).toMatchObject({ level: 'info', fields: { published: ['test_signup v1', 'test_signup v2'] } });
  });

  it('leaves out a version that breaks its predecessor, and the versions after the gap it leaves', () => {
    const logger = recordingLogger();
    const registry = buildRegistry(bundled, published(signupV1, signupV2, signupV3Breaking, signupVersion(4)), envelope, logger);
    expect(registry.versions('test_signup')).toEqual([1, 2]);
    const warnings = logger.lines.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => [w.fields.version, w.message])).toEqual([
      [3, expect.stringMatching(/^published test_signup v3 ignored: .*\/plan changed type from string to integer \(type-changed\)/)],
      [4, expect.stringContaining('(version-gap)')],
    ]);
  });

  it('keeps the bundled copy when a published row of the same version differs, and says so', () => {
    const logger = recordingLogger();
    const changed = { ...userActionV1, schema: { ...userActionV1.schema, description: 'edited after publishing' } };
    const registry = buildRegistry(bundled, published(changed), envelope, logger);
    expect(registry.schema('user_action', 1).description).toBe(userActionV1.schema.description);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'published user_action v1 ignored: differs from the bundled version of the same number (the bundled one is served)',
    ]);

    // The same content with its keys in jsonb's order is the same version: nothing to say.
    const quiet = recordingLogger();
    const reordered = Object.fromEntries(Object.entries(userActionV1.schema).reverse());
    buildRegistry(bundled, published({ ...userActionV1, schema: reordered }), envelope, quiet);
    expect(quiet.lines.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('leaves out a row whose schema names another log type or version', () => {
    const logger = recordingLogger();
    const registry = buildRegistry(bundled, published(signupV1, { ...signupV2, version: 3 }), envelope, logger);
    expect(registry.versions('test_signup')).toEqual([1]);
    expect(logger.lines.find((l) => l.level === 'warn')?.message).toContain('test_signup v3: its schema says x-log-type "test_signup", x-version 2');
  });

  it('leaves out a version that does not compile and serves the rest', () => {
    const logger = recordingLogger();
    const bogus = signupVersion(1, { plan: { type: 'string', 'x-nonsense': true } });
    const other = { ...signupV1, logType: 'test_other', schema: { ...signupV1.schema, 'x-log-type': 'test_other' } };
    const registry = buildRegistry(bundled, published(other, bogus), envelope, logger);
    expect(registry.logTypes()).toContain('test_other');
    expect(registry.logTypes()).not.toContain('test_signup');
    expect(logger.lines.find((l) => l.level === 'warn')?.message).toMatch(/^published test_signup v1 ignored: /);
  });
});
