import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { SIGNALS, type NumericSignalField, type SignalDeclaration, type SignalField, type SignalName } from '@strata/runtime/signals';

export interface MonitoringThresholds {
  /** Oldest unacked message on the push subscription: the writer is down or refusing pushes. */
  oldestUnackedSeconds: number;
  /** Share of a service's requests answered 5xx, over 5 minutes. */
  serverErrorRatio: number;
  /** No curation run finished for this long: Scheduler or the curator is stuck (above Scheduler's interval). */
  curatorSilenceSeconds: number;
  /** A run left a change uncurated that had waited this long (its lagSeconds): the curator falls behind, or a day keeps failing. */
  curatorLagSeconds: number;
}

export const DEFAULT_THRESHOLDS: MonitoringThresholds = { oldestUnackedSeconds: 600, serverErrorRatio: 0.05, curatorSilenceSeconds: 3600, curatorLagSeconds: 1800 };

export interface MonitoringArgs {
  project: pulumi.Input<string>;
  /** Notification channel ids (`projects/<p>/notificationChannels/<n>`) every alert goes to. */
  notificationChannels: pulumi.Input<string>[];
  /** The push subscription's name (a full `projects/…/subscriptions/<name>` is cut to its name). */
  subscription: pulumi.Input<string>;
  /** The dead-letter topic's push subscription: what it holds are dead letters the writer has not filed yet. */
  deadLetterSubscription: pulumi.Input<string>;
  /** Cloud Run service names. */
  services: { ingest: pulumi.Input<string>; writer: pulumi.Input<string>; curator: pulumi.Input<string> };
  thresholds?: Partial<MonitoringThresholds>;
}

/**
 * One log-based metric: it counts the lines of one declared signal (runtime/src/signals.ts) or, with
 * `field`, is the distribution of one of its numeric fields. Each service logs JSON on stdout
 * (runtime's pino), which Cloud Logging parses into jsonPayload; the metric filters on
 * `jsonPayload.signal`, so rewording a message changes nothing, and a field that is not declared
 * (or not a number) does not compile. The signals tests of each service assert that it emits them.
 */
type LogMetric = { [N in SignalName]: { name: string; signal: N; field?: NumericSignalField<N>; description: string } }[SignalName];

export const LOG_METRICS = {
  ingestEvents: { name: 'strata_ingest_events_accepted', signal: 'ingest.events_accepted', field: 'accepted', description: 'Events ingest accepted per request (sum = events).' },
  ingestRejected: { name: 'strata_ingest_events_rejected', signal: 'ingest.events_rejected', field: 'rejected', description: 'Events failing validation per request (sum = events).' },
  writerRows: { name: 'strata_writer_rows', signal: 'writer.partition_flushed', field: 'rows', description: 'Rows per Parquet file the writer wrote (sum = rows).' },
  writerBytes: { name: 'strata_writer_bytes', signal: 'writer.partition_flushed', field: 'bytes', description: 'Bytes per Parquet file the writer wrote (sum = bytes).' },
  writerFiles: { name: 'strata_writer_files', signal: 'writer.partition_flushed', description: 'Parquet files the writer wrote.' },
  writerFlushLatency: { name: 'strata_writer_flush_latency', signal: 'writer.partition_flushed', field: 'flushLatencyMs', description: "From a batch's first row arriving at the writer to its Parquet file being durable." },
  writerQuarantined: { name: 'strata_writer_quarantined', signal: 'writer.quarantined', field: 'count', description: 'Records per quarantine file (sum = events quarantined).' },
  curatorDaysFailed: { name: 'strata_curator_days_failed', signal: 'curator.day_failed', description: 'Days a curation run could not curate (retried next run).' },
  curatorRunDuration: { name: 'strata_curator_run_duration', signal: 'curator.run_finished', field: 'durationMs', description: 'Curation run duration.' },
  curatorDaysLeft: { name: 'strata_curator_days_left', signal: 'curator.run_finished', field: 'daysLeft', description: 'Days left for the next run when a run spent its budget.' },
  curatorLag: { name: 'strata_curator_lag', signal: 'curator.run_finished', field: 'lagSeconds', description: 'How long the oldest change a run left uncurated had waited.' },
  curatorRuns: { name: 'strata_curator_runs', signal: 'curator.run_finished', description: 'Curation runs finished (whatever their outcome).' },
} as const satisfies Record<string, LogMetric>;

