import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { run } from '../scripts/create-key.js';
import { allowsLogType, createKey, createKeyRegistry, DEFAULT_RATE, forbiddenLogTypeReason, keyDigest, loadKeys, parseKeys } from './keys.js';

const HASH = keyDigest('secret-1');
const doc = (...entries: unknown[]) => JSON.stringify(entries);

describe('parseKeys', () => {
  it('reads every field and defaults the rate', () => {
    const keys = parseKeys(
      doc(
        { name: 'web-shop', sha256: HASH.toUpperCase(), logTypes: ['user_action', 'impression'], origins: ['https://shop.example'], rate: { points: 50, durationSeconds: 10 } },
        { name: 'orders', sha256: keyDigest('secret-2') },
      ),
      'INGEST_KEYS',
    );
    expect(keys).toEqual([
      // Upper-case hex is accepted and normalised, so a copied digest always matches.
      { name: 'web-shop', sha256: HASH, logTypes: ['user_action', 'impression'], origins: ['https://shop.example'], rate: { points: 50, durationSeconds: 10 } },
      { name: 'orders', sha256: keyDigest('secret-2'), rate: DEFAULT_RATE },
    ]);
  });

  it.each([
    ['{', 'INGEST_KEYS is not valid JSON'],
    ['{"name":"a"}', 'INGEST_KEYS must be a JSON array of keys'],
    ['[]', 'INGEST_KEYS holds no keys'],
    [doc('x'), 'INGEST_KEYS[0] must be an object'],
    [doc({ sha256: HASH }), 'INGEST_KEYS[0].name must be 1–64 characters'],
    [doc({ name: 'Web Shop', sha256: HASH }), 'INGEST_KEYS[0].name must be'],
    [doc({ name: 'web', key: 'secret-1' }), 'INGEST_KEYS[0] ("web"): unknown field "key"'],
    [doc({ name: 'web', sha256: HASH, logtypes: ['a'] }), 'INGEST_KEYS[0] ("web"): unknown field "logtypes"'],
    [doc({ name: 'web', sha256: 'secret-1' }), 'INGEST_KEYS[0] ("web").sha256 must be the 64 hex digits'],
    [doc({ name: 'web', sha256: HASH, logTypes: [] }), 'INGEST_KEYS[0] ("web").logTypes must be a non-empty array'],
    [doc({ name: 'web', sha256: HASH, logTypes: 'user_action' }), '("web").logTypes must be a non-empty array'],
    [doc({ name: 'web', sha256: HASH, origins: ['https://shop.example/'] }), '("web").origins: "https://shop.example/" is not an origin'],
    [doc({ name: 'web', sha256: HASH, origins: ['https://*.shop.example'] }), 'is not an origin'],
    [doc({ name: 'web', sha256: HASH, origins: ['*'] }), 'is not an origin'],
    [doc({ name: 'web', sha256: HASH, origins: ['null'] }), 'is not an origin'],
    [doc({ name: 'web', sha256: HASH, rate: 100 }), '("web").rate must be an object'],
    [doc({ name: 'web', sha256: HASH, rate: { points: 0 } }), '("web").rate.points must be an integer ≥ 1'],
    [doc({ name: 'web', sha256: HASH, rate: { points: 10, durationSeconds: 0.5 } }), '("web").rate.durationSeconds must be an integer from 1 to 86400'],
    [doc({ name: 'web', sha256: HASH, rate: { points: 10, per: 1 } }), '("web").rate: unknown field "per"'],
    [doc({ name: 'web', sha256: HASH }, { name: 'web', sha256: keyDigest('2') }), 'INGEST_KEYS[1] ("web"): name is used by another key'],
    [doc({ name: 'a', sha256: HASH }, { name: 'b', sha256: HASH }), 'INGEST_KEYS[1] ("b"): sha256 is the same as key "a"'],
  ])('refuses %s naming the entry and field', (json, message) => {
    expect(() => parseKeys(json, 'INGEST_KEYS')).toThrow(message);
  });
});

describe('loadKeys', () => {
  const one = doc({ name: 'web', sha256: HASH });

  it('reads INGEST_KEYS or the file at INGEST_KEYS_FILE, and names the file in errors', () => {
    expect(loadKeys({ INGEST_KEYS: one })[0]!.name).toBe('web');
    const files: Record<string, string> = { '/secrets/keys.json': one, '/secrets/bad.json': '[1]' };
    const readFile = (path: string) => {
      const text = files[path];
      if (text === undefined) throw new Error('ENOENT: no such file');
      return text;
    };
    expect(loadKeys({ INGEST_KEYS_FILE: '/secrets/keys.json' }, readFile)[0]!.name).toBe('web');
    expect(() => loadKeys({ INGEST_KEYS_FILE: '/secrets/bad.json' }, readFile)).toThrow('INGEST_KEYS_FILE (/secrets/bad.json)[0] must be an object');
    expect(() => loadKeys({ INGEST_KEYS_FILE: '/nope' }, readFile)).toThrow('INGEST_KEYS_FILE: cannot read /nope: ENOENT');
  });

  it('wants exactly one of the two', () => {
    expect(() => loadKeys({})).toThrow('INGEST_KEYS or INGEST_KEYS_FILE is required');
    expect(() => loadKeys({ INGEST_KEYS: one, INGEST_KEYS_FILE: '/k' })).toThrow('not both');
  });
});

