import { describe, expect, it } from 'vitest';
import { loadStrataConfig } from './config.js';
import { INGEST_KEYS } from './pulumi-mocks.fake.js';

const gcp = (project = 'strata-test') => ({ get: (k: string) => (k === 'project' ? project : undefined) });
const strata = (values: Record<string, string>) => ({ get: (k: string) => values[k] });
const required = { lakeBucketName: 'strata-lake-test', ingestKeys: INGEST_KEYS };

describe('loadStrataConfig', () => {
  it('fills the defaults', () => {
    const config = loadStrataConfig(strata(required), gcp());
    expect(config).toMatchObject({
      project: 'strata-test',
      region: 'europe-west1',
      sourceBucketName: 'strata-lake-test-functions',
      flushMaxAgeMs: 5000,
      curatorSchedule: '*/5 * * * *',
      replaySchedule: undefined,
      curatorRunBudgetSeconds: 150,
      scaling: { writer: { minInstances: 0, maxInstances: 20 }, curator: { minInstances: 0, maxInstances: 3 } },
      piiExtraKeys: ['email', 'phone', 'ip'],
      piiHashKeyId: undefined,
    });
  });

  it('reads the PII key patterns and key id', () => {
    const config = loadStrataConfig(strata({ ...required, piiExtraKeys: '["email","iban"]', piiHashKeyId: '2025-06' }), gcp());
    expect(config).toMatchObject({ piiExtraKeys: ['email', 'iban'], piiHashKeyId: '2025-06' });
    expect(loadStrataConfig(strata({ ...required, piiExtraKeys: '[]', piiHashKeyId: '' }), gcp())).toMatchObject({ piiExtraKeys: [], piiHashKeyId: undefined });
  });

  it.each([
    [{ lakeBucketName: 'Bad_Bucket' }, /strata:lakeBucketName/],
    [{ lakeBucketName: undefined }, /strata:lakeBucketName is required/],
    [{ ingestKeys: '[]' }, /strata:ingestKeys must be a non-empty/],
    [{ ingestKeys: '[{"name":"a","sha256":"xyz"}]' }, /strata:ingestKeys\[0\]/],
    [{ ingestKeys: 'nope' }, /not valid JSON/],
    [{ writerMinInstances: '5', writerMaxInstances: '2' }, /writerMinInstances \(5\) is above/],
    [{ flushMaxAgeMs: '90000' }, /strata:flushMaxAgeMs/],
    [{ curatorSchedule: 'every 5 minutes' }, /five-field cron/],
    [{ replaySchedule: 'hourly' }, /strata:replaySchedule "hourly" is not a five-field cron/],
    [{ vpcConnectorCidr: '10.8.0.0/24' }, /strata:vpcConnectorCidr/],
    [{ databaseAvailabilityType: 'HA' }, /ZONAL or REGIONAL/],
    [{ piiExtraKeys: '["e"]' }, /strata:piiExtraKeys/],
    [{ piiHashKeyId: 'k:1' }, /strata:piiHashKeyId/],
  ])('refuses %j naming the key', (override, message) => {
    const values = { ...required, ...override } as Record<string, string>;
    expect(() => loadStrataConfig(strata(values), gcp())).toThrow(message);
  });

  it('requires gcp:project', () => {
    expect(() => loadStrataConfig(strata(required), { get: () => undefined })).toThrow(/gcp:project must be set/);
  });
});
