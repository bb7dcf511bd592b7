import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig as loadCuratorConfig } from '@strata/curator';
import { loadConfig as loadIngestConfig } from '@strata/ingest';
import { INGEST_NODE_OPTIONS } from '@strata/ingest/node-options';
import { ackDeadlineSecondsFor, PUSH_DELIVERY } from '@strata/schemas';
import { loadConfig as loadWriterConfig } from '@strata/writer';
import { WRITER_NODE_OPTIONS } from '@strata/writer/node-options';
import { beforeAll, describe, expect, it } from 'vitest';
import { secretFilePath, serviceEnvironments, Services, SERVICE_SIZING, wholeCpus, type ServiceSpec } from './services.js';
import { fixtureBundles, INGEST_KEYS, setRecordingMocks, valueOf, type Recorded } from '../pulumi-mocks.fake.js';

const settings = {
  project: 'strata-test',
  region: 'europe-west4',
  logLevel: 'info',
  topicName: 'strata-events',
  lakeBucketName: 'strata-lake-test',
  eventMaxLateSeconds: 604800,
  eventMaxFutureSeconds: 3600,
  flushMaxAgeMs: PUSH_DELIVERY.flushMaxAgeMs,
  pushAckDeadlineSeconds: ackDeadlineSecondsFor(PUSH_DELIVERY.flushMaxAgeMs),
  pushServiceAccountEmail: 'strata-push@strata-test.iam.gserviceaccount.com',
  schedulerServiceAccountEmail: 'strata-scheduler@strata-test.iam.gserviceaccount.com',
  curatorRunBudgetSeconds: 150,
  piiExtraKeys: ['email', 'phone', 'ip'],
  piiHashKeyId: undefined,
};

describe('serviceEnvironments', () => {
  const env = serviceEnvironments(settings);
  // What Secret Manager adds at run time (secret env vars), with fixture values.
  const secrets = { PII_HASH_SECRET: 'x'.repeat(48), SCHEMA_REGISTRY_DATABASE_URL: 'postgresql://u:p@10.0.0.3/strata', DATABASE_URL: 'postgresql://u:p@10.0.0.3/strata' };

  it('is accepted by each service’s own config parser, with the values the cloud needs', () => {
    const dir = mkdtempSync(join(tmpdir(), 'strata-keys-'));
    writeFileSync(join(dir, 'keys.json'), INGEST_KEYS);
    const ingest = loadIngestConfig({ ...env.ingest, INGEST_KEYS_FILE: join(dir, 'keys.json'), PII_HASH_SECRET: secrets.PII_HASH_SECRET });
    expect(ingest).toMatchObject({ projectId: 'strata-test', topic: 'strata-events' });
    expect(env.ingest.INGEST_KEYS_FILE).toBe(secretFilePath('ingestKeys'));

    const writer = loadWriterConfig({ ...env.writer, ...secrets });
    expect(writer).toMatchObject({
      lakeBucket: 'strata-lake-test',
      pushAudience: 'https://europe-west4-strata-test.cloudfunctions.net/strata-writer/push',
      pushServiceAccount: settings.pushServiceAccountEmail,
      pushConcurrency: SERVICE_SIZING.writer.concurrency,
      pushAckDeadlineSeconds: 25,
      flushMaxAgeMs: 5000,
    });
    const curator = loadCuratorConfig({ ...env.curator, ...secrets });
    expect(curator).toMatchObject({
      lakeBucket: 'strata-lake-test',
      schedulerAudience: 'https://europe-west4-strata-test.cloudfunctions.net/strata-curator/run',
      schedulerServiceAccount: settings.schedulerServiceAccountEmail,
      // Replay publishes where ingest does.
      topic: ingest.topic,
    });
    expect(curator.curation.runBudgetMs).toBe(150_000);
  });

  it('gives ingest and the writer the same PII settings, which both parse alike', () => {
    const parsed = (e: Record<string, string>) => loadWriterConfig({ ...env.writer, ...e, ...secrets }).pii;
    expect(env.ingest.PII_EXTRA_KEYS).toBe('email,phone,ip');
    expect(env.writer.PII_EXTRA_KEYS).toBe(env.ingest.PII_EXTRA_KEYS);
    expect(env.writer).not.toHaveProperty('PII_HASH_KEY_ID');
    const rotated = serviceEnvironments({ ...settings, piiExtraKeys: [], piiHashKeyId: 'k2' });
    expect([rotated.ingest.PII_HASH_KEY_ID, rotated.writer.PII_HASH_KEY_ID]).toEqual(['k2', 'k2']);
    expect(parsed(rotated.writer)).toMatchObject({ keyId: 'k2', extraKeys: [] });
    expect(parsed(env.writer).extraKeys).toEqual(['email', 'phone', 'ip']);
  });

  it('starts ingest and the writer with their NODE_OPTIONS', () => {
    expect(env.ingest.NODE_OPTIONS).toBe(INGEST_NODE_OPTIONS);
    expect(env.writer.NODE_OPTIONS).toBe(WRITER_NODE_OPTIONS);
    // One vCPU: ingest prepares on the request thread, whatever CPU count the instance reports.
    expect({ cpu: SERVICE_SIZING.ingest.cpu, threads: env.ingest.INGEST_WORKER_THREADS }).toEqual({ cpu: '1', threads: '0' });
    expect(['1', '2', '2000m', '500m'].map(wholeCpus)).toEqual([1, 2, 2, 1]);
    expect(() => wholeCpus('two')).toThrow('not a Cloud Run CPU value: "two"');
  });

  it('runs the writer at the concurrency PUSH_DELIVERY assumes, with a whole vCPU', () => {
    expect(SERVICE_SIZING.writer).toMatchObject({ concurrency: PUSH_DELIVERY.writerConcurrency, cpu: '1', memory: '1Gi' });
    for (const s of Object.values(SERVICE_SIZING)) if (s.concurrency > 1) expect(Number(s.cpu)).toBeGreaterThanOrEqual(1);
  });
});

