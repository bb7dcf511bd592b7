import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@strata/runtime';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EVENT_TIME_WINDOW } from '@strata/schemas';
import { DEFAULT_COMPACTION_POLICY } from './compaction-policy.js';
import { loadConfig } from './config.js';

const required = {
  LAKE_BUCKET: 'strata-lake',
  DATABASE_URL: 'postgres://curator@10.0.0.3/strata',
  SCHEDULER_AUDIENCE: 'https://curator.example.run.app/run',
  SCHEDULER_SERVICE_ACCOUNT: 'scheduler@p.iam.gserviceaccount.com',
};

describe('loadConfig', () => {
  it('applies the defaults', () => {
    expect(loadConfig(required)).toEqual({
      port: 8083,
      projectId: undefined,
      lakeBucket: 'strata-lake',
      databaseUrl: required.DATABASE_URL,
      databasePoolMax: 5,
      schedulerAudience: required.SCHEDULER_AUDIENCE,
      schedulerServiceAccount: required.SCHEDULER_SERVICE_ACCOUNT,
      oidcCertsUrl: undefined,
      workDir: join(tmpdir(), 'strata-curator'),
      duckdbMemoryLimit: '1GiB',
      logLevel: 'info',
      topic: 'strata-events',
      schemaRegistryDatabaseUrl: undefined,
      schemaRegistryTtlMs: 30_000,
      curation: {
        eventWindow: DEFAULT_EVENT_TIME_WINDOW,
        marginDays: 2,
        runBudgetMs: 150_000,
        rollupRetentionDays: 0,
        compaction: DEFAULT_COMPACTION_POLICY,
        downloadConcurrency: 4,
      },
    });
  });

  it('reads the curation settings', () => {
    const config = loadConfig({ ...required, EVENT_MAX_LATE_SECONDS: '86400', CURATOR_RUN_BUDGET_SECONDS: '20', ROLLUP_RETENTION_DAYS: '400', COMPACTION_CLOSE_AFTER_SECONDS: '600', CURATOR_MARGIN_DAYS: '0' });
    expect(config.curation).toMatchObject({ eventWindow: { maxLateMs: 86_400_000 }, runBudgetMs: 20_000, rollupRetentionDays: 400, marginDays: 0, compaction: { closeAfterMs: 600_000 } });
  });

  it('reads the optional settings', () => {
    const config = loadConfig({ ...required, PORT: '9000', DATABASE_POOL_MAX: '1', OIDC_CERTS_URL: 'http://127.0.0.1:9999/oauth2/v1/certs', CURATOR_WORK_DIR: '/scratch' });
    expect(config).toMatchObject({ port: 9000, databasePoolMax: 1, oidcCertsUrl: 'http://127.0.0.1:9999/oauth2/v1/certs', workDir: '/scratch' });
  });

  it('reads DuckDB\'s memory limit, and refuses one without a unit', () => {
    expect(loadConfig({ ...required, CURATOR_DUCKDB_MEMORY_LIMIT: '512MiB' }).duckdbMemoryLimit).toBe('512MiB');
    expect(() => loadConfig({ ...required, CURATOR_DUCKDB_MEMORY_LIMIT: '512' })).toThrow('CURATOR_DUCKDB_MEMORY_LIMIT must be a size with a unit, like 512MiB or 2GB; got "512"');
  });

  it('reads what replay publishes to and validates with, as ingest reads it', () => {
    const config = loadConfig({ ...required, PUBSUB_TOPIC: 'events-b', SCHEMA_REGISTRY_DATABASE_URL: 'postgres://r@10.0.0.3/strata', SCHEMA_REGISTRY_TTL_MS: '500' });
    expect(config).toMatchObject({ topic: 'events-b', schemaRegistryDatabaseUrl: 'postgres://r@10.0.0.3/strata', schemaRegistryTtlMs: 500 });
  });

  it.each(Object.keys(required))('fails naming %s when it is missing', (name) => {
    expect(() => loadConfig({ ...required, [name]: undefined })).toThrow(new ConfigError(`${name} is required but not set`));
  });

  it('refuses a pool of zero connections', () => {
    expect(() => loadConfig({ ...required, DATABASE_POOL_MAX: '0' })).toThrow(/DATABASE_POOL_MAX must be between 1/);
  });
});
