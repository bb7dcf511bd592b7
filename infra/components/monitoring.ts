import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';

export interface MonitoringThresholds {
  /** Oldest unacked message on the push subscription: the writer is down or refusing pushes. */
  oldestUnackedSeconds: number;
  /** Share of a service's requests answered 5xx, over 5 minutes. */
  serverErrorRatio: number;
  /** No curation run finished for this long: Scheduler or the curator is stuck (above Scheduler's interval). */
  curatorSilenceSeconds: number;
}

export const DEFAULT_THRESHOLDS: MonitoringThresholds = { oldestUnackedSeconds: 600, serverErrorRatio: 0.05, curatorSilenceSeconds: 3600 };

export interface MonitoringArgs {
  project: pulumi.Input<string>;
  /** Notification channel ids (`projects/<p>/notificationChannels/<n>`) every alert goes to. */
  notificationChannels: pulumi.Input<string>[];
  /** The push subscription's name (a full `projects/…/subscriptions/<name>` is cut to its name). */
  subscription: pulumi.Input<string>;
  deadLetterSubscription: pulumi.Input<string>;
  /** Cloud Run service names. */
  services: { ingest: pulumi.Input<string>; writer: pulumi.Input<string>; curator: pulumi.Input<string> };
  thresholds?: Partial<MonitoringThresholds>;
}

/**
 * The log lines the metrics count. Each service logs JSON on stdout (runtime's pino, message key
 * `message`), which Cloud Logging parses into jsonPayload. Changing one of these messages in a
 * service silently empties its metric: they are asserted in monitoring.test.ts against the source.
 */
export const LOG_LINES = {
  /** services/ingest/src/app.ts, with `accepted` (events). */
  ingestAccepted: 'events accepted',
  /** services/writer/src/lake-writer.ts, one per Parquet file, with `rows`. */
  writerFlushed: 'partition flushed',
  /** services/curator/src/curate.ts, one per day that failed. */
  curatorDayFailed: 'day not curated; retried next run',
  /** services/curator/src/curate.ts, one per run, with the summary (durationMs, daysLeft, daysFailed…). */
  curatorRunFinished: 'curation run finished',
} as const;

const cloudRunLog = (service: pulumi.Input<string>, message: string) =>
  pulumi.interpolate`resource.type="cloud_run_revision" AND resource.labels.service_name="${service}" AND jsonPayload.message="${message}"`;

// Distributions of a count per line (rows per file, events per request): their `_sum` is the total.
const countBuckets = { exponentialBuckets: { numFiniteBuckets: 32, growthFactor: 2, scale: 1 } };
// Milliseconds, 100 ms … ~14 min.
const msBuckets = { exponentialBuckets: { numFiniteBuckets: 24, growthFactor: 1.5, scale: 100 } };

/** `logging.googleapis.com/user/<name>` as PromQL names it (https://cloud.google.com/monitoring/promql/promql-mapping). */
const promName = (metric: string) => `logging_googleapis_com:user_${metric}`;

