import * as pulumi from '@pulumi/pulumi';
import { DEFAULT_EVENT_TIME_WINDOW, DEFAULT_PII_EXTRA_KEYS, PUSH_DELIVERY } from '@strata/schemas';

/**
 * The stack's whole configuration, read and validated once before any resource is declared. Every
 * `strata:*` key is declared in Pulumi.yaml with its type, description and default; `gcp:project`
 * is the provider's own key (set per stack, see Pulumi.dev.yaml.example).
 */
export interface StrataConfig {
  project: string;
  region: string;
  lakeBucketName: string;
  /** Where the function zips are uploaded; `<lakeBucketName>-functions` unless set. */
  sourceBucketName: string;
  logLevel: string;
  /** The ingest API key document (JSON, SHA-256 digests only), a stack secret. */
  ingestKeys: pulumi.Output<string>;
  eventMaxLateSeconds: number;
  eventMaxFutureSeconds: number;
  /** The writer's FLUSH_MAX_AGE_MS; the push subscription's ack deadline is derived from it. */
  flushMaxAgeMs: number;
  /** PII_EXTRA_KEYS of ingest and the writer: key name patterns marking PII in undeclared fields (empty: none). */
  piiExtraKeys: string[];
  /** PII_HASH_KEY_ID of ingest and the writer; undefined lets them derive it from the secret. */
  piiHashKeyId: string | undefined;
  scaling: Record<'ingest' | 'writer' | 'curator', { minInstances: number; maxInstances: number }>;
  curatorSchedule: string;
  /** Cron (UTC) of the curator's POST /replay of quarantine; undefined: no scheduled replay. */
  replaySchedule: string | undefined;
  curatorRunBudgetSeconds: number;
  databaseTier: string;
  databaseAvailabilityType: 'ZONAL' | 'REGIONAL';
  /** The /28 the Serverless VPC Access connector takes in the Strata VPC. */
  vpcConnectorCidr: string;
  /** IAM members who read the curated BigQuery dataset (`group:analysts@example.com`). */
  analysts: string[];
  /** Notification channel ids every alert goes to. */
  alertNotificationChannels: string[];
}

/** A config key failed validation; the message names it. */
export class StrataConfigError extends Error {
  override name = 'StrataConfigError';
}

const BUCKET = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const REGION = /^[a-z]+-[a-z]+[0-9]$/;
const CIDR_28 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/28$/;
const SHA256_HEX = /^[0-9a-fA-F]{64}$/;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
// What the services accept (schemas/src/pii-key.ts): a key id without ':', patterns of 2+ characters without ','.
const PII_KEY_ID = /^[A-Za-z0-9_-]{1,16}$/;
const PII_EXTRA_KEY = /^[^,\s][^,]*[^,\s]$/;

/** The config a stack reads; `pulumi.Config` in the program, a plain map in tests. */
export interface ConfigSource {
  get(key: string): string | undefined;
}

function fromPulumi(namespace: string): ConfigSource {
  const config = new pulumi.Config(namespace);
  return { get: (key) => config.get(key) };
}

