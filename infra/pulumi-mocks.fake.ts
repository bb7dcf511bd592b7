import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { REQUIRED_APIS } from './components/apis.js';
import type { ServiceBundle, ServiceName } from './components/services.js';

/**
 * Pulumi mocks that answer like GCP would for the outputs the program reads back (service account
 * emails, function URLs, secret versions, the database's private IP and CA), and record every
 * resource the program declares. Set before the program or a component is imported/constructed.
 */
export interface Recorded {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

export const PROJECT_NUMBER = '123456789012';
export const FAKE_CA = '-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----';

export function mockState(type: string, inputs: Record<string, unknown>): Record<string, unknown> {
  const project = (inputs.project as string | undefined) ?? 'strata-test';
  switch (type) {
    case 'gcp:serviceaccount/account:Account': {
      const email = `${String(inputs.accountId)}@${project}.iam.gserviceaccount.com`;
      return { email, name: `projects/${project}/serviceAccounts/${email}`, member: `serviceAccount:${email}` };
    }
    case 'gcp:cloudfunctionsv2/function:Function':
      return { url: `https://${String(inputs.location)}-${project}.cloudfunctions.net/${String(inputs.name)}` };
    case 'gcp:secretmanager/secretVersion:SecretVersion':
      return { version: '1' };
    case 'gcp:sql/databaseInstance:DatabaseInstance':
      return { privateIpAddress: '10.20.0.3', connectionName: `${project}:europe-west4:postgres`, name: 'postgres-instance', serverCaCerts: [{ cert: FAKE_CA }] };
    case 'random:index/randomPassword:RandomPassword':
      return { result: 'p'.repeat(Number(inputs.length ?? 16)) };
    case 'gcp:storage/bucket:Bucket':
      return { url: `gs://${String(inputs.name)}` };
    case 'gcp:bigquery/connection:Connection':
      return { cloudResource: { serviceAccountId: `bqcx-${PROJECT_NUMBER}-abcd@gcp-sa-bigquery-condel.iam.gserviceaccount.com` } };
    default:
      return {};
  }
}

export async function setRecordingMocks(config: Record<string, string> = {}): Promise<Recorded[]> {
  const created: Recorded[] = [];
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        created.push({ type: args.type, name: args.name, inputs: args.inputs });
        const id = args.inputs.name ?? `${args.name}-id`;
        return { id: typeof id === 'string' ? id : `${args.name}-id`, state: { ...args.inputs, ...mockState(args.type, args.inputs) } };
      },
      call: (args) => {
        if (args.token === 'gcp:organizations/getProject:getProject') return { number: PROJECT_NUMBER, projectId: args.inputs.projectId };
        return args.inputs;
      },
    },
    'strata',
    'test',
    false,
  );
  pulumi.runtime.setAllConfig({ 'gcp:project': 'strata-test', ...config });
  return created;
}

/** A resolved Output's value (mocks resolve everything). */
export function valueOf<T>(o: pulumi.Input<T>): Promise<T> {
  return new Promise((resolve) => pulumi.output(o).apply((v) => resolve(v as T)));
}

/** Three tiny real zips (an empty archive each), as bundleService would return them. */
export function fixtureBundles(): Record<ServiceName, ServiceBundle> {
  const dir = mkdtempSync(join(tmpdir(), 'strata-infra-'));
  const entries = (['ingest', 'writer', 'curator'] as const).map((service) => {
    // An empty archive: the end-of-central-directory record, its comment naming the service.
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(service.length, 20);
    const bytes = Buffer.concat([eocd, Buffer.from(service)]);
    const zipPath = join(dir, `${service}.zip`);
    writeFileSync(zipPath, bytes);
    return [service, { zipPath, sha256: createHash('sha256').update(bytes).digest('hex'), entryPoint: service }] as const;
  });
  return Object.fromEntries(entries) as Record<ServiceName, ServiceBundle>;
}

/** A key document as ingest accepts it. */
export const INGEST_KEYS = JSON.stringify([{ name: 'web-shop', sha256: 'a'.repeat(64), logTypes: ['user_action'] }]);

export const IAM_TYPE = /IAM(Member|Binding|Policy)$/i;

/** What the program declares, per type (components included), for the stack's default config. */
export const EXPECTED_RESOURCE_COUNTS: Record<string, number> = {
  'gcp:projects/service:Service': REQUIRED_APIS.length,
  'gcp:serviceaccount/account:Account': 6,
  'gcp:compute/network:Network': 1,
  'gcp:compute/globalAddress:GlobalAddress': 1,
  'gcp:servicenetworking/connection:Connection': 1,
  'gcp:vpcaccess/connector:Connector': 1,
  'gcp:sql/databaseInstance:DatabaseInstance': 1,
  'gcp:sql/database:Database': 1,
  'gcp:sql/user:User': 1,
  'random:index/randomPassword:RandomPassword': 2,
  'gcp:secretmanager/secret:Secret': 4,
  'gcp:secretmanager/secretVersion:SecretVersion': 4,
  'gcp:secretmanager/secretIamMember:SecretIamMember': 9,
  'gcp:storage/bucket:Bucket': 2,
  'gcp:storage/bucketIAMMember:BucketIAMMember': 4,
  'gcp:storage/bucketObject:BucketObject': 3,
  'gcp:artifactregistry/repository:Repository': 1,
  'gcp:artifactregistry/repositoryIamMember:RepositoryIamMember': 1,
  'gcp:projects/iAMMember:IAMMember': 1,
  'gcp:cloudfunctionsv2/function:Function': 3,
  'gcp:cloudrunv2/serviceIamMember:ServiceIamMember': 3,
  'gcp:pubsub/topic:Topic': 2,
  'gcp:pubsub/subscription:Subscription': 2,
  'gcp:pubsub/topicIAMMember:TopicIAMMember': 3,
  'gcp:pubsub/subscriptionIAMMember:SubscriptionIAMMember': 1,
  'gcp:serviceaccount/iAMMember:IAMMember': 1,
  'gcp:cloudscheduler/job:Job': 1,
  // BigQuery: raw and curated datasets, the BigLake connection, 7 event tables + 7 dedup views +
  // 7 curated tables + 7 live views, the live views authorized on the raw dataset.
  'gcp:bigquery/dataset:Dataset': 2,
  'gcp:bigquery/connection:Connection': 1,
  'gcp:bigquery/table:Table': 28,
  'gcp:bigquery/datasetAccess:DatasetAccess': 7,
  // Monitoring: log-based metrics, alert policies, one dashboard.
  'gcp:logging/metric:Metric': 12,
  'gcp:monitoring/alertPolicy:AlertPolicy': 8,
  'gcp:monitoring/dashboard:Dashboard': 1,
  ...Object.fromEntries(
    ['ProjectApis', 'Identities', 'Database', 'Secrets', 'Lake', 'Services', 'Bus', 'CuratorSchedule', 'Analytics', 'Monitoring'].map((c) => [`strata:index:${c}`, 1]),
  ),
};
