import { LAKE_ZONES } from '@strata/schemas';
import { beforeAll, describe, expect, it } from 'vitest';
import { Lake, lifecycleRulesFor } from './lake.js';
import { setRecordingMocks, valueOf, type Recorded } from '../pulumi-mocks.fake.js';

describe('lifecycleRulesFor', () => {
  it('turns LAKE_ZONES into storage-class transitions per prefix and a delete for quarantine and dead letters', () => {
    expect(lifecycleRulesFor(LAKE_ZONES)).toEqual([
      { action: { type: 'SetStorageClass', storageClass: 'NEARLINE' }, condition: { age: 30, matchesPrefixes: ['events/'], matchesStorageClasses: ['STANDARD'] } },
      { action: { type: 'SetStorageClass', storageClass: 'COLDLINE' }, condition: { age: 90, matchesPrefixes: ['events/'], matchesStorageClasses: ['STANDARD', 'NEARLINE'] } },
      { action: { type: 'SetStorageClass', storageClass: 'ARCHIVE' }, condition: { age: 365, matchesPrefixes: ['events/'], matchesStorageClasses: ['STANDARD', 'NEARLINE', 'COLDLINE'] } },
      { action: { type: 'SetStorageClass', storageClass: 'NEARLINE' }, condition: { age: 30, matchesPrefixes: ['quarantine/'], matchesStorageClasses: ['STANDARD'] } },
      { action: { type: 'Delete' }, condition: { age: 90, matchesPrefixes: ['quarantine/'] } },
      { action: { type: 'SetStorageClass', storageClass: 'NEARLINE' }, condition: { age: 30, matchesPrefixes: ['dead-letter/'], matchesStorageClasses: ['STANDARD'] } },
      { action: { type: 'Delete' }, condition: { age: 90, matchesPrefixes: ['dead-letter/'] } },
      { action: { type: 'Delete' }, condition: { age: 90, matchesPrefixes: ['replayed/'] } },
    ]);
  });

  it('never deletes from the curated zone', () => {
    expect(lifecycleRulesFor(LAKE_ZONES).filter((r) => JSON.stringify(r.condition).includes('curated/'))).toEqual([]);
  });
});

describe('Lake', () => {
  let created: Recorded[];
  beforeAll(async () => {
    created = await setRecordingMocks();
    const lake = new Lake('lake', {
      project: 'strata-test',
      name: 'strata-lake-test',
      location: 'europe-west4',
      objectCreators: ['serviceAccount:w@x'],
      objectUsers: ['serviceAccount:c@x'],
      dependsOn: [],
    });
    await valueOf(lake.bucketName);
  });

  it('is private: uniform access, public access prevented, no versioning', () => {
    const bucket = created.find((r) => r.type === 'gcp:storage/bucket:Bucket')!.inputs;
    expect(bucket).toMatchObject({ name: 'strata-lake-test', location: 'europe-west4', uniformBucketLevelAccess: true, publicAccessPrevention: 'enforced' });
    expect(bucket.lifecycleRules).toHaveLength(8);
  });

  it('lets the writer create objects only and the curator use them, nothing more', () => {
    const grants = created.filter((r) => r.type === 'gcp:storage/bucketIAMMember:BucketIAMMember').map((r) => [r.inputs.role, r.inputs.member]);
    expect(grants).toEqual([
      ['roles/storage.objectCreator', 'serviceAccount:w@x'],
      ['roles/storage.objectUser', 'serviceAccount:c@x'],
    ]);
  });
});
