import { readFileSync } from 'node:fs';
import * as pulumi from '@pulumi/pulumi';
import { beforeAll, describe, expect, it, vi } from 'vitest';

interface Created { type: string; name: string; inputs: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any

const source = (path: string) => readFileSync(new URL(`../../services/${path}`, import.meta.url), 'utf8');

// Mocks must be set before the component is imported, so it is imported dynamically.
describe('Monitoring', () => {
  const created: Created[] = [];
  let mod: typeof import('./monitoring.js');
  let monitoring: InstanceType<typeof import('./monitoring.js').Monitoring>;
  const of = (type: string) => created.filter((r) => r.type === type);
  const output = <T>(o: pulumi.Output<T>) => new Promise<T>((resolve) => o.apply(resolve));
  const metric = (name: string) => of('gcp:logging/metric:Metric').find((m) => m.inputs.name === name)!.inputs;
  const policy = (displayName: string) => of('gcp:monitoring/alertPolicy:AlertPolicy').find((p) => p.inputs.displayName === displayName)!.inputs;

  beforeAll(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          created.push({ type: args.type, name: args.name, inputs: args.inputs });
          return { id: `${args.name}-id`, state: { ...args.inputs } };
        },
        call: (args) => args.inputs,
      },
      'strata',
      'test',
      false,
    );
    mod = await import('./monitoring.js');
    monitoring = new mod.Monitoring('monitoring', {
      project: 'my-project',
      notificationChannels: ['projects/my-project/notificationChannels/42'],
      subscription: 'projects/my-project/subscriptions/strata-events-push',
      deadLetterSubscription: 'strata-events-dead-letter-pull',
      services: { ingest: 'strata-ingest', writer: 'strata-writer', curator: 'strata-curator' },
    });
    await output(monitoring.dashboardId);
    await vi.waitFor(() => expect(of('gcp:monitoring/alertPolicy:AlertPolicy').length).toBe(7));
  });

  it('creates 7 log-based metrics, 7 alert policies and one dashboard', () => {
    const counts: Record<string, number> = {};
    for (const r of created) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      'strata:index:Monitoring': 1,
      'gcp:logging/metric:Metric': 7,
      'gcp:monitoring/alertPolicy:AlertPolicy': 7,
      'gcp:monitoring/dashboard:Dashboard': 1,
    });
  });

  it('counts the log lines the services really write', () => {
    expect(source('ingest/src/app.ts')).toContain(`'${mod.LOG_LINES.ingestAccepted}'`);
    expect(source('ingest/src/app.ts')).toMatch(/accepted: events\.length.*'events accepted'/);
    expect(source('writer/src/lake-writer.ts')).toMatch(/rows: rows\.length[\s\S]*'partition flushed'/);
    expect(source('curator/src/curate.ts')).toContain(`'${mod.LOG_LINES.curatorDayFailed}'`);
    expect(source('curator/src/curate.ts')).toContain(`'${mod.LOG_LINES.curatorRunFinished}'`);
    expect(source('curator/src/curate.ts')).toMatch(/durationMs: 0/);
  });

  it('filters each metric on its service and log line', () => {
    const run = (service: string, message: string) => `resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND jsonPayload.message="${message}"`;
    expect(metric('strata_ingest_events_accepted')).toMatchObject({
      filter: run('strata-ingest', 'events accepted'),
      metricDescriptor: { metricKind: 'DELTA', valueType: 'DISTRIBUTION' },
      valueExtractor: 'EXTRACT(jsonPayload.accepted)',
    });
    expect(metric('strata_writer_rows')).toMatchObject({ filter: run('strata-writer', 'partition flushed'), valueExtractor: 'EXTRACT(jsonPayload.rows)', metricDescriptor: { valueType: 'DISTRIBUTION' } });
    expect(metric('strata_writer_files')).toMatchObject({ filter: run('strata-writer', 'partition flushed'), metricDescriptor: { metricKind: 'DELTA', valueType: 'INT64' } });
    expect(metric('strata_writer_files').valueExtractor).toBeUndefined();
    expect(metric('strata_curator_days_failed')).toMatchObject({ filter: run('strata-curator', 'day not curated; retried next run'), metricDescriptor: { valueType: 'INT64' } });
    expect(metric('strata_curator_run_duration')).toMatchObject({
      filter: run('strata-curator', 'curation run finished'),
      valueExtractor: 'EXTRACT(jsonPayload.durationMs)',
      metricDescriptor: { valueType: 'DISTRIBUTION', unit: 'ms' },
    });
    expect(metric('strata_curator_days_left')).toMatchObject({ filter: run('strata-curator', 'curation run finished'), valueExtractor: 'EXTRACT(jsonPayload.daysLeft)' });
    expect(metric('strata_curator_runs')).toMatchObject({ filter: run('strata-curator', 'curation run finished'), metricDescriptor: { valueType: 'INT64' } });
    for (const m of of('gcp:logging/metric:Metric')) if (m.inputs.metricDescriptor.valueType === 'DISTRIBUTION') expect(m.inputs.bucketOptions.exponentialBuckets).toBeDefined();
  });

  it('alerts on an old push backlog', () => {
    expect(policy('Strata: push backlog is old')).toMatchObject({
      combiner: 'OR',
      notificationChannels: ['projects/my-project/notificationChannels/42'],
      conditions: [{
        conditionThreshold: {
          filter: 'resource.type="pubsub_subscription" AND resource.labels.subscription_id="strata-events-push" AND metric.type="pubsub.googleapis.com/subscription/oldest_unacked_message_age"',
          comparison: 'COMPARISON_GT',
          thresholdValue: 600,
          duration: '300s',
        },
      }],
    });
  });

  it('alerts on any dead letter', () => {
    expect(policy('Strata: messages dead-lettered').conditions[0].conditionThreshold).toMatchObject({
      filter: 'resource.type="pubsub_subscription" AND resource.labels.subscription_id="strata-events-dead-letter-pull" AND metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages"',
      comparison: 'COMPARISON_GT',
      thresholdValue: 0,
    });
  });

  it("alerts on each service's share of 5xx", () => {
    for (const service of ['ingest', 'writer', 'curator']) {
      const condition = policy(`Strata: ${service} answers 5xx`).conditions[0].conditionThreshold;
      const requests = `resource.type="cloud_run_revision" AND resource.labels.service_name="strata-${service}" AND metric.type="run.googleapis.com/request_count"`;
      expect(condition).toMatchObject({
        filter: `${requests} AND metric.labels.response_code_class="5xx"`,
        denominatorFilter: requests,
        comparison: 'COMPARISON_GT',
        thresholdValue: 0.05,
        aggregations: [{ perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }],
        denominatorAggregations: [{ perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }],
      });
    }
  });

  it('alerts on curator failures and on a curator that stopped running', () => {
    expect(policy('Strata: curator failed days').conditions[0].conditionThreshold).toMatchObject({
      filter: 'resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/strata_curator_days_failed"',
      comparison: 'COMPARISON_GT',
      thresholdValue: 0,
    });
    expect(policy('Strata: curator not running').conditions[0].conditionAbsent).toMatchObject({
      filter: 'resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/strata_curator_runs"',
      duration: '3600s',
    });
  });

  it('builds a dashboard whose JSON parses and holds every widget', () => {
    const [board] = of('gcp:monitoring/dashboard:Dashboard');
    const json = JSON.parse(board!.inputs.dashboardJson) as { displayName: string; mosaicLayout: { tiles: Array<{ widget: { title: string; xyChart: { dataSets: Array<{ timeSeriesQuery: Record<string, any> }> } } }> } }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const widgets = new Map(json.mosaicLayout.tiles.map((t) => [t.widget.title, JSON.stringify(t.widget.xyChart.dataSets.map((d) => d.timeSeriesQuery))]));
    expect([...widgets.keys()]).toEqual([
      'Ingest: events accepted /s',
      'Writer: rows and files written /s',
      'Writer: flush latency (push request latency)',
      'Backlog: undelivered messages',
      'Curator: run time',
      'Curator: lag (days left at budget, days failed, runs)',
      '5xx share per service',
    ]);
    expect(widgets.get('Ingest: events accepted /s')).toContain('logging_googleapis_com:user_strata_ingest_events_accepted_sum');
    expect(widgets.get('Writer: rows and files written /s')).toContain('logging_googleapis_com:user_strata_writer_rows_sum');
    expect(widgets.get('Writer: rows and files written /s')).toContain('logging.googleapis.com/user/strata_writer_files');
    expect(widgets.get('Writer: flush latency (push request latency)')).toMatch(/run.googleapis.com\/request_latencies.*strata-writer.*REDUCE_PERCENTILE_99/);
    expect(widgets.get('Backlog: undelivered messages')).toMatch(/num_undelivered_messages.*strata-events-push.*num_undelivered_messages.*strata-events-dead-letter-pull/);
    expect(widgets.get('Curator: run time')).toContain('logging.googleapis.com/user/strata_curator_run_duration');
    expect(widgets.get('Curator: lag (days left at budget, days failed, runs)')).toContain('strata_curator_days_left');
    for (const tile of json.mosaicLayout.tiles) expect(tile.widget.xyChart.dataSets.length).toBeGreaterThan(0);
  });

  it('exports the metric and policy names', async () => {
    expect(await output(monitoring.metrics.writerRows)).toBe('strata_writer_rows');
    expect(Object.keys(monitoring.alertPolicies).sort()).toEqual(['backlog', 'curatorFailures', 'curatorServerErrors', 'curatorSilent', 'deadLetters', 'ingestServerErrors', 'writerServerErrors']);
  });
});
