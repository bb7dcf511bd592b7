import * as pulumi from '@pulumi/pulumi';
import { SIGNALS, type SignalDeclaration, type SignalName } from '@strata/runtime/signals';
import { beforeAll, describe, expect, it, vi } from 'vitest';

interface Created { type: string; name: string; inputs: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any

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
      deadLetterSubscription: 'strata-events-dead-letter-replay',
      services: { ingest: 'strata-ingest', writer: 'strata-writer', curator: 'strata-curator' },
    });
    await output(monitoring.dashboardId);
    await vi.waitFor(() => expect(of('gcp:monitoring/alertPolicy:AlertPolicy').length).toBe(8));
  });

  it('creates 12 log-based metrics, 8 alert policies and one dashboard', () => {
    const counts: Record<string, number> = {};
    for (const r of created) counts[r.type] = (counts[r.type] ?? 0) + 1;
    expect(counts).toEqual({
      'strata:index:Monitoring': 1,
      'gcp:logging/metric:Metric': 12,
      'gcp:monitoring/alertPolicy:AlertPolicy': 8,
      'gcp:monitoring/dashboard:Dashboard': 1,
    });
  });

  // The services' signals tests assert that each declared signal is emitted with its fields; this
  // asserts that every metric counts one of them, on the service that emits it.
  it('filters each metric on a declared signal of its own service, and extracts only declared numeric fields', () => {
    const services: Record<string, string> = { ingest: 'strata-ingest', writer: 'strata-writer', curator: 'strata-curator' };
    expect(of('gcp:logging/metric:Metric').map((r) => r.inputs.name).sort()).toEqual(Object.values(mod.LOG_METRICS).map((m) => m.name).sort());
    for (const declared of Object.values(mod.LOG_METRICS) as Array<{ name: string; signal: SignalName; field?: string }>) {
      const signal: SignalDeclaration = SIGNALS[declared.signal];
      const inputs = metric(declared.name);
      expect(inputs.filter, declared.name).toBe(`resource.type="cloud_run_revision" AND resource.labels.service_name="${services[signal.service]}" AND jsonPayload.signal="${declared.signal}"`);
      const field = declared.field === undefined ? undefined : signal.fields[declared.field];
      if (field) {
        expect(field.type).toMatch(/^(integer|number)$/);
        expect(inputs, declared.name).toMatchObject({ valueExtractor: `EXTRACT(jsonPayload.${declared.field})`, metricDescriptor: { metricKind: 'DELTA', valueType: 'DISTRIBUTION', unit: field.unit } });
        expect(inputs.bucketOptions.exponentialBuckets).toBeDefined();
      } else {
        expect(inputs, declared.name).toMatchObject({ metricDescriptor: { metricKind: 'DELTA', valueType: 'INT64', unit: '1' } });
        expect(inputs.valueExtractor).toBeUndefined();
      }
      const labels = Object.entries(signal.fields).filter(([, f]) => f.label).map(([name]) => name);
      expect(Object.keys(inputs.labelExtractors ?? {}), declared.name).toEqual(labels);
      for (const label of labels) expect(inputs.labelExtractors[label]).toBe(`EXTRACT(jsonPayload.${label})`);
    }
  });

  it('counts what the issue named: events, rows, bytes, files, flush latency, quarantine, curator runs, failures and lag', () => {
    const run = (service: string, signal: string) => `resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND jsonPayload.signal="${signal}"`;
    expect(metric('strata_ingest_events_accepted')).toMatchObject({ filter: run('strata-ingest', 'ingest.events_accepted'), valueExtractor: 'EXTRACT(jsonPayload.accepted)' });
    expect(metric('strata_ingest_events_rejected')).toMatchObject({ filter: run('strata-ingest', 'ingest.events_rejected'), valueExtractor: 'EXTRACT(jsonPayload.rejected)' });
    expect(metric('strata_writer_rows')).toMatchObject({
      filter: run('strata-writer', 'writer.partition_flushed'),
      valueExtractor: 'EXTRACT(jsonPayload.rows)',
      labelExtractors: { log_type: 'EXTRACT(jsonPayload.log_type)' },
      metricDescriptor: { labels: [{ key: 'log_type', valueType: 'STRING' }] },
    });
    expect(metric('strata_writer_bytes')).toMatchObject({ valueExtractor: 'EXTRACT(jsonPayload.bytes)', metricDescriptor: { unit: 'By' } });
    expect(metric('strata_writer_files')).toMatchObject({ filter: run('strata-writer', 'writer.partition_flushed'), metricDescriptor: { valueType: 'INT64' } });
    expect(metric('strata_writer_flush_latency')).toMatchObject({ valueExtractor: 'EXTRACT(jsonPayload.flushLatencyMs)', metricDescriptor: { unit: 'ms' } });
    expect(metric('strata_writer_quarantined')).toMatchObject({ filter: run('strata-writer', 'writer.quarantined'), valueExtractor: 'EXTRACT(jsonPayload.count)' });
    expect(metric('strata_curator_days_failed')).toMatchObject({ filter: run('strata-curator', 'curator.day_failed'), metricDescriptor: { valueType: 'INT64' } });
    expect(metric('strata_curator_run_duration')).toMatchObject({ filter: run('strata-curator', 'curator.run_finished'), valueExtractor: 'EXTRACT(jsonPayload.durationMs)', metricDescriptor: { unit: 'ms' } });
    expect(metric('strata_curator_days_left')).toMatchObject({ valueExtractor: 'EXTRACT(jsonPayload.daysLeft)' });
    expect(metric('strata_curator_lag')).toMatchObject({ filter: run('strata-curator', 'curator.run_finished'), valueExtractor: 'EXTRACT(jsonPayload.lagSeconds)', metricDescriptor: { unit: 's' } });
    expect(metric('strata_curator_runs')).toMatchObject({ filter: run('strata-curator', 'curator.run_finished'), metricDescriptor: { valueType: 'INT64' } });
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

  it('alerts on any dead letter, counted as it leaves the push subscription (the writer files it at once)', () => {
    expect(policy('Strata: messages dead-lettered').conditions[0].conditionThreshold).toMatchObject({
      filter: 'resource.type="pubsub_subscription" AND resource.labels.subscription_id="strata-events-push" AND metric.type="pubsub.googleapis.com/subscription/dead_letter_message_count"',
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

  it('alerts when a curation run leaves a change uncurated for longer than the lag threshold', () => {
    expect(policy('Strata: curator falling behind').conditions[0].conditionThreshold).toMatchObject({
      filter: 'resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/strata_curator_lag"',
      comparison: 'COMPARISON_GT',
      thresholdValue: 1800,
      aggregations: [{ perSeriesAligner: 'ALIGN_PERCENTILE_99', crossSeriesReducer: 'REDUCE_MAX' }],
    });
  });

  it('builds a dashboard whose JSON parses and holds every widget', () => {
    const [board] = of('gcp:monitoring/dashboard:Dashboard');
    const json = JSON.parse(board!.inputs.dashboardJson) as { displayName: string; mosaicLayout: { tiles: Array<{ widget: { title: string; xyChart: { dataSets: Array<{ timeSeriesQuery: Record<string, any> }> } } }> } }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const widgets = new Map(json.mosaicLayout.tiles.map((t) => [t.widget.title, JSON.stringify(t.widget.xyChart.dataSets.map((d) => d.timeSeriesQuery))]));
    expect([...widgets.keys()]).toEqual([
      'Ingest: events accepted /s',
      'Writer: rows and files written /s',
      'Writer: flush latency (first row to durable file)',
      'Backlog: undelivered messages',
      'Curator: run time',
      'Curator: lag (oldest change left uncurated)',
      'Curator: days left at budget, days failed, runs',
      '5xx share per service',
    ]);
    expect(widgets.get('Ingest: events accepted /s')).toContain('logging_googleapis_com:user_strata_ingest_events_accepted_sum');
    expect(widgets.get('Ingest: events accepted /s')).toContain('logging_googleapis_com:user_strata_ingest_events_rejected_sum');
    expect(widgets.get('Writer: rows and files written /s')).toContain('logging_googleapis_com:user_strata_writer_rows_sum');
    expect(widgets.get('Writer: rows and files written /s')).toContain('logging.googleapis.com/user/strata_writer_files');
    expect(widgets.get('Writer: flush latency (first row to durable file)')).toMatch(/logging.googleapis.com\/user\/strata_writer_flush_latency.*REDUCE_PERCENTILE_99/);
    expect(widgets.get('Backlog: undelivered messages')).toMatch(/num_undelivered_messages.*strata-events-push.*num_undelivered_messages.*strata-events-dead-letter-replay/);
    expect(widgets.get('Curator: run time')).toContain('logging.googleapis.com/user/strata_curator_run_duration');
    expect(widgets.get('Curator: lag (oldest change left uncurated)')).toContain('logging.googleapis.com/user/strata_curator_lag');
    expect(widgets.get('Curator: days left at budget, days failed, runs')).toContain('strata_curator_days_left');
    for (const tile of json.mosaicLayout.tiles) expect(tile.widget.xyChart.dataSets.length).toBeGreaterThan(0);
  });

  it('exports the metric and policy names', async () => {
    expect(await output(monitoring.metrics.writerRows)).toBe('strata_writer_rows');
    expect(Object.keys(monitoring.alertPolicies).sort()).toEqual(['backlog', 'curatorFailures', 'curatorLag', 'curatorServerErrors', 'curatorSilent', 'deadLetters', 'ingestServerErrors', 'writerServerErrors']);
  });
});
