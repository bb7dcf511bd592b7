import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Storage, type Bucket } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGcsEmulator, type GcsEmulator } from '@strata/dev/gcs-emulator';
import { createGcsLakeReader } from './lake-reader.js';

// The GCS implementation against the local Cloud Storage emulator: the real client, real HTTP.
describe('createGcsLakeReader', () => {
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

  it('lists objects under a prefix with generation and size, and downloads them', async () => {
    const name = 'events/log_type=user_action/dt=2025-03-01/hr=10/a.parquet';
    await bucket.file(name).save(Buffer.from('first'));
    await bucket.file(name).save(Buffer.from('second version'));
    await bucket.file('quarantine/x.json').save(Buffer.from('{}'));
    const lake = createGcsLakeReader(bucket);

    const listed = await lake.list('events/');
    expect(listed).toEqual([{ name, generation: expect.stringMatching(/^\d+$/), size: 14, updated: expect.any(String) }]);

    await lake.download(name, join(dir, 'a.parquet'));
    expect(await readFile(join(dir, 'a.parquet'), 'utf8')).toBe('second version');
  });
});
