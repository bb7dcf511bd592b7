import { beforeAll, describe, expect, it, vi } from 'vitest';
import { EXPECTED_RESOURCE_COUNTS, fixtureBundles, IAM_TYPE, INGEST_KEYS, PROJECT_NUMBER, setRecordingMocks, valueOf, type Recorded } from './pulumi-mocks.fake.js';

// The program bundles the services first; unit tests take fixture zips instead.
vi.mock('./bundle/bundle-service.js', async () => {
  const { fixtureBundles: bundles } = await import('./pulumi-mocks.fake.js');
  const zips = bundles();
  return { DEFAULT_OUT_DIR: '/unused', bundleService: async (service: 'ingest' | 'writer' | 'curator') => zips[service] };
});

const PROJECT = 'strata-test';
const SA = (id: string) => `serviceAccount:strata-${id}@${PROJECT}.iam.gserviceaccount.com`;
const AGENT = `serviceAccount:service-${PROJECT_NUMBER}@gcp-sa-pubsub.iam.gserviceaccount.com`;

/** Every resource is declared once the outputs it waits on resolve: wait until nothing new comes. */
async function settled(created: Recorded[]): Promise<void> {
  let count = -1;
  while (count !== created.length) {
    count = created.length;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Mocks must be set before the program is imported, so it is imported dynamically.
describe('infra program (index.ts under mocks)', () => {
  let created: Recorded[];
  let program: typeof import('./index.js');
  const ofType = (t: string) => created.filter((r) => r.type === t);

  beforeAll(async () => {
    void fixtureBundles;
    created = await setRecordingMocks({
      'strata:lakeBucketName': 'strata-lake-test',
      'strata:region': 'europe-west4',
      'strata:ingestKeys': INGEST_KEYS,
    });
    program = await import('./index.js');
    await valueOf(program.curatorUrl);
    await settled(created);
  });

  it('declares this many resources of each type', () => {
    const counts: Record<string, number> = {};
    for (const r of created) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual(EXPECTED_RESOURCE_COUNTS);
  });

  it('exports the lake, the topic and the predicted function URLs', async () => {
    expect(await valueOf(program.lakeBucketName)).toBe('strata-lake-test');
    expect(await valueOf(program.topicName)).toBe('strata-events');
    expect(await valueOf(program.writerUrl)).toBe(`https://europe-west4-${PROJECT}.cloudfunctions.net/strata-writer`);
  });

  describe('least privilege', () => {
    const bindings = () =>
      created
        .filter((r) => IAM_TYPE.test(r.type))
        .map((r) => {
          const i = r.inputs;
          const target = i.bucket ?? i.topic ?? i.subscription ?? i.secretId ?? i.repository ?? i.serviceAccountId ?? (r.type.startsWith('gcp:cloudrunv2') ? i.name : undefined) ?? `project:${String(i.project)}`;
          return `${String(target)} | ${String(i.role)} | ${String(i.member)}`;
        })
        .sort();

    it('grants exactly these roles, each on one resource to one account', () => {
      expect(bindings()).toEqual(
        [
          `strata-lake-test | roles/storage.objectCreator | ${SA('writer')}`,
          `strata-lake-test | roles/storage.objectUser | ${SA('curator')}`,
          // The BigLake connection reads the lake for BigQuery: analysts never get bucket access.
          'strata-lake-test | roles/storage.objectViewer | serviceAccount:bqcx-123456789012-abcd@gcp-sa-bigquery-condel.iam.gserviceaccount.com',
          `strata-lake-test-functions | roles/storage.objectViewer | ${SA('builder')}`,
          `strata-functions | roles/artifactregistry.writer | ${SA('builder')}`,
          `project:${PROJECT} | roles/logging.logWriter | ${SA('builder')}`,
          `strata-events | roles/pubsub.publisher | ${SA('ingest')}`,
          // Replay republishes kept events as ingest would.
          `strata-events | roles/pubsub.publisher | ${SA('curator')}`,
          `strata-events-dead-letter | roles/pubsub.publisher | ${AGENT}`,
          `strata-events-writer-push | roles/pubsub.subscriber | ${AGENT}`,
          `projects/${PROJECT}/serviceAccounts/strata-push@${PROJECT}.iam.gserviceaccount.com | roles/iam.serviceAccountTokenCreator | ${AGENT}`,
          `strata-pii-hash-secret | roles/secretmanager.secretAccessor | ${SA('ingest')}`,
          `strata-pii-hash-secret | roles/secretmanager.secretAccessor | ${SA('writer')}`,
          `strata-ingest-keys | roles/secretmanager.secretAccessor | ${SA('ingest')}`,
          ...['ingest', 'writer', 'curator'].map((s) => `strata-database-url | roles/secretmanager.secretAccessor | ${SA(s)}`),
          ...['ingest', 'writer', 'curator'].map((s) => `strata-database-server-ca | roles/secretmanager.secretAccessor | ${SA(s)}`),
          `strata-ingest | roles/run.invoker | allUsers`,
          `strata-writer | roles/run.invoker | ${SA('push')}`,
          `strata-curator | roles/run.invoker | ${SA('scheduler')}`,
        ].sort(),
      );
    });

    it('never grants an admin, owner or editor role, nor actAs', () => {
      const forbidden = [
        'roles/owner',
        'roles/editor',
        'roles/viewer',
        'roles/storage.admin',
        'roles/storage.objectAdmin',
        'roles/pubsub.admin',
        'roles/pubsub.editor',
        'roles/cloudsql.admin',
        'roles/secretmanager.admin',
        'roles/iam.serviceAccountUser',
        'roles/iam.serviceAccountAdmin',
        'roles/run.admin',
        'roles/cloudfunctions.admin',
      ];
      const roles = created.filter((r) => IAM_TYPE.test(r.type)).map((r) => String(r.inputs.role));
      expect(roles.filter((role) => forbidden.includes(role) || role.endsWith('.admin'))).toEqual([]);
      // Bindings only, never a whole policy: an authoritative policy would wipe grants others made.
      expect(created.filter((r) => /IAM(Binding|Policy)$/i.test(r.type))).toEqual([]);
    });

    it('makes only one project-level grant: the builder writing its build logs', () => {
      expect(created.filter((r) => r.type === 'gcp:projects/iAMMember:IAMMember').map((r) => [r.inputs.role, r.inputs.member])).toEqual([
        ['roles/logging.logWriter', SA('builder')],
      ]);
    });

    it('gives each service its own service account', () => {
      const fns = ofType('gcp:cloudfunctionsv2/function:Function');
      const accounts = fns.map((f) => (f.inputs.serviceConfig as { serviceAccountEmail: string }).serviceAccountEmail);
      expect(accounts.sort()).toEqual(['curator', 'ingest', 'writer'].map((s) => `strata-${s}@${PROJECT}.iam.gserviceaccount.com`));
    });
  });

  it('wires the push audience and the scheduler audience to what the services verify', () => {
    const pushes = ofType('gcp:pubsub/subscription:Subscription').filter((s) => s.inputs.pushConfig);
    const writer = ofType('gcp:cloudfunctionsv2/function:Function').find((f) => f.inputs.name === 'strata-writer')!;
    const curator = ofType('gcp:cloudfunctionsv2/function:Function').find((f) => f.inputs.name === 'strata-curator')!;
    const env = (f: Recorded) => (f.inputs.serviceConfig as { environmentVariables: Record<string, string> }).environmentVariables;
    // The events and their dead letters: both to the writer, both with the token it verifies.
    const configs = pushes.map((p) => p.inputs.pushConfig as { pushEndpoint: string; oidcToken: { audience: string; serviceAccountEmail: string } });
    expect(configs.map((c) => c.pushEndpoint).sort()).toEqual(['dead-letter', 'push'].map((path) => `https://europe-west4-${PROJECT}.cloudfunctions.net/strata-writer/${path}`));
    for (const pushConfig of configs) {
      expect(pushConfig.oidcToken.audience).toBe(env(writer).PUSH_AUDIENCE);
      expect(pushConfig.oidcToken.serviceAccountEmail).toBe(env(writer).PUSH_SERVICE_ACCOUNT);
    }
    const [job] = ofType('gcp:cloudscheduler/job:Job');
    const target = job!.inputs.httpTarget as { uri: string; oidcToken: { audience: string; serviceAccountEmail: string } };
    expect(target.uri).toBe(`https://europe-west4-${PROJECT}.cloudfunctions.net/strata-curator/run`);
    expect(target.oidcToken.audience).toBe(env(curator).SCHEDULER_AUDIENCE);
    expect(target.oidcToken.serviceAccountEmail).toBe(env(curator).SCHEDULER_SERVICE_ACCOUNT);
  });

  it('keeps every secret out of plain environment variables', () => {
    for (const fn of ofType('gcp:cloudfunctionsv2/function:Function')) {
      const config = fn.inputs.serviceConfig as { environmentVariables: Record<string, string>; secretEnvironmentVariables: Array<{ key: string }> };
      const plain = Object.keys(config.environmentVariables);
      expect(plain.filter((k) => /SECRET|DATABASE_URL|INGEST_KEYS$/.test(k))).toEqual([]);
      expect(JSON.stringify(config.environmentVariables)).not.toContain('ppppp');
    }
  });
});
