import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { optionalString, readInt, requireString, type Env } from '@strata/runtime';
import { readEventTimeWindow } from '@strata/schemas';
import { DEFAULT_COMPACTION_POLICY } from './compaction-policy.js';
import type { CurationSettings } from './curate.js';

/** The curator's whole configuration, parsed once at start-up; a bad value fails fast naming its variable. */
export interface CuratorConfig {
  port: number;
  /** Only used to tie log lines to Cloud Trace; the Google clients find the project themselves. */
  projectId: string | undefined;
  lakeBucket: string;
  /** Any PostgreSQL: Cloud SQL in the cloud, PGlite behind its socket server in the local stack. */
  databaseUrl: string;
  /** Connections per instance. Each run holds one for its whole pass (the advisory lock lives on it). */
  databasePoolMax: number;
  /** The audience configured on the Cloud Scheduler job's OIDC token (usually the curator's URL). */
  schedulerAudience: string;
  /** The service account the scheduler job signs its OIDC tokens as. */
  schedulerServiceAccount: string;
  /** PEM certs keyed by kid; Google's when unset, the local OIDC emulator's in the local stack. */
  oidcCertsUrl: string | undefined;
  /** Where Parquet files are downloaded for DuckDB; on Cloud Run this is in-memory disk. */
  workDir: string;
  /**
   * DuckDB's memory_limit for a run (CURATOR_DUCKDB_MEMORY_LIMIT, e.g. "1GiB"): past it DuckDB
   * spills to the run's folder instead of growing the process. The current day grows all day, and
   * without a limit DuckDB would take up to 80 % of the machine's memory for it.
   */
  duckdbMemoryLimit: string;
  logLevel: string;
  /** The events topic replay publishes to (PUBSUB_TOPIC, as ingest's). */
  topic: string;
  /** PostgreSQL holding published schema versions, as ingest and the writer read it; bundled schemas only when unset. */
  schemaRegistryDatabaseUrl: string | undefined;
  /** How long the service serves a loaded registry before reading the table again. */
  schemaRegistryTtlMs: number;
  /** What a run looks at and how far it goes: see CurationSettings. */
  curation: CurationSettings;
}

/**
 * Cloud Scheduler's HTTP jobs give an attempt 3 minutes by default: a run starts no new day after
 * 150 s, so it answers in time and the next run continues.
 */
const DEFAULT_RUN_BUDGET_SECONDS = 150;

/**
 * What the curator's jobs (runs, erasures, replays) need, without its HTTP side: `npm run erase`
 * and `npm run replay` read only this, from the same variables.
 */
export type CuratorJobConfig = Pick<
  CuratorConfig,
  'projectId' | 'lakeBucket' | 'databaseUrl' | 'databasePoolMax' | 'workDir' | 'duckdbMemoryLimit' | 'logLevel' | 'topic' | 'schemaRegistryDatabaseUrl' | 'schemaRegistryTtlMs' | 'curation'
>;

/** A quarter of the cloud curator's 4 GiB: Node, the downloads (in-memory disk there) and DuckDB's own overhead share the rest. */
export const DEFAULT_DUCKDB_MEMORY_LIMIT = '1GiB';

/** A size DuckDB reads as a memory_limit: a number and a unit, checked here so a typo fails at start-up, not mid-run. */
function readMemoryLimit(env: Env, name: string, fallback: string): string {
  const value = requireString(env, name, fallback).trim();
  if (!/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i.test(value)) {
    throw new Error(`${name} must be a size with a unit, like 512MiB or 2GB; got "${value}"`);
  }
  return value;
}

export function loadConfig(env: Env = process.env): CuratorConfig {
  return {
    ...loadJobConfig(env),
    port: readInt(env, 'PORT', 8083, { min: 0, max: 65535 }),
    schedulerAudience: requireString(env, 'SCHEDULER_AUDIENCE'),
    schedulerServiceAccount: requireString(env, 'SCHEDULER_SERVICE_ACCOUNT'),
    oidcCertsUrl: optionalString(env, 'OIDC_CERTS_URL'),
  };
}

export function loadJobConfig(env: Env = process.env): CuratorJobConfig {
  return {
    projectId: optionalString(env, 'GOOGLE_CLOUD_PROJECT'),
    lakeBucket: requireString(env, 'LAKE_BUCKET'),
    databaseUrl: requireString(env, 'DATABASE_URL'),
    databasePoolMax: readInt(env, 'DATABASE_POOL_MAX', 5, { min: 1, max: 100 }),
    workDir: requireString(env, 'CURATOR_WORK_DIR', join(tmpdir(), 'strata-curator')),
    duckdbMemoryLimit: readMemoryLimit(env, 'CURATOR_DUCKDB_MEMORY_LIMIT', DEFAULT_DUCKDB_MEMORY_LIMIT),
    logLevel: requireString(env, 'LOG_LEVEL', 'info'),
    // The same variables, and defaults, as ingest's: replay publishes and validates as ingest does.
    topic: requireString(env, 'PUBSUB_TOPIC', 'strata-events'),
    schemaRegistryDatabaseUrl: optionalString(env, 'SCHEMA_REGISTRY_DATABASE_URL'),
    schemaRegistryTtlMs: readInt(env, 'SCHEMA_REGISTRY_TTL_MS', 30_000, { min: 100, max: 3_600_000 }),
    curation: {
      // The same variables ingest and the writer read: the window they enforce bounds what can change.
      eventWindow: readEventTimeWindow(env),
      marginDays: readInt(env, 'CURATOR_MARGIN_DAYS', 2, { min: 0, max: 366 }),
      runBudgetMs: readInt(env, 'CURATOR_RUN_BUDGET_SECONDS', DEFAULT_RUN_BUDGET_SECONDS, { min: 1, max: 3600 }) * 1000,
      rollupRetentionDays: readInt(env, 'ROLLUP_RETENTION_DAYS', 0, { min: 0, max: 36_500 }),
      compaction: {
        ...DEFAULT_COMPACTION_POLICY,
        closeAfterMs: readInt(env, 'COMPACTION_CLOSE_AFTER_SECONDS', DEFAULT_COMPACTION_POLICY.closeAfterMs / 1000, { min: 0, max: 30 * 86_400 }) * 1000,
      },
      downloadConcurrency: readInt(env, 'CURATOR_DOWNLOAD_CONCURRENCY', 4, { min: 1, max: 64 }),
    },
  };
}
