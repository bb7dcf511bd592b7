import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { CRC32C, Storage, type Bucket } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsEmulator, type GcsEmulator } from './index.js';

const md5 = (data: Buffer) => createHash('md5').update(data).digest('base64');
const crc32c = (data: Buffer) => {
  const crc = new CRC32C();
  crc.update(data);
  return crc.toString();
};
/** Byte-for-byte equality; vitest's deep toEqual walks a Buffer element by element (slow for 700 KiB). */
const expectBytes = (actual: Buffer, expected: Buffer) => {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.compare(actual, expected)).toBe(0);
};
/** The client's errors carry the HTTP status as `code`. */
const statusOf = (err: unknown) => (err as { code?: unknown }).code;

let emulator: GcsEmulator;
let root: string;
let storage: Storage;
let lake: Bucket;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'gcs-emulator-'));
  emulator = await startGcsEmulator({ root });
  storage = new Storage({ apiEndpoint: emulator.url, projectId: 'test' });
  [lake] = await storage.createBucket('lake');
});

afterAll(async () => {
  await emulator?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

describe('buckets', () => {
  it('creates, gets, lists and deletes a bucket', async () => {
    const [bucket] = await storage.createBucket('crud-bucket');
    expect(bucket.name).toBe('crud-bucket');
    expect((await bucket.exists())[0]).toBe(true);
    const [metadata] = await bucket.getMetadata();
    expect(metadata).toMatchObject({ kind: 'storage#bucket', name: 'crud-bucket', id: 'crud-bucket' });
    const [buckets] = await storage.getBuckets();
    expect(buckets.map((b) => b.name)).toEqual(expect.arrayContaining(['crud-bucket', 'lake']));
    await expect(storage.createBucket('crud-bucket')).rejects.toSatisfy((err) => statusOf(err) === 409);

    await bucket.file('x.txt').save('x', { resumable: false });
    await expect(bucket.delete()).rejects.toSatisfy((err) => statusOf(err) === 409);
    await bucket.file('x.txt').delete();
    await bucket.delete();
    expect((await bucket.exists())[0]).toBe(false);
    expect(existsSync(join(root, 'crud-bucket'))).toBe(false);
    await expect(bucket.getMetadata()).rejects.toSatisfy((err) => statusOf(err) === 404);
    await expect(storage.bucket('no-such-bucket').file('a').save('a', { resumable: false })).rejects.toSatisfy(
      (err) => statusOf(err) === 404,
    );
  });
});

describe('uploads', () => {
  it('stores a simple upload at the mirrored path with its metadata, never listing the sidecar', async () => {
    const data = Buffer.from('{"hello":"lake"}\n');
    const file = lake.file('events/log_type=page_view/dt=2024-05-01/hr=13/a.json');
    await file.save(data, { resumable: false, contentType: 'application/json', metadata: { metadata: { rows: '1' } } });

    expectBytes(await readFile(join(root, 'lake/events/log_type=page_view/dt=2024-05-01/hr=13/a.json')), data);
    const [metadata] = await file.getMetadata();
    expect(metadata).toMatchObject({
      kind: 'storage#object',
      bucket: 'lake',
      name: 'events/log_type=page_view/dt=2024-05-01/hr=13/a.json',
      contentType: 'application/json',
      size: String(data.length),
      md5Hash: md5(data),
      crc32c: crc32c(data),
      metageneration: '1',
      metadata: { rows: '1' },
    });
    expect(Number(metadata.generation)).toBeGreaterThan(0);
    const [files] = await lake.getFiles({ prefix: 'events/log_type=page_view/' });
    expect(files.map((f) => f.name)).toEqual(['events/log_type=page_view/dt=2024-05-01/hr=13/a.json']);
  });

  it('uploads resumably in one request (small) and in several chunks (large)', async () => {
    const small = randomBytes(1000);
    await lake.file('resumable/small.bin').save(small, { resumable: true });
    expectBytes(await readFile(join(root, 'lake/resumable/small.bin')), small);

    // 256 KiB is the client's minimum chunk size; 700 KiB forces three PUTs (two answered 308).
    const large = randomBytes(700 * 1024);
    const statuses: number[] = [];
    const stream = lake.file('resumable/large.bin').createWriteStream({ resumable: true, chunkSize: 256 * 1024 });
    stream.on('response', (res: { status: number }) => statuses.push(res.status));
    await pipeline(Readable.from([large.subarray(0, 100_000), large.subarray(100_000)]), stream);
    expect(statuses.filter((s) => s === 308).length).toBeGreaterThanOrEqual(2);
    expectBytes(await readFile(join(root, 'lake/resumable/large.bin')), large);
    const [metadata] = await lake.file('resumable/large.bin').getMetadata();
    expect(metadata).toMatchObject({ size: String(large.length), md5Hash: md5(large), crc32c: crc32c(large) });

    const empty = lake.file('resumable/empty.bin');
    await empty.save(Buffer.alloc(0), { resumable: true });
    expect((await empty.download())[0].length).toBe(0);
  });

  it('speaks the resumable protocol: 308 with Range, status query, then the final chunk', async () => {
    const start = await fetch(`${emulator.url}/upload/storage/v1/b/lake/o?uploadType=resumable&name=raw/session.bin`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Upload-Content-Type': 'text/plain' },
      body: JSON.stringify({ metadata: { via: 'raw' } }),
    });
    expect(start.status).toBe(200);
    const session = start.headers.get('location') ?? '';
    expect(session).toContain('upload_id=');
    const put = (range: string, body?: string) => fetch(session, { method: 'PUT', headers: { 'Content-Range': range }, body });
    const first = await put('bytes 0-4/*', 'hello');
    expect(first.status).toBe(308);
    expect(first.headers.get('range')).toBe('bytes=0-4');
    const status = await put('bytes */*');
    expect([status.status, status.headers.get('range')]).toEqual([308, 'bytes=0-4']);
    // Re-sending already held bytes is harmless: the server skips them.
    const last = await put('bytes 3-10/11', 'lo world');
    expect(last.status).toBe(200);
    expect(await last.json()).toMatchObject({ name: 'raw/session.bin', size: '11', contentType: 'text/plain', metadata: { via: 'raw' } });
    expect(await readFile(join(root, 'lake/raw/session.bin'), 'utf8')).toBe('hello world');
  });

  it('answers 412 conditionNotMet to a second ifGenerationMatch=0 upload, simple or resumable', async () => {
    for (const resumable of [false, true]) {
      const file = lake.file(`preconditions/once-${resumable}.txt`);
      await file.save('first', { resumable, preconditionOpts: { ifGenerationMatch: 0 } });
      await expect(file.save('second', { resumable, preconditionOpts: { ifGenerationMatch: 0 } })).rejects.toSatisfy(
        (err) => statusOf(err) === 412 || (err as { status?: number }).status === 412,
      );
      expect((await file.download())[0].toString()).toBe('first');
    }
    const [metadata] = await lake.file('preconditions/once-false.txt').getMetadata();
    const generation = Number(metadata.generation);
    await lake.file('preconditions/once-false.txt').save('third', { resumable: false, preconditionOpts: { ifGenerationMatch: generation } });
    const [after] = await lake.file('preconditions/once-false.txt').getMetadata();
    expect(Number(after.generation)).toBeGreaterThan(generation);
  });

  it('lets exactly one of several racing ifGenerationMatch=0 uploads win', async () => {
    const file = lake.file('preconditions/race.txt');
    const results = await Promise.allSettled(
      ['a', 'b', 'c', 'd'].map((body, i) => file.save(body.repeat(50_000), { resumable: i % 2 === 0, preconditionOpts: { ifGenerationMatch: 0 } })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const [content] = await file.download();
    expect(content.length).toBe(50_000);
  });

  it('returns the JSON error body of the real API for a failed precondition', async () => {
    const res = await fetch(`${emulator.url}/upload/storage/v1/b/lake/o?uploadType=media&name=preconditions/once-false.txt&ifGenerationMatch=0`, {
      method: 'POST',
      body: 'nope',
    });
    expect(res.status).toBe(412);
    expect(await res.json()).toEqual({
      error: {
        code: 412,
        message: 'At least one of the pre-conditions you specified did not hold.',
        errors: [
          {
            message: 'At least one of the pre-conditions you specified did not hold.',
            domain: 'global',
            reason: 'conditionNotMet',
            locationType: 'header',
            location: 'If-Match',
          },
        ],
      },
    });
  });
});

describe('downloads', () => {
  const data = randomBytes(64 * 1024 + 7);

  beforeAll(async () => {
    await lake.file('downloads/data.bin').save(data, { resumable: false });
  });

  it('validates with md5 and crc32c, from the x-goog-hash header', async () => {
    expectBytes((await lake.file('downloads/data.bin').download({ validation: 'md5' }))[0], data);
    expectBytes((await lake.file('downloads/data.bin').download({ validation: 'crc32c' }))[0], data);
    const res = await fetch(`${emulator.url}/storage/v1/b/lake/o/${encodeURIComponent('downloads/data.bin')}?alt=media`);
    expect(res.headers.get('x-goog-hash')).toBe(`crc32c=${crc32c(data)},md5=${md5(data)}`);
    expectBytes(Buffer.from(await res.arrayBuffer()), data);
  });

  it('makes the client reject a download whose bytes do not match the advertised hashes', async () => {
    // Proves the headers really drive the client's validation (it silently skips it without
    // `x-goog-stored-content-encoding`): corrupt the sidecar's hashes, keep its file identity.
    await lake.file('downloads/tampered.bin').save(data, { resumable: false });
    const sidecar = join(root, '.meta/objects/lake/downloads/tampered.bin.meta.json');
    const record = JSON.parse(await readFile(sidecar, 'utf8')) as Record<string, unknown>;
    await writeFile(sidecar, JSON.stringify({ ...record, crc32c: crc32c(Buffer.from('x')), md5Hash: md5(Buffer.from('x')) }));
    await expect(lake.file('downloads/tampered.bin').download()).rejects.toThrow(/did not match/);
    await expect(lake.file('downloads/tampered.bin').download({ validation: 'md5' })).rejects.toThrow(/did not match/);
  });

  it('serves byte ranges', async () => {
    const file = lake.file('downloads/data.bin');
    expectBytes((await file.download({ start: 5, end: 9 }))[0], data.subarray(5, 10));
    expectBytes((await file.download({ start: 60_000 }))[0], data.subarray(60_000));
    expectBytes((await file.download({ end: -4 }))[0], data.subarray(data.length - 4));
    const res = await fetch(`${emulator.url}/storage/v1/b/lake/o/downloads%2Fdata.bin?alt=media`, { headers: { Range: 'bytes=0-1' } });
    expect([res.status, res.headers.get('content-range')]).toEqual([206, `bytes 0-1/${data.length}`]);
  });

  it('lists and downloads a file written into the folder by hand', async () => {
    const bytes = Buffer.from('dropped in by hand');
    await mkdir(join(root, 'lake/by-hand'), { recursive: true });
    await writeFile(join(root, 'lake/by-hand/note.txt'), bytes);
    const [files] = await lake.getFiles({ prefix: 'by-hand/' });
    expect(files.map((f) => f.name)).toEqual(['by-hand/note.txt']);
    expect(files[0]?.metadata).toMatchObject({ size: String(bytes.length), md5Hash: md5(bytes), crc32c: crc32c(bytes) });
    expectBytes((await lake.file('by-hand/note.txt').download({ validation: 'md5' }))[0], bytes);
  });
});

describe('listing', () => {
  const names = ['list/a.txt', 'list/b.txt', 'list/c.txt', 'list/sub1/x', 'list/sub1/y', 'list/sub2/z', 'list-other.txt'];

  beforeAll(async () => {
    await Promise.all(names.map((name) => lake.file(name).save(name, { resumable: false })));
  });

  it('pages with prefix, delimiter and maxResults, reporting prefixes', async () => {
    const seen: string[] = [];
    const prefixes: string[] = [];
    let query: Record<string, unknown> | null = { prefix: 'list/', delimiter: '/', maxResults: 2, autoPaginate: false };
    let pages = 0;
    while (query) {
      const [files, next, response] = (await lake.getFiles(query)) as unknown as [
        Array<{ name: string }>,
        Record<string, unknown> | null,
        { prefixes?: string[] },
      ];
      seen.push(...files.map((f) => f.name));
      prefixes.push(...(response.prefixes ?? []));
      expect(files.length + (response.prefixes?.length ?? 0)).toBeLessThanOrEqual(2);
      query = next;
      pages++;
    }
    expect(seen).toEqual(['list/a.txt', 'list/b.txt', 'list/c.txt']);
    expect(prefixes).toEqual(['list/sub1/', 'list/sub2/']);
    expect(pages).toBe(3);
  });

  it('lists everything under a prefix without a delimiter, in name order', async () => {
    const [files] = await lake.getFiles({ prefix: 'list' });
    expect(files.map((f) => f.name)).toEqual(['list-other.txt', ...names.filter((n) => n.startsWith('list/'))]);
  });
});

describe('copies', () => {
  it('copies and moves objects with their metadata (rewriteTo)', async () => {
    const source = lake.file('copy/source.csv');
    await source.save('a,b\n1,2\n', { resumable: false, contentType: 'text/csv', metadata: { metadata: { origin: 'test' } } });
    const [copy] = await source.copy('copy/copied.csv');
    expect((await copy.download())[0].toString()).toBe('a,b\n1,2\n');
    expect((await copy.getMetadata())[0]).toMatchObject({ contentType: 'text/csv', metadata: { origin: 'test' } });
    await copy.move('copy/moved.csv');
    expect((await copy.exists())[0]).toBe(false);
    expect(await readFile(join(root, 'lake/copy/moved.csv'), 'utf8')).toBe('a,b\n1,2\n');
  });
});

describe('deletes and 404s', () => {
  it('deletes an object, prunes its folders and answers 404 afterwards', async () => {
    const file = lake.file('gone/deep/er/file.txt');
    await file.save('bye', { resumable: false });
    const [metadata] = await file.getMetadata();
    await expect(file.delete({ ifGenerationMatch: Number(metadata.generation) + 1 })).rejects.toSatisfy((err) => statusOf(err) === 412);
    await file.delete({ ifGenerationMatch: Number(metadata.generation) });
    expect(existsSync(join(root, 'lake/gone'))).toBe(false);
    expect((await file.exists())[0]).toBe(false);
    await expect(file.delete()).rejects.toSatisfy((err) => statusOf(err) === 404);
    await expect(file.download()).rejects.toSatisfy((err) => statusOf(err) === 404);
    await expect(file.getMetadata()).rejects.toThrow('No such object: lake/gone/deep/er/file.txt');
    const res = await fetch(`${emulator.url}/storage/v1/b/lake/o/${encodeURIComponent('gone/deep/er/file.txt')}`);
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: {
        code: 404,
        message: 'No such object: lake/gone/deep/er/file.txt',
        errors: [{ message: 'No such object: lake/gone/deep/er/file.txt', domain: 'global', reason: 'notFound' }],
      },
    });
  });
});

describe('names', () => {
  it('round-trips slashes, spaces and unicode, mirrored on disk', async () => {
    const name = 'odd names/dir with space/naïve 日本語 😀 #1?.txt';
    await lake.file(name).save('unicode', { resumable: false });
    await lake.file(`${name}.resumable`).save('unicode-r', { resumable: true });
    expect(await readFile(join(root, 'lake', ...name.split('/')), 'utf8')).toBe('unicode');
    expect((await lake.file(name).download())[0].toString()).toBe('unicode');
    const [files] = await lake.getFiles({ prefix: 'odd names/' });
    expect(files.map((f) => f.name)).toEqual([name, `${name}.resumable`]);
  });

  it('refuses a name the file mirror cannot hold, and paths that would leave the root', async () => {
    await expect(lake.file('folder/').save('x', { resumable: false })).rejects.toSatisfy((err) => statusOf(err) === 400);
    for (const path of ['/storage/v1/b/lake/o/..%2F..%2Fetc%2Fhostname?alt=media', '/storage/v1/b/..%2F..%2Fetc', '/b/lake/o/..%2F..%2Fetc%2Fhostname']) {
      expect((await fetch(`${emulator.url}${path}`)).status, path).toBe(400);
    }
  });
});

describe('the lake folder', () => {
  it('is readable by DuckDB with a **/*.parquet glob that sees objects only', async () => {
    const duck = await DuckDBInstance.create(':memory:');
    const connection = await duck.connect();
    try {
      const local = join(root, 'made-by-duckdb.parquet');
      await connection.run(`COPY (SELECT range AS n FROM range(10)) TO '${local}' (FORMAT parquet)`);
      const bytes = await readFile(local);
      await rm(local);
      await lake.file('events/log_type=t/dt=2024-05-01/hr=00/one.parquet').save(bytes, { resumable: false });
      await lake.file('events/log_type=t/dt=2024-05-01/hr=01/two.parquet').save(bytes, { resumable: true });
      const reader = await connection.runAndReadAll(
        `SELECT count(*)::INTEGER AS rows, count(DISTINCT filename)::INTEGER AS files, min(hr)::INTEGER AS first_hr
         FROM read_parquet('${join(root, 'lake')}/**/*.parquet', hive_partitioning = true, filename = true)`,
      );
      expect(reader.getRowObjects()).toEqual([{ rows: 20, files: 2, first_hr: 0 }]);
    } finally {
      connection.closeSync();
      duck.closeSync();
    }
  });
});

describe('STORAGE_EMULATOR_HOST', () => {
  it('works when the client finds the emulator through the environment', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = emulator.url;
    try {
      const viaEnv = new Storage({ projectId: 'test' });
      const file = viaEnv.bucket('lake').file('env/hello.txt');
      await file.save('via env', { resumable: false });
      await file.save('via env, resumable', { resumable: true });
      expect((await file.download())[0].toString()).toBe('via env, resumable');
      const [files] = await viaEnv.bucket('lake').getFiles({ prefix: 'env/' });
      expect(files.map((f) => f.name)).toEqual(['env/hello.txt']);
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });
});