describe('createKeyRegistry', () => {
  const registry = createKeyRegistry(
    parseKeys(doc({ name: 'web', sha256: HASH, origins: ['https://a.example'] }, { name: 'api', sha256: keyDigest('secret-2'), origins: ['https://a.example', 'https://b.example'] }), 'k'),
  );

  it('finds a key by its text and never hands out the hash', () => {
    expect(registry.lookup('secret-1')).toEqual({ name: 'web', origins: ['https://a.example'], rate: DEFAULT_RATE });
    expect(registry.lookup('secret-2')?.name).toBe('api');
    expect(registry.lookup('secret-3')).toBeUndefined();
    expect(registry.lookup(HASH)).toBeUndefined();
    expect(registry.lookup('')).toBeUndefined();
  });

  it('offers the union of the origins for CORS', () => {
    expect(registry.origins).toEqual(['https://a.example', 'https://b.example']);
  });

  it('matches a digest configured in capitals, and refuses to build from one that is not 32 bytes', () => {
    expect(createKeyRegistry([{ name: 'caps', sha256: HASH.toUpperCase(), rate: DEFAULT_RATE }]).lookup('secret-1')?.name).toBe('caps');
    // timingSafeEqual would throw on every request; fail when the registry is built instead.
    expect(() => createKeyRegistry([{ name: 'short', sha256: 'abcd', rate: DEFAULT_RATE }])).toThrow('key "short" has no SHA-256 digest');
  });
});

describe('allowsLogType', () => {
  const [limited, all] = parseKeys(doc({ name: 'web', sha256: HASH, logTypes: ['user_action', 'impression'] }, { name: 'svc', sha256: keyDigest('2') }), 'k');

  it('allows the listed log types, or all when none are listed, and says why not', () => {
    expect(allowsLogType(limited!, 'user_action')).toBe(true);
    expect(allowsLogType(limited!, 'order_event')).toBe(false);
    expect(allowsLogType(all!, 'order_event')).toBe(true);
    expect(forbiddenLogTypeReason(limited!, 'order_event')).toBe('key "web" may not write log type "order_event"; it may write "user_action", "impression"');
  });
});

describe('createKey', () => {
  it('makes a prefixed 256-bit key whose digest is in a valid entry', () => {
    const { key, entry } = createKey({ name: 'web', origins: ['https://a.example'] }, (size) => Buffer.alloc(size, 7));
    expect(key).toBe(`strata_${Buffer.alloc(32, 7).toString('base64url')}`);
    expect(entry).toEqual({ name: 'web', sha256: keyDigest(key), origins: ['https://a.example'], rate: DEFAULT_RATE });
    expect(createKeyRegistry([entry]).lookup(key)?.name).toBe('web');
    expect(createKey({ name: 'web' }).key).not.toBe(createKey({ name: 'web' }).key);
  });

  it('refuses what the service would refuse', () => {
    expect(() => createKey({ name: 'web', origins: ['https://a.example/path'] })).toThrow('is not an origin');
  });
});

describe('keys:create', () => {
  it('prints the key once and the entry to paste', () => {
    const { output, created } = run(['--name', 'web-shop', '--log-types', 'user_action,impression', '--origins', 'https://shop.example', '--points', '200']);
    expect(created.entry).toMatchObject({ name: 'web-shop', logTypes: ['user_action', 'impression'], origins: ['https://shop.example'], rate: { points: 200, durationSeconds: 1 } });
    expect(output).toContain(`\n  ${created.key}\n`);
    expect(output.split(created.key)).toHaveLength(2);
    expect(output).toContain(JSON.stringify(created.entry));
    // What is printed parses back as a key document.
    expect(parseKeys(`[${JSON.stringify(created.entry)}]`, 'pasted')).toEqual([created.entry]);
  });

  it('refuses a missing name and unknown flags', () => {
    expect(() => run([])).toThrow('--name is required');
    expect(() => run(['--name', 'a', '--points', 'many'])).toThrow('--points must be a whole number');
    expect(() => run(['--name', 'a', '--secret', 'x'])).toThrow();
  });

  it('runs as the npm script does', async () => {
    const script = fileURLToPath(new URL('../scripts/create-key.ts', import.meta.url));
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', script, '--name', 'cli', '--json']);
    const { key, entry } = JSON.parse(stdout) as { key: string; entry: { sha256: string } };
    expect(entry.sha256).toBe(keyDigest(key));
    const failed = await promisify(execFile)(process.execPath, ['--import', 'tsx', script]).catch((err: { code: number; stderr: string }) => err);
    expect(failed).toMatchObject({ code: 2, stderr: expect.stringContaining('--name is required') });
  });
});
