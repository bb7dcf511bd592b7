import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { PUSH_DELIVERY } from '@strata/schemas';
import { defaultWorkerThreads, INGEST_NODE_OPTIONS } from '@strata/ingest/node-options';
import { WRITER_NODE_OPTIONS } from '@strata/writer/node-options';
import type { SecretRef } from './secrets.js';

export const SERVICE_NAMES = ['ingest', 'writer', 'curator'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** A service's deployable zip (infra/bundle/bundle-service.ts makes it). */
export interface ServiceBundle {
  zipPath: string;
  /** Hex SHA-256 of the zip: the source object is named by it, so a new zip is a new build. */
  sha256: string;
  /** The Functions Framework target; the service name (src/function.ts registers it) unless given. */
  entryPoint?: string;
}

/** The function's name in the project: also its Cloud Run service's name. */
export function functionName(service: ServiceName): string {
  return `strata-${service}`;
}

/**
 * A gen2 function's `cloudfunctions.net` URL, known before the function exists: the writer and
 * the curator need their own URL as the audience they verify, and the run.app URI
 * (`serviceConfig.uri`) is only known once the service is created. The same URL is the push and
 * scheduler endpoint, and `Services` checks it against the function's reported `url`.
 * https://cloud.google.com/functions/docs/calling/http#url
 */
export function functionUrl(project: string, region: string, service: ServiceName): string {
  return `https://${region}-${project}.cloudfunctions.net/${functionName(service)}`;
}

/** What each service is given to run on. Concurrency above 1 needs at least one whole vCPU. */
export const SERVICE_SIZING: Record<ServiceName, { cpu: string; memory: string; concurrency: number; ingress: 'ALLOW_ALL' | 'ALLOW_INTERNAL_ONLY' }> = {
  // Public: producers on the internet call it; its API keys are its authentication.
  ingest: { cpu: '1', memory: '512Mi', concurrency: 80, ingress: 'ALLOW_ALL' },
  // Pub/Sub push only (internal ingress admits Pub/Sub and Scheduler of the same project).
  // 1 GiB: peak RSS ≈ 540 MB under the pipeline bench (services/writer/src/config.ts).
  writer: { cpu: '1', memory: '1Gi', concurrency: PUSH_DELIVERY.writerConcurrency, ingress: 'ALLOW_INTERNAL_ONLY' },
  // One run per instance; DuckDB and a day's downloads (Cloud Run's disk is memory) need room.
  curator: { cpu: '2', memory: '4Gi', concurrency: 1, ingress: 'ALLOW_INTERNAL_ONLY' },
};

/** Whole vCPUs in a Cloud Run CPU value ("1", "2", "2000m"); a fraction of one counts as 1. */
export function wholeCpus(cpu: string): number {
  const count = cpu.endsWith('m') ? Number(cpu.slice(0, -1)) / 1000 : Number(cpu);
  if (!Number.isFinite(count) || count <= 0) throw new Error(`not a Cloud Run CPU value: "${cpu}"`);
  return Math.max(1, Math.floor(count));
}

/** Where the functions find their secret files (one folder per secret: Cloud Run mounts each alone). */
export const SECRET_FILES = {
  ingestKeys: { mountPath: '/strata/secrets/ingest-keys', fileName: 'keys.json' },
  databaseCa: { mountPath: '/strata/secrets/db-ca', fileName: 'server-ca.pem' },
} as const;

export function secretFilePath(file: keyof typeof SECRET_FILES): string {
  return `${SECRET_FILES[file].mountPath}/${SECRET_FILES[file].fileName}`;
}

export interface EnvironmentSettings {
  project: string;
  region: string;
  logLevel: string;
  topicName: string;
  lakeBucketName: string;
  eventMaxLateSeconds: number;
  eventMaxFutureSeconds: number;
  flushMaxAgeMs: number;
  pushAckDeadlineSeconds: number;
  /** Ingest and the writer must agree on these: the writer protects what ingest did not (README, PII). */
  piiExtraKeys: readonly string[];
  piiHashKeyId: string | undefined;
  pushServiceAccountEmail: string;
  schedulerServiceAccountEmail: string;
  curatorRunBudgetSeconds: number;
}

/**
 * Each service's plain (non-secret) environment, every variable its src/config.ts reads that the
 * cloud needs set (README, Configuration). The secrets (PII_HASH_SECRET, DATABASE_URL,
 * SCHEMA_REGISTRY_DATABASE_URL) and the key file come from Secret Manager, see index.ts.
 */
export function serviceEnvironments(s: EnvironmentSettings): Record<ServiceName, Record<string, string>> {
  const common = {
    GOOGLE_CLOUD_PROJECT: s.project,
    LOG_LEVEL: s.logLevel,
    // The event-time window: the same for all three, or the curator would miss days the others accept.
    EVENT_MAX_LATE_SECONDS: String(s.eventMaxLateSeconds),
    EVENT_MAX_FUTURE_SECONDS: String(s.eventMaxFutureSeconds),
  };
  const pii = {
    PII_EXTRA_KEYS: s.piiExtraKeys.length === 0 ? 'none' : s.piiExtraKeys.join(','),
    ...(s.piiHashKeyId === undefined ? {} : { PII_HASH_KEY_ID: s.piiHashKeyId }),
  };
  return {
    ingest: {
      ...common,
      ...pii,
      PUBSUB_TOPIC: s.topicName,
      INGEST_KEYS_FILE: secretFilePath('ingestKeys'),
      NODE_OPTIONS: INGEST_NODE_OPTIONS,
      // From the vCPUs the function is given, not from what the instance reports: Cloud Run may show
      // more CPUs than its quota. One vCPU takes no workers (per CPU, inline is the more efficient).
      INGEST_WORKER_THREADS: String(defaultWorkerThreads(wholeCpus(SERVICE_SIZING.ingest.cpu))),
    },
    writer: {
      ...common,
      ...pii,
      LAKE_BUCKET: s.lakeBucketName,
      PUSH_AUDIENCE: `${functionUrl(s.project, s.region, 'writer')}/push`,
      PUSH_SERVICE_ACCOUNT: s.pushServiceAccountEmail,
      FLUSH_MAX_AGE_MS: String(s.flushMaxAgeMs),
      PUSH_ACK_DEADLINE_SECONDS: String(s.pushAckDeadlineSeconds),
      // Its Cloud Run concurrency: with that many pushes held, nothing more can arrive, so it flushes.
      PUSH_CONCURRENCY: String(SERVICE_SIZING.writer.concurrency),
      NODE_OPTIONS: WRITER_NODE_OPTIONS,
    },
    curator: {
      ...common,
      LAKE_BUCKET: s.lakeBucketName,
      SCHEDULER_AUDIENCE: `${functionUrl(s.project, s.region, 'curator')}/run`,
      SCHEDULER_SERVICE_ACCOUNT: s.schedulerServiceAccountEmail,
      CURATOR_RUN_BUDGET_SECONDS: String(s.curatorRunBudgetSeconds),
      // Replay republishes kept events to the events topic, as ingest publishes them.
      PUBSUB_TOPIC: s.topicName,
      // One run per instance, holding one connection for its lock; room for a migration alongside.
      DATABASE_POOL_MAX: '5',
    },
  };
}

/** One function's deployment: plain env, secrets as env vars or files, and who may invoke it. */
export interface ServiceSpec {
  serviceAccountEmail: pulumi.Input<string>;
  env: Record<string, pulumi.Input<string>>;
  secretEnv: Record<string, SecretRef>;
  secretFiles: Array<{ mountPath: string; fileName: string; ref: SecretRef }>;
  /** `allUsers` for a public endpoint, else the one account that calls it. */
  invokers: pulumi.Input<string>[];
  minInstances: number;
  maxInstances: number;
  timeoutSeconds: number;
  /** Routes private ranges through the VPC connector (the database's private IP). */
  vpcConnector?: pulumi.Input<string>;
}

export interface ServicesArgs {
  project: string;
  region: string;
  sourceBucketName: string;
  bundles: Record<ServiceName, ServiceBundle>;
  specs: Record<ServiceName, ServiceSpec>;
  /** The account Cloud Build builds the functions as. */
  builder: { id: pulumi.Input<string>; member: pulumi.Input<string> };
  dependsOn: pulumi.Resource[];
}

/**
 * ingest, writer and curator as Cloud Run functions (gen2, nodejs20), built by Cloud Build from
 * zips in a private source bucket, images kept in Strata's own Artifact Registry repository.
 */
export class Services extends pulumi.ComponentResource {
  readonly sourceBucket: gcp.storage.Bucket;
  readonly functions: Record<ServiceName, gcp.cloudfunctionsv2.Function>;
  /** The functions' URLs, each checked against the predicted one (functionUrl). */
  readonly urls: Record<ServiceName, pulumi.Output<string>>;

  constructor(name: string, args: ServicesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Services', name, {}, opts);
    const child = { parent: this, dependsOn: args.dependsOn };

    this.sourceBucket = new gcp.storage.Bucket(
      'function-sources',
      {
        project: args.project,
        name: args.sourceBucketName,
        location: args.region,
        uniformBucketLevelAccess: true,
        publicAccessPrevention: 'enforced',
      },
      child,
    );
    const repository = new gcp.artifactregistry.Repository(
      'function-images',
      {
        project: args.project,
        location: args.region,
        repositoryId: 'strata-functions',
        format: 'DOCKER',
        description: 'Images Cloud Build makes of the Strata functions',
        cleanupPolicies: [{ id: 'keep-recent', action: 'KEEP', mostRecentVersions: { keepCount: 10 } }],
      },
      child,
    );
    // The builder's three grants are the documented minimum for a custom build account: read the
    // zip, push the image, write the build log (the log bucket is project-level, so is this role).
    // https://cloud.google.com/functions/docs/securing/build-custom-sa
    new gcp.storage.BucketIAMMember('sources-builder-viewer', { bucket: this.sourceBucket.name, role: 'roles/storage.objectViewer', member: args.builder.member }, child);
    new gcp.artifactregistry.RepositoryIamMember(
      'images-builder-writer',
      { project: args.project, location: args.region, repository: repository.repositoryId, role: 'roles/artifactregistry.writer', member: args.builder.member },
      child,
    );
    const builderLogs = new gcp.projects.IAMMember('builder-log-writer', { project: args.project, role: 'roles/logging.logWriter', member: args.builder.member }, child);

    const functions = {} as Record<ServiceName, gcp.cloudfunctionsv2.Function>;
    const urls = {} as Record<ServiceName, pulumi.Output<string>>;
    for (const service of SERVICE_NAMES) {
      const bundle = args.bundles[service];
      const spec = args.specs[service];
      const sizing = SERVICE_SIZING[service];
      const source = new gcp.storage.BucketObject(
        `${service}-source`,
        { bucket: this.sourceBucket.name, name: `${service}/${bundle.sha256}.zip`, source: new pulumi.asset.FileAsset(bundle.zipPath), contentType: 'application/zip' },
        child,
      );
      const fn = new gcp.cloudfunctionsv2.Function(
        service,
        {
          project: args.project,
          location: args.region,
          name: functionName(service),
          description: `Strata ${service}`,
          buildConfig: {
            runtime: 'nodejs20',
            entryPoint: bundle.entryPoint ?? service,
            source: { storageSource: { bucket: this.sourceBucket.name, object: source.name } },
            serviceAccount: args.builder.id,
            dockerRepository: repository.id,
          },
          serviceConfig: {
            serviceAccountEmail: spec.serviceAccountEmail,
            availableCpu: sizing.cpu,
            availableMemory: sizing.memory,
            maxInstanceRequestConcurrency: sizing.concurrency,
            minInstanceCount: spec.minInstances,
            maxInstanceCount: spec.maxInstances,
            timeoutSeconds: spec.timeoutSeconds,
            ingressSettings: sizing.ingress,
            allTrafficOnLatestRevision: true,
            environmentVariables: spec.env,
            secretEnvironmentVariables: Object.entries(spec.secretEnv).map(([key, ref]) => ({
              key,
              projectId: args.project,
              secret: ref.secretId,
              version: ref.version,
            })),
            secretVolumes: spec.secretFiles.map((file) => ({
              mountPath: file.mountPath,
              projectId: args.project,
              secret: file.ref.secretId,
              versions: [{ path: file.fileName, version: file.ref.version }],
            })),
            ...(spec.vpcConnector ? { vpcConnector: spec.vpcConnector, vpcConnectorEgressSettings: 'PRIVATE_RANGES_ONLY' } : {}),
          },
        },
        { ...child, dependsOn: [...args.dependsOn, builderLogs] },
      );
      functions[service] = fn;
      const predicted = functionUrl(args.project, args.region, service);
      urls[service] = fn.url.apply((url) => {
        // The audiences were set from the prediction before the function existed: fail loudly if
        // Google ever reports another URL, rather than deploy a writer that refuses every push.
        if (url && url !== predicted) throw new Error(`${functionName(service)} is at ${url}, not the predicted ${predicted}: PUSH_AUDIENCE/SCHEDULER_AUDIENCE would not match`);
        return predicted;
      });
      // Gen2 functions are invoked through their Cloud Run service: roles/run.invoker on it alone.
      spec.invokers.forEach((member, i) => {
        new gcp.cloudrunv2.ServiceIamMember(
          `${service}-invoker-${i}`,
          { project: args.project, location: args.region, name: fn.name, role: 'roles/run.invoker', member },
          child,
        );
      });
    }
    this.functions = functions;
    this.urls = urls;
    this.registerOutputs({ urls });
  }
}
