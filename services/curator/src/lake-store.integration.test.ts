import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage, type Bucket } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsEmulator, type GcsEmulator } from '@strata/dev/gcs-emulator';
import { createGcsLakeStore, createMemoryLake, PreconditionFailed, type LakeStore } from './lake-store.js';

/*
 * The GCS implementation against the local Cloud Storage emulator (the real client, real HTTP),
 * and the same contract for the memory lake, so tests that use it as the lake can trust it.
 */

let emulator: GcsEmulator;
let dir: string;
let bucket: Bucket;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'strata-curator-gcs-'));
  emulator = await startGcsEmulator({ root: join(dir, 'gcs') });
  [bucket] = await new Storage({ apiEndpoint: emulator.url, projectId: 'strata-test' }).createBucket('lake');
});
afterAll(async () => {
  await emulator?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A local file holding `text`, to upload. */
const local = async (name: string, text: string) => {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
};

const PARQUET = 'application/vnd.apache.parquet';

describe('createGcsLakeStore', () => {
  it('lists objects under a prefix with generation and size, and downloads them', async () => {
    const name = 'events/log_type=user_action/dt=2025-03-01/hr=10/a.parquet';
    await bucket.file(name).save(Buffer.from('first'));
    await bucket.file(name).save(Buffer.from('second version'));
    await bucket.file('quarantine/x.json').save(Buffer.from('{}'));
    const lake = createGcsLakeStore(bucket);

    const listed = await lake.list('events/');
    expect(listed).toEqual([{ name, generation: expect.stringMatching(/^\d+$/), size: 14, updated: expect.any(String) }]);

    await lake.download(name, join(dir, 'a.parquet'));
    expect(await readFile(join(dir, 'a.parquet'), 'utf8')).toBe('second version');
  });

  it('creates with the content type and returns the generation GCS gave the object', async () => {
    const name = 'typed/a.parquet';
    const generation = await createGcsLakeStore(bucket).create(name, await local('typed', 'x'), PARQUET);
    const [metadata] = await bucket.file(name).getMetadata();
    expect({ generation: String(metadata.generation), contentType: metadata.contentType }).toEqual({ generation, contentType: PARQUET });
  });
});

describe.each([
  ['createGcsLakeStore (emulator)', () => createGcsLakeStore(bucket)],
  ['createMemoryLake', () => createMemoryLake()],
] as const)('%s, the LakeStore contract', (label, make) => {
  let lake: LakeStore;
  // One bucket serves both runs on GCS; each uses its own folder.
  const root = `${label.split(' ')[0]}/`;
  beforeAll(() => {
    lake = make();
  });

  const content = async (name: string) => {
    const path = join(dir, 'downloaded');
    await lake.download(name, path);
    return readFile(path, 'utf8');
  };

  it('lists only names from startOffset (inclusive) to endOffset (exclusive), in name order', async () => {
    const prefix = `${root}offsets/`;
    for (const hr of ['10', '08', '11', '09']) await lake.replace(`${prefix}hr=${hr}/f.parquet`, await local('o', hr), PARQUET);
    const names = async (options: { startOffset?: string; endOffset?: string } = {}) => (await lake.list(prefix, options)).map((o) => o.name);

    expect(await names()).toEqual(['08', '09', '10', '11'].map((hr) => `${prefix}hr=${hr}/f.parquet`));
    expect(await names({ startOffset: `${prefix}hr=09/f.parquet`, endOffset: `${prefix}hr=11` })).toEqual([`${prefix}hr=09/f.parquet`, `${prefix}hr=10/f.parquet`]);
    expect(await names({ startOffset: `${prefix}hr=10` })).toEqual([`${prefix}hr=10/f.parquet`, `${prefix}hr=11/f.parquet`]);
    expect(await names({ endOffset: `${prefix}hr=09` })).toEqual([`${prefix}hr=08/f.parquet`]);
  });

  it('creates an object only if the name is free: a second create is PreconditionFailed and changes nothing', async () => {
    const name = `${root}create/a.parquet`;
    const generation = await lake.create(name, await local('c1', 'one'), PARQUET);
    expect(generation).toMatch(/^\d+$/);

    const second = lake.create(name, await local('c2', 'two'), PARQUET);
    await expect(second).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(second).rejects.toMatchObject({ objectName: name });
    expect(await content(name)).toBe('one');
    expect(await lake.list(`${root}create/`)).toEqual([expect.objectContaining({ name, generation, size: 3 })]);
  });

  it('replaces an object whether or not it exists, with a new generation each time', async () => {
    const name = `${root}replace/summary.json`;
    await lake.replace(name, await local('r1', 'v1'), 'application/json');
    const [first] = await lake.list(`${root}replace/`);
    await lake.replace(name, await local('r2', 'version 2'), 'application/json');
    const [second] = await lake.list(`${root}replace/`);
    expect(await content(name)).toBe('version 2');
    expect(second).toMatchObject({ name, size: 9 });
    expect(second!.generation).not.toBe(first!.generation);
  });

  it('removes exactly the listed generation: a stale one is PreconditionFailed, a gone object false', async () => {
    const name = `${root}remove/a.parquet`;
    const stale = await lake.create(name, await local('m1', 'old'), PARQUET);
    await lake.replace(name, await local('m2', 'rewritten'), PARQUET);

    const removing = lake.remove(name, stale);
    await expect(removing).rejects.toBeInstanceOf(PreconditionFailed);
    await expect(removing).rejects.toMatchObject({ objectName: name });
    expect(await content(name)).toBe('rewritten');

    const [current] = await lake.list(`${root}remove/`);
    expect(await lake.remove(name, current!.generation)).toBe(true);
    expect(await lake.list(`${root}remove/`)).toEqual([]);
    expect(await lake.remove(name, current!.generation)).toBe(false);
    expect(await lake.remove(`${root}remove/never-was.parquet`, '1')).toBe(false);
  });

  it('rewrites exactly the read generation: a stale or deleted one is PreconditionFailed and changes nothing', async () => {
    const name = `${root}rewrite/a.parquet`;
    const first = await lake.create(name, await local('w1', 'with the user'), PARQUET);
    const second = await lake.rewrite(name, await local('w2', 'without'), PARQUET, first);
    expect(second).toMatch(/^\d+$/);
    expect(second).not.toBe(first);
    expect(await content(name)).toBe('without');

    await expect(lake.rewrite(name, await local('w3', 'clobbered'), PARQUET, first)).rejects.toMatchObject({ name: 'PreconditionFailed', objectName: name });
    expect(await content(name)).toBe('without');
    expect(await lake.remove(name, second)).toBe(true);
    await expect(lake.rewrite(name, await local('w4', 'recreated'), PARQUET, second)).rejects.toBeInstanceOf(PreconditionFailed);
    expect(await lake.list(`${root}rewrite/`)).toEqual([]);
  });

  it('fails to download an object that is gone', async () => {
    await expect(lake.download(`${root}nothing-here.parquet`, join(dir, 'nothing'))).rejects.toThrow();
  });
});