export type LogMetricKey = keyof typeof LOG_METRICS;

const signalLog = (service: pulumi.Input<string>, signal: SignalName) =>
  pulumi.interpolate`resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND jsonPayload.signal="${signal}"`;

// Distributions by the declared unit. A count or size per line (rows per file, events per request):
// its `_sum` is the total.
const BUCKETS: Record<NonNullable<SignalField['unit']>, { exponentialBuckets: { numFiniteBuckets: number; growthFactor: number; scale: number } }> = {
  '1': { exponentialBuckets: { numFiniteBuckets: 32, growthFactor: 2, scale: 1 } },
  By: { exponentialBuckets: { numFiniteBuckets: 32, growthFactor: 2, scale: 1 } },
  // 100 ms … ~14 min.
  ms: { exponentialBuckets: { numFiniteBuckets: 24, growthFactor: 1.5, scale: 100 } },
  // 1 s … ~6 days.
  s: { exponentialBuckets: { numFiniteBuckets: 20, growthFactor: 2, scale: 1 } },
};

/** `logging.googleapis.com/user/<name>` as PromQL names it (https://cloud.google.com/monitoring/promql/promql-mapping). */
const promName = (metric: string) => `logging_googleapis_com:user_${metric}`;

export interface DashboardNames {
  subscription: string;
  deadLetterSubscription: string;
  services: { ingest: string; writer: string; curator: string };
  metrics: Record<LogMetricKey, string>;
}

type Aggregation = { alignmentPeriod: string; perSeriesAligner: string; crossSeriesReducer?: string; groupByFields?: string[] };
const filterSeries = (filter: string, aggregation: Aggregation, legend: string, targetAxis = 'Y1') => ({
  timeSeriesQuery: { timeSeriesFilter: { filter, aggregation } },
  plotType: 'LINE',
  legendTemplate: legend,
  targetAxis,
});
const promSeries = (query: string, legend: string, targetAxis = 'Y1') => ({ timeSeriesQuery: { prometheusQuery: query }, plotType: 'LINE', legendTemplate: legend, targetAxis });
const chart = (title: string, dataSets: object[], yLabel: string, y2Label?: string) => ({
  title,
  xyChart: { dataSets, timeshiftDuration: '0s', yAxis: { label: yLabel, scale: 'LINEAR' }, ...(y2Label ? { y2Axis: { label: y2Label, scale: 'LINEAR' } } : {}) },
});
const user = (metric: string) => `metric.type="logging.googleapis.com/user/${metric}"`;
const run = (metric: string, service: string) => `metric.type="run.googleapis.com/${metric}" resource.type="cloud_run_revision" resource.label.service_name="${service}"`;
const pubsub = (metric: string, subscription: string) => `metric.type="pubsub.googleapis.com/subscription/${metric}" resource.type="pubsub_subscription" resource.label.subscription_id="${subscription}"`;

