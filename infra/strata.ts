import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import type { StrataConfig } from './config.js';
import { ProjectApis } from './components/apis.js';
import { Bus } from './components/bus.js';
import { Database } from './components/database.js';
import { Identities } from './components/identities.js';
import { Lake } from './components/lake.js';
import { CuratorSchedule, curatorTimings } from './components/scheduler.js';
import { Secrets } from './components/secrets.js';
import { SECRET_FILES, secretFilePath, serviceEnvironments, Services, type ServiceBundle, type ServiceName } from './components/services.js';
import { ackDeadlineSecondsFor, createRegistry, loadBundledSchemas } from '@strata/schemas';
import { Analytics } from './components/bigquery.js';
import { Monitoring } from './components/monitoring.js';

export const TOPIC_NAME = 'strata-events';

/**
 * The whole stack from validated config and the three service zips. index.ts calls it after
 * bundling; tests call it with fixture zips, so no bundling happens in unit tests.
 */
export function createStrata(config: StrataConfig, bundles: Record<ServiceName, ServiceBundle>) {
  const { project, region } = config;
  const apis = new ProjectApis('apis', { project });
  const after = apis.services;
  const ids = new Identities('identities', { project, dependsOn: after });
  const projectNumber = gcp.organizations.getProjectOutput({ projectId: project }, { dependsOn: after }).number;

  const database = new Database('database', {
    project,
    region,
    tier: config.databaseTier,
    availabilityType: config.databaseAvailabilityType,
    connectorCidr: config.vpcConnectorCidr,
    databaseName: 'strata',
    userName: 'strata',
    sslRootCertPath: secretFilePath('databaseCa'),
    dependsOn: after,
  });

  // Who reads what: ingest and the writer read the schema registry, the curator owns the rollups.
  const secrets = new Secrets('secrets', {
    project,
    region,
    dependsOn: after,
    secrets: {
      piiHashSecret: { secretId: 'strata-pii-hash-secret', source: { randomLength: 48 }, accessors: [ids.members.ingest, ids.members.writer] },
      ingestKeys: { secretId: 'strata-ingest-keys', source: { value: config.ingestKeys }, accessors: [ids.members.ingest] },
      databaseUrl: {
        secretId: 'strata-database-url',
        source: { value: database.connectionString },
        accessors: [ids.members.ingest, ids.members.writer, ids.members.curator],
      },
      databaseCa: {
        secretId: 'strata-database-server-ca',
        source: { value: database.serverCaPem },
        accessors: [ids.members.ingest, ids.members.writer, ids.members.curator],
      },
    },
  });

  const lake = new Lake('lake', {
    project,
    name: config.lakeBucketName,
    location: region,
    objectCreators: [ids.members.writer],
    objectUsers: [ids.members.curator],
    dependsOn: after,
  });

  const timings = curatorTimings(config.curatorRunBudgetSeconds);
  const ackDeadlineSeconds = ackDeadlineSecondsFor(config.flushMaxAgeMs);
  const env = serviceEnvironments({
    project,
    region,
    logLevel: config.logLevel,
    topicName: TOPIC_NAME,
    lakeBucketName: config.lakeBucketName,
    eventMaxLateSeconds: config.eventMaxLateSeconds,
    eventMaxFutureSeconds: config.eventMaxFutureSeconds,
    flushMaxAgeMs: config.flushMaxAgeMs,
    pushAckDeadlineSeconds: ackDeadlineSeconds,
    piiExtraKeys: config.piiExtraKeys,
    piiHashKeyId: config.piiHashKeyId,
    pushServiceAccountEmail: ids.emails.push,
    schedulerServiceAccountEmail: ids.emails.scheduler,
    curatorRunBudgetSeconds: timings.runBudgetSeconds,
  });
  const dbCaFile = { ...SECRET_FILES.databaseCa, ref: secrets.refs.databaseCa };
  const services = new Services('services', {
    project,
    region,
    sourceBucketName: config.sourceBucketName,
    bundles,
    builder: { id: ids.accounts.builder.id, member: ids.members.builder },
    dependsOn: after,
    specs: {
      ingest: {
        serviceAccountEmail: ids.accounts.ingest.email,
        env: env.ingest,
        secretEnv: { PII_HASH_SECRET: secrets.refs.piiHashSecret, SCHEMA_REGISTRY_DATABASE_URL: secrets.refs.databaseUrl },
        secretFiles: [{ ...SECRET_FILES.ingestKeys, ref: secrets.refs.ingestKeys }, dbCaFile],
        // Public: producers authenticate with API keys, checked by ingest itself.
        invokers: ['allUsers'],
        ...config.scaling.ingest,
        timeoutSeconds: 60,
        vpcConnector: database.connector.id,
      },
      writer: {
        serviceAccountEmail: ids.accounts.writer.email,
        env: env.writer,
        secretEnv: { PII_HASH_SECRET: secrets.refs.piiHashSecret, SCHEMA_REGISTRY_DATABASE_URL: secrets.refs.databaseUrl },
        secretFiles: [dbCaFile],
        invokers: [ids.members.push],
        ...config.scaling.writer,
        // A push is answered within the ack deadline; beyond it Pub/Sub has already redelivered.
        timeoutSeconds: ackDeadlineSeconds + 30,
        vpcConnector: database.connector.id,
      },
      curator: {
        serviceAccountEmail: ids.accounts.curator.email,
        env: env.curator,
        // The registry is the same database: replay validates against what ingest and the writer serve.
        secretEnv: { DATABASE_URL: secrets.refs.databaseUrl, SCHEMA_REGISTRY_DATABASE_URL: secrets.refs.databaseUrl },
        secretFiles: [dbCaFile],
        invokers: [ids.members.scheduler],
        ...config.scaling.curator,
        timeoutSeconds: timings.functionTimeoutSeconds,
        vpcConnector: database.connector.id,
      },
    },
  });

  const bus = new Bus('bus', {
    project,
    projectNumber,
    topicName: TOPIC_NAME,
    pushEndpoint: pulumi.interpolate`${services.urls.writer}/push`,
    deadLetterEndpoint: pulumi.interpolate`${services.urls.writer}/dead-letter`,
    pushAudience: env.writer.PUSH_AUDIENCE!,
    pushServiceAccount: { email: ids.accounts.push.email, name: ids.accounts.push.name },
    flushMaxAgeMs: config.flushMaxAgeMs,
    // Ingest, and the curator's replay: both publish PII-protected events marked pii_protected (README, PII).
    publishers: [ids.members.ingest, ids.members.curator],
    dependsOn: after,
  });

  const schedule = new CuratorSchedule('curator-schedule', {
    project,
    region,
    schedule: config.curatorSchedule,
    runUrl: pulumi.interpolate`${services.urls.curator}/run`,
    audience: env.curator.SCHEDULER_AUDIENCE!,
    serviceAccountEmail: ids.accounts.scheduler.email,
    attemptDeadlineSeconds: timings.attemptDeadlineSeconds,
    ...(config.replaySchedule === undefined ? {} : { replay: { schedule: config.replaySchedule, url: pulumi.interpolate`${services.urls.curator}/replay` } }),
    dependsOn: after,
  });

  // BigQuery over the lake, co-located with the bucket (which lives in the region).
  const analytics = new Analytics(
    'analytics',
    { project, location: region, lakeBucket: lake.bucketName, logTypes: createRegistry(loadBundledSchemas()).logTypes(), analysts: config.analysts },
    { dependsOn: after },
  );

  const monitoring = new Monitoring(
    'monitoring',
    {
      project,
      notificationChannels: config.alertNotificationChannels,
      subscription: bus.pushSubscription.name,
      deadLetterSubscription: bus.deadLetterSubscription.name,
      // A gen2 function runs as the Cloud Run service of the same name.
      services: { ingest: services.functions.ingest.name, writer: services.functions.writer.name, curator: services.functions.curator.name },
    },
    { dependsOn: after },
  );

  return { apis, ids, database, secrets, lake, services, bus, schedule, analytics, monitoring };
}