export interface DashboardNames {
  subscription: string;
  deadLetterSubscription: string;
  services: { ingest: string; writer: string; curator: string };
  metrics: { ingestEvents: string; writerRows: string; writerFiles: string; curatorDaysFailed: string; curatorRunDuration: string; curatorDaysLeft: string; curatorRuns: string };
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
      filterSeries(run('request_count', n.services.ingest), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM', groupByFields: ['metric.label.response_code_class'] }, 'requests ${metric.labels.response_code_class}', 'Y2'),
    ], 'events/s', 'requests/s'),
    chart('Writer: rows and files written /s', [
      promSeries(`sum(rate(${promName(n.metrics.writerRows)}_sum[5m]))`, 'rows'),
      filterSeries(user(n.metrics.writerFiles), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }, 'files', 'Y2'),
    ], 'rows/s', 'files/s'),
    // The writer answers a push once its rows are in a file on GCS, so push latency is flush latency
    // (the wait for the batch plus the upload); the flush log line carries no duration of its own.
    chart('Writer: flush latency (push request latency)', percentiles(run('request_latencies', n.services.writer), 'latency'), 'ms'),
    chart('Backlog: undelivered messages', [
      filterSeries(pubsub('num_undelivered_messages', n.subscription), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'push subscription'),
      filterSeries(pubsub('num_undelivered_messages', n.deadLetterSubscription), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'dead letters'),
      filterSeries(pubsub('oldest_unacked_message_age', n.subscription), { alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }, 'oldest unacked (s)', 'Y2'),
    ], 'messages', 'seconds'),
    chart('Curator: run time', percentiles(user(n.metrics.curatorRunDuration), 'run'), 'ms'),
    // Lag: days still to curate when a run stopped at its budget, days that failed, and runs
    // finishing at all (none for curatorSilenceSeconds raises an alert).
    chart('Curator: lag (days left at budget, days failed, runs)', [
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
 * What tells on-call the pipeline is unwell, as code: log-based metrics for what only the logs
 * say (events accepted, rows and files written, curator runs and failed days), alerts on the
 * backlog, dead letters, 5xx and the curator, and one dashboard.
 * https://cloud.google.com/logging/docs/logs-based-metrics
 */
export class Monitoring extends pulumi.ComponentResource {
  /** Log-based metric names (`logging.googleapis.com/user/<name>`). */
  readonly metrics: Record<keyof DashboardNames['metrics'], pulumi.Output<string>>;
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

    const counter = (key: string, metric: string, service: pulumi.Input<string>, line: string, description: string) =>
      new gcp.logging.Metric(`${name}-${key}`, {
        project,
        name: metric,
        description,
        filter: cloudRunLog(service, line),
        metricDescriptor: { metricKind: 'DELTA', valueType: 'INT64', unit: '1' },
      }, parent);
    const distribution = (key: string, metric: string, service: pulumi.Input<string>, line: string, field: string, unit: string, description: string) =>
      new gcp.logging.Metric(`${name}-${key}`, {
        project,
        name: metric,
        description,
        filter: cloudRunLog(service, line),
        metricDescriptor: { metricKind: 'DELTA', valueType: 'DISTRIBUTION', unit },
        valueExtractor: `EXTRACT(jsonPayload.${field})`,
        bucketOptions: unit === 'ms' ? msBuckets : countBuckets,
      }, parent);

    const m = {
      ingestEvents: distribution('ingest-events', 'strata_ingest_events_accepted', ingest, LOG_LINES.ingestAccepted, 'accepted', '1', 'Events ingest accepted per request (sum = events).'),
      writerRows: distribution('writer-rows', 'strata_writer_rows', writer, LOG_LINES.writerFlushed, 'rows', '1', 'Rows per Parquet file the writer wrote (sum = rows).'),
      writerFiles: counter('writer-files', 'strata_writer_files', writer, LOG_LINES.writerFlushed, 'Parquet files the writer wrote.'),
      curatorDaysFailed: counter('curator-days-failed', 'strata_curator_days_failed', curator, LOG_LINES.curatorDayFailed, 'Days a curation run could not curate (retried next run).'),
      curatorRunDuration: distribution('curator-run-duration', 'strata_curator_run_duration', curator, LOG_LINES.curatorRunFinished, 'durationMs', 'ms', 'Curation run duration.'),
      curatorDaysLeft: distribution('curator-days-left', 'strata_curator_days_left', curator, LOG_LINES.curatorRunFinished, 'daysLeft', '1', 'Days left for the next run when a run spent its budget.'),
      curatorRuns: counter('curator-runs', 'strata_curator_runs', curator, LOG_LINES.curatorRunFinished, 'Curation runs finished (whatever their outcome).'),
    };

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
      deadLetters: policy('dead-letters', 'Strata: messages dead-lettered', 'Messages reached the dead-letter subscription: the writer refused them every attempt. Inspect them (they are kept there), fix, and republish.', {
        displayName: 'dead-letter subscription holds messages',
        conditionThreshold: {
          filter: pulumi.interpolate`resource.type="pubsub_subscription" AND resource.labels.subscription_id="${deadLetters}" AND metric.type="pubsub.googleapis.com/subscription/num_undelivered_messages"`,
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: '0s',
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX' }],
        },
      }),
      curatorFailures: policy('curator-failures', 'Strata: curator failed days', 'A curation run could not curate some days (the log line "day not curated; retried next run" names each with its reason). They are retried on the next run; the rollups of those days are stale meanwhile.', {
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

    const metricNames = Object.fromEntries(Object.entries(m).map(([k, metric]) => [k, metric.name])) as Record<keyof DashboardNames['metrics'], pulumi.Output<string>>;
    // pulumi.output unwraps every nested Input into plain strings.
    const names: pulumi.Output<DashboardNames> = pulumi.output({ subscription, deadLetterSubscription: deadLetters, services: { ingest, writer, curator }, metrics: metricNames });
    const board = new gcp.monitoring.Dashboard(`${name}-dashboard`, { project, dashboardJson: names.apply((n) => JSON.stringify(dashboard(n))) }, parent);

    this.metrics = metricNames;
    this.alertPolicies = Object.fromEntries(Object.entries(policies).map(([k, p]) => [k, p.name]));
    this.dashboardId = board.id;
    this.registerOutputs({ metrics: this.metrics, alertPolicies: this.alertPolicies, dashboardId: this.dashboardId });
  }
}
