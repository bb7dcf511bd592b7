import { describe, expect, it } from 'vitest';
import { BqUsageError, bqSettingsFromEnv, buildQueryRequest, cell, parseBqArgs, qualifyCuratedNames, runBq, type BqClient } from './bq.js';

function fakeClient(rows: Array<Record<string, unknown>> = [], fields?: string[]) {
  const requests: unknown[] = [];
  const results: unknown[] = [];
  const client: BqClient = {
    getProjectId: async () => 'adc-project',
    createQueryJob: async (request) => {
      requests.push(request);
      return [{
        metadata: { statistics: { totalBytesProcessed: '1073741824' } },
        getQueryResults: async (options) => {
          results.push(options);
          return [rows, undefined, fields ? { schema: { fields: fields.map((name) => ({ name })) } } : {}];
        },
      }];
    },
  };
  return { client, requests, results };
}

describe('npm run bq', () => {
  const settings = bqSettingsFromEnv({});

  it('defaults to the datasets infra creates, and to the ADC project', () => {
    expect(settings).toEqual({ rawDataset: 'strata_raw', curatedDataset: 'strata_curated', maxRows: 1000 });
    expect(bqSettingsFromEnv({ GOOGLE_CLOUD_PROJECT: 'p-1', STRATA_BQ_RAW_DATASET: 'raw', STRATA_BQ_CURATED_DATASET: 'cur', STRATA_BQ_LOCATION: 'EU', STRATA_BQ_MAX_ROWS: '5' })).toEqual({
      project: 'p-1', rawDataset: 'raw', curatedDataset: 'cur', location: 'EU', maxRows: 5,
    });
  });

  it('names the variable that is wrong', () => {
    expect(() => bqSettingsFromEnv({ STRATA_BQ_RAW_DATASET: 'my-raw' })).toThrow(/STRATA_BQ_RAW_DATASET="my-raw" is not a BigQuery dataset id/);
    expect(() => bqSettingsFromEnv({ STRATA_BQ_CURATED_DATASET: 'a.b' })).toThrow(BqUsageError);
    expect(() => bqSettingsFromEnv({ STRATA_BQ_MAX_ROWS: '0' })).toThrow(/STRATA_BQ_MAX_ROWS="0" must be a positive integer/);
  });

  it('refuses a missing query and unknown options with the usage', () => {
    expect(() => parseBqArgs([])).toThrow(/^usage: npm run bq --/);
    expect(() => parseBqArgs(['  '])).toThrow(BqUsageError);
    expect(() => parseBqArgs(['--dryrun', 'select 1'])).toThrow(/unknown option --dryrun\nusage/);
    expect(parseBqArgs(['select', '1'])).toEqual({ sql: 'select 1', dryRun: false });
    expect(parseBqArgs(['--dry-run', 'select 1'])).toEqual({ sql: 'select 1', dryRun: true });
  });

  it('maps curated_<rollup> to the curated dataset, and leaves strings, comments and qualified names alone', () => {
    const { sql, rewrites } = qualifyCuratedNames(
      "select * from curated_daily_event_counts c join CURATED_daily_active_users_live u using (dt) -- curated_daily_event_counts\n" +
        "where c.event != 'curated_daily_event_counts' and dt in (select dt from `x.curated_daily_event_counts`) and s.curated_daily_event_counts is null and curated_nope = 1",
      'my-project', 'strata_curated',
    );
    expect(sql).toBe(
      'select * from `my-project.strata_curated.daily_event_counts` c join `my-project.strata_curated.daily_active_users_live` u using (dt) -- curated_daily_event_counts\n' +
        "where c.event != 'curated_daily_event_counts' and dt in (select dt from `x.curated_daily_event_counts`) and s.curated_daily_event_counts is null and curated_nope = 1",
    );
    expect(rewrites).toEqual([
      'curated_daily_event_counts → `my-project.strata_curated.daily_event_counts`',
      'CURATED_daily_active_users_live → `my-project.strata_curated.daily_active_users_live`',
    ]);
  });

  it('builds a standard-SQL request with the raw dataset as default, so user_action_deduped resolves', () => {
    expect(buildQueryRequest('select 1 from user_action_deduped', 'my-project', { ...settings, location: 'europe-west4' })).toEqual({
      query: 'select 1 from user_action_deduped',
      useLegacySql: false,
      defaultDataset: { projectId: 'my-project', datasetId: 'strata_raw' },
      location: 'europe-west4',
      labels: { tool: 'strata-bq' },
    });
  });

  it('sends the rewritten query to createQueryJob and returns the rows in schema order', async () => {
    const { client, requests, results } = fakeClient([{ users: 3, dt: { value: '2026-11-21' } }], ['dt', 'users']);
    const result = await runBq(client, { sql: "select dt, users from curated_daily_active_users where log_type = 'user_action'", dryRun: false }, { ...settings, maxRows: 10 });
    expect(requests).toEqual([{
      query: "select dt, users from `adc-project.strata_curated.daily_active_users` where log_type = 'user_action'",
      useLegacySql: false,
      defaultDataset: { projectId: 'adc-project', datasetId: 'strata_raw' },
      labels: { tool: 'strata-bq' },
    }]);
    expect(results).toEqual([{ maxResults: 10 }]);
    expect(result).toEqual({ kind: 'rows', columns: ['dt', 'users'], rows: [[{ value: '2026-11-21' }, 3]], rewrites: ['curated_daily_active_users → `adc-project.strata_curated.daily_active_users`'] });
  });

  it('uses GOOGLE_CLOUD_PROJECT over ADC and only asks for a dry run when told', async () => {
    const { client, requests, results } = fakeClient();
    const result = await runBq(client, { sql: 'select * from user_action where dt = current_date()', dryRun: true }, { ...settings, project: 'env-project' });
    expect(requests).toEqual([expect.objectContaining({ dryRun: true, defaultDataset: { projectId: 'env-project', datasetId: 'strata_raw' } })]);
    expect(results).toEqual([]);
    expect(result).toEqual({ kind: 'dry-run', totalBytesProcessed: 1073741824, rewrites: [] });
  });

  it('prints cells as npm run query does', () => {
    expect([null, undefined, 3, 'a', { value: '2026-11-21T10:00:00.000Z' }, ['x', 'y'], { a: { value: '2026-01-01' } }].map(cell)).toEqual([
      'NULL', 'NULL', '3', 'a', '2026-11-21T10:00:00.000Z', '["x","y"]', '{"a":"2026-01-01"}',
    ]);
  });
});