/** The dashboard (Monitoring's dashboards.create body): pure, so its JSON is tested as deployed. */
export function dashboard(n: DashboardNames): object {
  const percentiles = (filter: string, what: string) =>
    ['50', '99'].map((p) => filterSeries(filter, { alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: `REDUCE_PERCENTILE_${p}` }, `${what} p${p}`));
  const widgets = [
    chart('Ingest: events accepted /s', [
      promSeries(`sum(rate(${promName(n.metrics.ingestEvents)}_sum[5m]))`, 'events accepted'),
      promSeries(`sum(rate(${promName(n.metrics.ingestRejected)}_sum[5m]))`, 'events rejected'),
      filterSeries(run('request_count', n.services.ingest), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['metric.label.response_code_class'] }, 'requests ${metric.labels.response_code_class}', 'Y2'),
    ], 'events/s', 'requests/s'),
    chart('Writer: rows and files written /s', [
      promSeries(`sum(rate(${promName(n.metrics.writerRows)}_sum[5m]))`, 'rows'),
      filterSeries(user(n.metrics.writerFiles), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }, 'files', 'Y2'),
    ], 'rows/s', 'files/s'),
    // The wait for the batch plus the upload, as the writer measures it per file (flushLatencyMs).
    chart('Writer: flush latency (first row to durable file)', percentiles(user(n.metrics.writerFlushLatency), 'flush'), 'ms'),
    chart('Backlog: undelivered messages', [
      filterSeries(pubsub('num_undelivered_messages', n.subscription), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'push subscription'),
      filterSeries(pubsub('num_undelivered_messages', n.deadLetterSubscription), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'dead letters not yet filed'),
      filterSeries(pubsub('oldest_unacked_message_age', n.subscription), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'oldest unacked (s)', 'Y2'),
    ], 'messages', 'seconds'),
    chart('Curator: run time', percentiles(user(n.metrics.curatorRunDuration), 'run'), 'ms'),
    // How long the oldest change left uncurated had waited, per run (alerted above curatorLagSeconds).
    chart('Curator: lag (oldest change left uncurated)', [
      filterSeries(user(n.metrics.curatorLag), { alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_PERCENTILE_99', crossSeriesReducer: 'REDUCE_MAX' }, 'lag'),
    ], 's'),
    // Days still to curate when a run stopped at its budget, days that failed, and runs finishing at
    // all (none for curatorSilenceSeconds raises an alert).
    chart('Curator: days left at budget, days failed, runs', [
      filterSeries(user(n.metrics.curatorDaysLeft), { alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_PERCENTILE_99' }, 'days left'),
      filterSeries(user(n.metrics.curatorDaysFailed), { alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' }, 'days failed'),
      filterSeries(user(n.metrics.curatorRuns), { alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' }, 'runs', 'Y2'),
    ], 'days', 'runs'),
    chart('5xx share per service', (['ingest', 'writer', 'curator'] as const).map((s) =>
      filterSeries(`${run('request_count', n.services[s])} metric.label.response_code_class="5xx"`, { alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }, s),
    ), '5xx/s'),
  ];
  return {
    displayName: 'Strata pipeline',
    mosaicLayout: { columns: 48, tiles: widgets.map((widget, i) => ({ xPos: (i % 2) * 24, yPos: Math.floor(i / 2) * 16, width: 24, height: 16, widget })) },
  };
}

/**
 * What tells on-call the pipeline is unwell, as code: log-based metrics over the services' signals
 * (LOG_METRICS: events accepted and rejected, rows, bytes and files written, flush latency,
 * quarantined, curator runs, failed days and lag), alerts on the backlog, dead letters, 5xx and the
 * curator, and one dashboard.
 * https://cloud.google.com/logging/docs/logs-based-metrics
 */
export class Monitoring extends pulumi.ComponentResource {
  /** Log-based metric names (`logging.googleapis.com/user/<name>`). */
  readonly metrics: Record<LogMetricKey, pulumi.Output<string>>;
  /** Alert policy resource names, by what they watch. */
  readonly alertPolicies: Record<string, pulumi.Output<string>>;
  readonly dashboardId: pulumi.Output<string>;

  constructor(name: string, args: MonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Monitoring', name, {}, opts);
    // Children wait for what the component waits for (the APIs): a component's dependsOn alone does not hold them back.
    const parent = { parent: this, dependsOn: opts?.dependsOn };
    const thresholds = { ...DEFAULT_THRESHOLDS, ...args.thresholds };
    const project = args.project;
    const shortName = (s: pulumi.Input<string>) => pulumi.output(s).apply((n) => n.split('/').pop()!);
    const subscription = shortName(args.subscription);
    const deadLetters = shortName(args.deadLetterSubscription);
    const { ingest, writer, curator } = args.services;

    // A signal's label fields (log_type) become the metric's labels, so charts can split by them.
    const logMetric = (key: LogMetricKey) => {
      const metric: LogMetric = LOG_METRICS[key];
      const declared: SignalDeclaration = SIGNALS[metric.signal];
      const labels = Object.entries(declared.fields).filter(([, f]) => f.label);
      const value = metric.field === undefined ? undefined : declared.fields[metric.field]!;
      return new gcp.logging.Metric(`${name}-${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`, {
        project,
        name: metric.name,
        description: metric.description,
        filter: signalLog(args.services[declared.service], metric.signal),
        metricDescriptor: {
          metricKind: 'DELTA',
          valueType: value ? 'DISTRIBUTION' : 'INT64',
          unit: value?.unit ?? '1',
          ...(labels.length > 0 ? { labels: labels.map(([field, f]) => ({ key: field, valueType: 'STRING', description: f.description })) } : {}),
        },
        ...(labels.length > 0 ? { labelExtractors: Object.fromEntries(labels.map(([field]) => [field, `EXTRACT(jsonPayload.${field})`])) } : {}),
        ...(value ? { valueExtractor: `EXTRACT(jsonPayload.${metric.field})`, bucketOptions: BUCKETS[value.unit ?? '1'] } : {}),
      }, parent);
    };
    const m = Object.fromEntries((Object.keys(LOG_METRICS) as LogMetricKey[]).map((key) => [key, logMetric(key)])) as Record<LogMetricKey, gcp.logging.Metric>;

    const policy = (key: string, displayName: string, documentation: string, condition: gcp.types.input.monitoring.AlertPolicyCondition) =>
      new gcp.monitoring.AlertPolicy(`${name}-${key}`, {
        project,
        displayName,
        combiner: 'OR',
        conditions: [condition],
        notificationChannels: args.notificationChannels,
        documentation: { content: documentation, mimeType: 'text/markdown' },
        alertStrategy: { autoClose: '86400s' },
      }, parent);

    const policies: Record<string, gcp.monitoring.AlertPolicy> = {
      backlog: policy('backlog', 'Strata: push backlog is old', `The oldest message on the push subscription is over ${thresholds.oldestUnackedSeconds} s old: the writer is failing, refusing pushes (429 when its buffer is full) or scaled to its limit. See the writer's logs and 5xx.`, {
        displayName: 'oldest unacked message age',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type="pubsub_subscription" AND resource.labels.subscription_id="${subscription}" AND metric.type="pubsub.googleapis.com/subscription/oldest_unacked_message_age"`,
          comparison: 'COMPARISON_GT',
          thresholdValue: thresholds.oldestUnackedSeconds,
          duration: '300s',
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }],
        },
      }),
      // Counted where they leave the push subscription: the dead-letter subscription hands them to
      // the writer at once, so its backlog says little.
      deadLetters: policy('dead-letters', 'Strata: messages dead-lettered', 'The writer refused messages on every delivery attempt, and Pub/Sub dead-lettered them. The writer files them in the lake under dead-letter/ (one JSON line per event, with the reasons and attributes): see why in the writer logs, fix, and republish them.', {
        displayName: 'messages dead-lettered from the push subscription',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type="pubsub_subscription" AND resource.labels.subscription_id="${subscription}" AND metric.type="pubsub.googleapis.com/subscription/dead_letter_message_count"`,
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: '0s',
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_SUM' }],
        },
      }),
      curatorFailures: policy('curator-failures', 'Strata: curator failed days', 'A curation run could not curate some days (the log entries with signal `curator.day_failed`, "day not curated; retried next run", name each with its reason). They are retried on the next run; the rollups of those days are stale meanwhile.', {
        displayName: 'days not curated',
        conditionThreshold: {
          // Naming the metric by its output makes the policy wait for it: an alert on a metric that does not exist yet is refused.
          filter: pulumi.interpolate`resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/${m.curatorDaysFailed.name}"`,
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: '0s',
          aggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' }],
          trigger: { count: 1 },
        },
      }),
      curatorSilent: policy('curator-silent', 'Strata: curator not running', `No curation run finished for ${thresholds.curatorSilenceSeconds} s: Cloud Scheduler is paused or failing to reach the curator, or runs crash before they finish. Rollups are going stale.`, {
        displayName: 'no curation run finished',
        conditionAbsent: {
          filter: pulumi.interpolate`resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/${m.curatorRuns.name}"`,
          duration: `${thresholds.curatorSilenceSeconds}s`,
          aggregations: [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM' }],
        },
      }),
      // lagSeconds already accumulates the wait, so one run above the threshold is enough; the
      // 10-minute period holds at least one run at Scheduler's 5-minute interval.
      curatorLag: policy('curator-lag', 'Strata: curator falling behind', `A curation run left uncurated a change that had waited over ${thresholds.curatorLagSeconds} s (lagSeconds of the \`curator.run_finished\` signal): runs spend their budget before reaching every changed day (daysLeft), or a day keeps failing (see the curator alert). Rollups lag the lake meanwhile.`, {
        displayName: 'oldest change left uncurated',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type="cloud_run_revision" AND metric.type="logging.googleapis.com/user/${m.curatorLag.name}"`,
          comparison: 'COMPARISON_GT',
          thresholdValue: thresholds.curatorLagSeconds,
          duration: '0s',
          aggregations: [{ alignmentPeriod: '600s', perSeriesAligner: 'ALIGN_PERCENTILE_99', crossSeriesReducer: 'REDUCE_MAX' }],
          trigger: { count: 1 },
        },
      }),
    };
    for (const [key, service] of Object.entries(args.services)) {
      const requests = pulumi.interpolate`resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND metric.type="run.googleapis.com/request_count"`;
      const aggregations = [{ alignmentPeriod: '300s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }];
      policies[`${key}ServerErrors`] = policy(`${key}-5xx`, `Strata: ${key} answers 5xx`, `More than ${thresholds.serverErrorRatio * 100} % of ${key}'s requests got a 5xx over 5 minutes. ${key === 'curator' ? 'The curator answers 500 when a day failed (see the curator alert).' : `See ${key}'s error logs.`}`, {
        displayName: `${key} 5xx share`,
        conditionThreshold: {
          filter: pulumi.interpolate`${requests} AND metric.labels.response_code_class="5xx"`,
          denominatorFilter: requests,
          aggregations,
          denominatorAggregations: aggregations,
          comparison: 'COMPARISON_GT',
          thresholdValue: thresholds.serverErrorRatio,
          duration: '300s',
        },
      });
    }

    const metricNames = Object.fromEntries(Object.entries(m).map(([k, metric]) => [k, metric.name])) as Record<LogMetricKey, pulumi.Output<string>>;
    // pulumi.output unwraps every nested Input into plain strings.
    const names: pulumi.Output<DashboardNames> = pulumi.output({ subscription, deadLetterSubscription: deadLetters, services: { ingest, writer, curator }, metrics: metricNames });
    const board = new gcp.monitoring.Dashboard(`${name}-dashboard`, { project, dashboardJson: names.apply((n) => JSON.stringify(dashboard(n))) }, parent);

    this.metrics = metricNames;
    this.alertPolicies = Object.fromEntries(Object.entries(policies).map(([k, p]) => [k, p.name]));
    this.dashboardId = board.id;
    this.registerOutputs({ metrics: this.metrics, alertPolicies: this.alertPolicies, dashboardId: this.dashboardId });
  }
}
