import * as pulumi from '@pulumi/pulumi';
import NodeSqlParser from 'node-sql-parser';
import { ROLLUPS } from '@strata/schemas';
import { beforeAll, describe, expect, it, vi } from 'vitest';

interface Created { type: string; name: string; inputs: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any

const SERVICE_ACCOUNT = 'bqcx-123-abcd@gcp-sa-bigquery-condel.iam.gserviceaccount.com';
const LOG_TYPES = ['impression', 'order_event', 'segment_identify', 'segment_page', 'segment_track', 'seller_action', 'user_action'];
const parser = new NodeSqlParser.Parser();
const parse = (sql: string) => parser.astify(sql, { database: 'BigQuery' });

// Mocks must be set before the component is imported, so it is imported dynamically.
describe('Analytics', () => {
  const created: Created[] = [];
  let analytics: InstanceType<typeof import('./bigquery.js').Analytics>;
  let Analytics: typeof import('./bigquery.js').Analytics;
  const of = (type: string) => created.filter((r) => r.type === type);
  const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          created.push({ type: args.type, name: args.name, inputs: args.inputs });
          const state: Record<string, unknown> = { ...args.inputs };
          if (args.type === 'gcp:bigquery/connection:Connection') {
            state.name = `projects/${args.inputs.project}/locations/${args.inputs.location}/connections/${args.inputs.connectionId}`;
            state.cloudResource = { serviceAccountId: SERVICE_ACCOUNT };
          }
          return { id: `${args.name}-id`, state };
        },
        call: (args) => args.inputs,
      },
      'strata',
      'test',
      false,
    );
    ({ Analytics } = await import('./bigquery.js'));
    analytics = new Analytics('analytics', {
      project: 'my-project',
      location: 'EUROPE-WEST4',
      lakeBucket: 'strata-lake-test',
      logTypes: LOG_TYPES,
      analysts: ['group:analysts@example.com'],
    });
    await output(analytics.connectionServiceAccount);
    await Promise.all(Object.values(analytics.liveViews).map(output));
    // The authorizations are registered once the live views' ids resolve.
    await vi.waitFor(() => expect(of('gcp:bigquery/datasetAccess:DatasetAccess').length).toBeGreaterThanOrEqual(ROLLUPS.length));
  });

  const tables = () => of('gcp:bigquery/table:Table');
  const externals = () => tables().filter((t) => t.inputs.externalDataConfiguration);
  const views = () => tables().filter((t) => t.inputs.view);

  it('creates the resources it should, and no more', () => {
    const counts: Record<string, number> = {};
    for (const r of created) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      'strata:index:Analytics': 1,
      'gcp:bigquery/dataset:Dataset': 2,
      'gcp:bigquery/connection:Connection': 1,
      'gcp:storage/bucketIAMMember:BucketIAMMember': 1,
      // 7 event tables + 7 curated tables, 7 dedup views + 7 live views
      'gcp:bigquery/table:Table': 28,
      'gcp:bigquery/datasetAccess:DatasetAccess': 7,
      'gcp:bigquery/datasetIamMember:DatasetIamMember': 1,
      'gcp:projects/iAMMember:IAMMember': 1,
    });
  });

  it('co-locates both datasets with the bucket', async () => {
    const datasets = of('gcp:bigquery/dataset:Dataset');
    expect(datasets.map((d) => [d.inputs.datasetId, d.inputs.location])).toEqual([
      ['strata_raw', 'europe-west4'],
      ['strata_curated', 'europe-west4'],
    ]);
    expect(await output(analytics.rawDatasetId)).toBe('strata_raw');
    expect(await output(analytics.curatedDatasetId)).toBe('strata_curated');
  });

  it("lets the BigLake connection's service account, and it alone, read the bucket", () => {
    const [connection] = of('gcp:bigquery/connection:Connection');
    expect(connection!.inputs).toMatchObject({ location: 'europe-west4', cloudResource: {} });
    expect(of('gcp:storage/bucketIAMMember:BucketIAMMember').map((m) => m.inputs)).toEqual([
      expect.objectContaining({ bucket: 'strata-lake-test', role: 'roles/storage.objectViewer', member: `serviceAccount:${SERVICE_ACCOUNT}` }),
    ]);
  });

  it('puts a hive-partitioned BigLake table over each log type, schema at the top level, nothing REQUIRED', () => {
    const events = externals().filter((t) => LOG_TYPES.includes(t.inputs.tableId));
    expect(events.map((t) => t.inputs.tableId)).toEqual(LOG_TYPES);
    for (const t of events) {
      const logType = t.inputs.tableId as string;
      expect(t.inputs.externalDataConfiguration).toEqual({
        sourceFormat: 'PARQUET',
        sourceUris: [`gs://strata-lake-test/events/log_type=${logType}/*`],
        autodetect: false,
        connectionId: 'projects/my-project/locations/europe-west4/connections/strata-lake',
        parquetOptions: { enableListInference: true },
        hivePartitioningOptions: {
          mode: 'CUSTOM',
          sourceUriPrefix: `gs://strata-lake-test/events/log_type=${logType}/{dt:DATE}/{hr:INTEGER}`,
          requirePartitionFilter: true,
        },
      });
      const schema = JSON.parse(t.inputs.schema) as Array<{ name: string; mode: string; fields?: unknown[] }>;
      expect(JSON.stringify(schema)).not.toContain('"REQUIRED"');
      expect(schema.find((f) => f.name === 'event_id')?.mode).toBe('NULLABLE');
      expect(t.inputs.datasetId).toBe('strata_raw');
    }
    const seller = JSON.parse(events.find((t) => t.inputs.tableId === 'seller_action')!.inputs.schema) as Array<{ name: string; mode: string }>;
    expect(seller.find((f) => f.name === 'changed_fields')?.mode).toBe('REPEATED');
  });

  it('gives each log type a standard-SQL dedup view that keeps the partition keys in its window', () => {
    const dedup = views().filter((v) => v.inputs.datasetId === 'strata_raw');
    expect(dedup.map((v) => v.inputs.tableId)).toEqual(LOG_TYPES.map((t) => `${t}_deduped`));
    for (const v of dedup) {
      const logType = (v.inputs.tableId as string).replace(/_deduped$/, '');
      expect(v.inputs.view.useLegacySql).toBe(false);
      expect(() => parse(v.inputs.view.query)).not.toThrow();
      expect(v.inputs.view.query).toContain(`FROM \`my-project.strata_raw.${logType}\``);
      expect(v.inputs.view.query).toContain('PARTITION BY dt, hr, event_id ORDER BY received_at');
    }
  });

  it("puts a BigLake table over each rollup's curated files", () => {
    const curated = externals().filter((t) => t.inputs.datasetId === 'strata_curated');
    expect(curated.map((t) => t.inputs.tableId)).toEqual(ROLLUPS.map((r) => r.name));
    for (const t of curated) {
      expect(t.inputs.externalDataConfiguration).toMatchObject({
        sourceFormat: 'PARQUET',
        sourceUris: [`gs://strata-lake-test/curated/${t.inputs.tableId}/*`],
        connectionId: 'projects/my-project/locations/europe-west4/connections/strata-lake',
        autodetect: false,
      });
      expect(t.inputs.externalDataConfiguration.hivePartitioningOptions).toBeUndefined();
      const schema = JSON.parse(t.inputs.schema) as Array<{ name: string; type: string; mode: string }>;
      expect(schema).toContainEqual(expect.objectContaining({ name: 'dt', type: 'DATE', mode: 'NULLABLE' }));
      expect(JSON.stringify(schema)).not.toContain('"REQUIRED"');
    }
  });

  it('computes each rollup live from the dedup views, one UNION ALL branch per log type', () => {
    const live = views().filter((v) => v.inputs.datasetId === 'strata_curated');
    expect(live.map((v) => v.inputs.tableId)).toEqual(ROLLUPS.map((r) => `${r.name}_live`));
    for (const v of live) {
      const rollup = ROLLUPS.find((r) => `${r.name}_live` === v.inputs.tableId)!;
      const query = v.inputs.view.query as string;
      expect(v.inputs.view.useLegacySql).toBe(false);
      expect(() => parse(query), rollup.name).not.toThrow();
      const read = rollup.logTypes === '*' ? LOG_TYPES : rollup.logTypes;
      for (const t of read) expect(query).toContain(`FROM \`my-project.strata_raw.${t}_deduped\``);
      expect(query.split('UNION ALL')).toHaveLength(read.length);
    }
  });

  it('authorizes every live view on the raw dataset, and gives analysts the curated dataset only', () => {
    expect(of('gcp:bigquery/datasetAccess:DatasetAccess').map((a) => a.inputs)).toEqual(
      ROLLUPS.map((r) => ({ project: 'my-project', datasetId: 'strata_raw', view: { projectId: 'my-project', datasetId: 'strata_curated', tableId: `${r.name}_live` } })),
    );
    expect(of('gcp:bigquery/datasetIamMember:DatasetIamMember').map((m) => m.inputs)).toEqual([
      { project: 'my-project', datasetId: 'strata_curated', role: 'roles/bigquery.dataViewer', member: 'group:analysts@example.com' },
    ]);
    expect(of('gcp:projects/iAMMember:IAMMember').map((m) => m.inputs)).toEqual([
      { project: 'my-project', role: 'roles/bigquery.jobUser', member: 'group:analysts@example.com' },
    ]);
  });

  it('exports the table and view ids index.ts needs', async () => {
    expect(await output(pulumi.all(analytics.eventTables))).toEqual(Object.fromEntries(LOG_TYPES.map((t) => [t, t])));
    expect(await output(pulumi.all(analytics.dedupViews))).toEqual(Object.fromEntries(LOG_TYPES.map((t) => [t, `${t}_deduped`])));
    expect(Object.keys(analytics.curatedTables)).toEqual(ROLLUPS.map((r) => r.name));
    expect(await output(analytics.connectionName)).toBe('projects/my-project/locations/europe-west4/connections/strata-lake');
  });

  it('skips live views of rollups none of its log types feed, and refuses an unknown log type', async () => {
    const before = created.length;
    const small = new Analytics('small', { project: 'p-1234', location: 'EU', lakeBucket: 'b', logTypes: ['user_action'], analysts: [], rawDatasetId: 'r', curatedDatasetId: 'c' });
    await Promise.all(Object.values(small.liveViews).map(output));
    expect(Object.keys(small.liveViews)).toEqual(['hourly_event_counts', 'daily_event_counts', 'daily_active_users']);
    expect(created.slice(before).filter((r) => r.type === 'gcp:bigquery/dataset:Dataset').map((d) => d.inputs.location)).toEqual(['EU', 'EU']);
    expect(() => new Analytics('bad', { project: 'p', location: 'EU', lakeBucket: 'b', logTypes: ['nope'], analysts: [] })).toThrow(/unknown log type nope/);
  });
});