/** Reads and validates the stack config (declared in Pulumi.yaml) before any resource exists. */
export function loadStrataConfig(strata: ConfigSource = fromPulumi('strata'), gcp: ConfigSource = fromPulumi('gcp')): StrataConfig {
  const str = (key: string, fallback?: string): string => {
    const value = strata.get(key) ?? fallback;
    if (value === undefined || value === '') throw new StrataConfigError(`strata:${key} is required (pulumi config set strata:${key} …)`);
    return value;
  };
  const int = (key: string, fallback: number, min: number, max: number): number => {
    const raw = strata.get(key);
    const value = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new StrataConfigError(`strata:${key} must be an integer from ${min} to ${max}, got "${raw}"`);
    }
    return value;
  };

  const project = gcp.get('project');
  if (!project || !PROJECT.test(project)) {
    throw new StrataConfigError(`gcp:project must be set to a GCP project id (pulumi config set gcp:project …), got "${project ?? ''}"`);
  }
  const region = str('region', 'europe-west1');
  if (!REGION.test(region)) throw new StrataConfigError(`strata:region "${region}" is not a GCP region such as europe-west1`);

  const lakeBucketName = str('lakeBucketName');
  if (!BUCKET.test(lakeBucketName)) throw new StrataConfigError(`strata:lakeBucketName "${lakeBucketName}" is not a valid GCS bucket name`);
  const sourceBucketName = strata.get('sourceBucketName') || `${lakeBucketName}-functions`;
  if (!BUCKET.test(sourceBucketName)) {
    throw new StrataConfigError(`strata:sourceBucketName "${sourceBucketName}" is not a valid GCS bucket name (set it when the lake's name is too long)`);
  }

  const logLevel = str('logLevel', 'info');
  if (!LOG_LEVELS.includes(logLevel)) throw new StrataConfigError(`strata:logLevel must be one of ${LOG_LEVELS.join(', ')}`);

  // A stack secret: read plainly so it can be checked now, and wrapped again as a secret.
  const ingestKeysText = str('ingestKeys');
  checkIngestKeys(ingestKeysText);

  const piiHashKeyId = strata.get('piiHashKeyId') || undefined;
  if (piiHashKeyId !== undefined && !PII_KEY_ID.test(piiHashKeyId)) {
    throw new StrataConfigError(`strata:piiHashKeyId must be 1 to 16 letters, digits, _ or -, got "${piiHashKeyId}"`);
  }

  // The writer's own bounds (1 ms – 60 s); any of them fits Pub/Sub's longest ack deadline with the upload.
  const flushMaxAgeMs = int('flushMaxAgeMs', PUSH_DELIVERY.flushMaxAgeMs, 1, 60_000);

  const scaling = (service: 'ingest' | 'writer' | 'curator', min: number, max: number) => {
    const minInstances = int(`${service}MinInstances`, min, 0, 100);
    const maxInstances = int(`${service}MaxInstances`, max, 1, 1000);
    if (minInstances > maxInstances) {
      throw new StrataConfigError(`strata:${service}MinInstances (${minInstances}) is above strata:${service}MaxInstances (${maxInstances})`);
    }
    return { minInstances, maxInstances };
  };

  const curatorSchedule = str('curatorSchedule', '*/5 * * * *');
  if (curatorSchedule.trim().split(/\s+/).length !== 5) {
    throw new StrataConfigError(`strata:curatorSchedule "${curatorSchedule}" is not a five-field cron expression`);
  }
  const replaySchedule = strata.get('replaySchedule')?.trim() || undefined;
  if (replaySchedule !== undefined && replaySchedule.split(/\s+/).length !== 5) {
    throw new StrataConfigError(`strata:replaySchedule "${replaySchedule}" is not a five-field cron expression (or empty for none)`);
  }

  const databaseAvailabilityType = str('databaseAvailabilityType', 'ZONAL');
  if (databaseAvailabilityType !== 'ZONAL' && databaseAvailabilityType !== 'REGIONAL') {
    throw new StrataConfigError(`strata:databaseAvailabilityType must be ZONAL or REGIONAL`);
  }
  const vpcConnectorCidr = str('vpcConnectorCidr', '10.8.0.0/28');
  const cidr = CIDR_28.exec(vpcConnectorCidr);
  if (!cidr || cidr.slice(1).some((octet) => Number(octet) > 255) || Number(cidr[4]) % 16 !== 0) {
    throw new StrataConfigError(`strata:vpcConnectorCidr "${vpcConnectorCidr}" must be an unused /28 such as 10.8.0.0/28`);
  }

  // Array keys arrive as JSON text (`pulumi config set --path 'strata:analysts[0]' …` writes it).
  const list = (key: string, pattern: RegExp, example: string): string[] => {
    const raw = strata.get(key);
    if (raw === undefined || raw === '') return [];
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new StrataConfigError(`strata:${key} must be a JSON array of strings such as ["${example}"], got ${raw}`);
    }
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && pattern.test(v))) {
      throw new StrataConfigError(`strata:${key} must be a JSON array of strings such as ["${example}"], got ${raw}`);
    }
    return value as string[];
  };

  return {
    project,
    region,
    lakeBucketName,
    sourceBucketName,
    logLevel,
    ingestKeys: pulumi.secret(ingestKeysText),
    eventMaxLateSeconds: int('eventMaxLateSeconds', DEFAULT_EVENT_TIME_WINDOW.maxLateMs / 1000, 0, 3650 * 86_400),
    eventMaxFutureSeconds: int('eventMaxFutureSeconds', DEFAULT_EVENT_TIME_WINDOW.maxFutureMs / 1000, 0, 365 * 86_400),
    flushMaxAgeMs,
    piiExtraKeys: strata.get('piiExtraKeys') === undefined ? [...DEFAULT_PII_EXTRA_KEYS] : list('piiExtraKeys', PII_EXTRA_KEY, 'email'),
    piiHashKeyId,
    scaling: { ingest: scaling('ingest', 0, 20), writer: scaling('writer', 0, 20), curator: scaling('curator', 0, 3) },
    curatorSchedule,
    replaySchedule,
    // Scheduler's attempt deadline is at most 30 min; the run budget must leave room under it.
    curatorRunBudgetSeconds: int('curatorRunBudgetSeconds', 150, 10, 1500),
    databaseTier: str('databaseTier', 'db-custom-1-3840'),
    databaseAvailabilityType,
    vpcConnectorCidr,
    analysts: list('analysts', /^(user|group|serviceAccount|domain):[^\s]+$/, 'group:analysts@example.com'),
    alertNotificationChannels: list('alertNotificationChannels', /^projects\/[^/]+\/notificationChannels\/[^/]+$/, 'projects/my-project/notificationChannels/123'),
  };
}

/**
 * The shape ingest's keys.ts requires, checked here so a bad document fails `pulumi up` before
 * anything is deployed rather than ingest's start-up. Ingest itself re-validates every field.
 */
export function checkIngestKeys(text: string): void {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new StrataConfigError(`strata:ingestKeys is not valid JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(doc) || doc.length === 0) throw new StrataConfigError('strata:ingestKeys must be a non-empty JSON array of keys ({ "name", "sha256", … })');
  doc.forEach((entry: unknown, index) => {
    const key = entry as { name?: unknown; sha256?: unknown } | null;
    if (typeof key !== 'object' || key === null || typeof key.name !== 'string' || typeof key.sha256 !== 'string' || !SHA256_HEX.test(key.sha256)) {
      throw new StrataConfigError(`strata:ingestKeys[${index}] needs a "name" and a "sha256" of 64 hex digits (npm run keys:create -w services/ingest)`);
    }
  });
}