describe('Services', () => {
  let created: Recorded[];
  const ref = { secretId: 'strata-x', version: '3' };
  beforeAll(async () => {
    created = await setRecordingMocks();
    const spec = (invoker: string, env: Record<string, string>): ServiceSpec => ({
      serviceAccountEmail: `${invoker}@x`,
      env,
      secretEnv: { PII_HASH_SECRET: ref as never },
      secretFiles: [{ mountPath: '/strata/secrets/db-ca', fileName: 'server-ca.pem', ref: ref as never }],
      invokers: [invoker === 'ingest' ? 'allUsers' : `serviceAccount:${invoker}-caller@x`],
      minInstances: 0,
      maxInstances: 5,
      timeoutSeconds: 60,
      vpcConnector: 'projects/p/locations/r/connectors/c',
    });
    const env = serviceEnvironments(settings);
    const services = new Services('services', {
      project: 'strata-test',
      region: 'europe-west4',
      sourceBucketName: 'strata-sources',
      bundles: fixtureBundles(),
      specs: { ingest: spec('ingest', env.ingest), writer: spec('writer', env.writer), curator: spec('curator', env.curator) },
      builder: { id: 'projects/strata-test/serviceAccounts/builder@x', member: 'serviceAccount:builder@x' },
      dependsOn: [],
    });
    await valueOf(services.urls.curator);
    await new Promise((r) => setTimeout(r, 50));
  });
  const fn = (name: string) => created.find((r) => r.type === 'gcp:cloudfunctionsv2/function:Function' && r.inputs.name === name)!.inputs as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('deploys gen2 nodejs20 functions from zips named by their hash, built by the builder account', () => {
    const objects = created.filter((r) => r.type === 'gcp:storage/bucketObject:BucketObject').map((r) => r.inputs.name as string);
    const bundles = fixtureBundles();
    expect(objects).toEqual(['ingest', 'writer', 'curator'].map((s) => `${s}/${bundles[s as 'ingest'].sha256}.zip`));
    expect(fn('strata-writer').buildConfig).toMatchObject({
      runtime: 'nodejs20',
      entryPoint: 'writer',
      source: { storageSource: { bucket: 'strata-sources', object: objects[1] } },
      serviceAccount: 'projects/strata-test/serviceAccounts/builder@x',
    });
  });

  it('sizes and exposes each service as designed', () => {
    expect(fn('strata-ingest').serviceConfig).toMatchObject({ availableCpu: '1', availableMemory: '512Mi', maxInstanceRequestConcurrency: 80, ingressSettings: 'ALLOW_ALL' });
    expect(fn('strata-writer').serviceConfig).toMatchObject({ availableCpu: '1', availableMemory: '1Gi', maxInstanceRequestConcurrency: 80, ingressSettings: 'ALLOW_INTERNAL_ONLY' });
    expect(fn('strata-curator').serviceConfig).toMatchObject({ availableMemory: '4Gi', maxInstanceRequestConcurrency: 1, ingressSettings: 'ALLOW_INTERNAL_ONLY' });
    expect(fn('strata-curator').serviceConfig).toMatchObject({
      vpcConnectorEgressSettings: 'PRIVATE_RANGES_ONLY',
      secretEnvironmentVariables: [{ key: 'PII_HASH_SECRET', projectId: 'strata-test', secret: 'strata-x', version: '3' }],
      secretVolumes: [{ mountPath: '/strata/secrets/db-ca', secret: 'strata-x', versions: [{ path: 'server-ca.pem', version: '3' }] }],
    });
  });

  it('lets allUsers invoke ingest only; the writer and curator only their one caller', () => {
    const invokers = created.filter((r) => r.type === 'gcp:cloudrunv2/serviceIamMember:ServiceIamMember').map((r) => [r.inputs.name, r.inputs.role, r.inputs.member].join(' '));
    expect(invokers.sort()).toEqual([
      'strata-curator roles/run.invoker serviceAccount:curator-caller@x',
      'strata-ingest roles/run.invoker allUsers',
      'strata-writer roles/run.invoker serviceAccount:writer-caller@x',
    ]);
  });
});
