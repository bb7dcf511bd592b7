import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import { CURATED_ROOT, LAKE_ROOT, ROLLUPS, createRegistry, loadBundledSchemas, type Registry, type RollupDeclaration } from '@strata/schemas';
import {
  DEFAULT_DATASETS,
  bigQueryLocation,
  curatedTableName,
  dedupViewName,
  dedupViewSql,
  eventTableSchema,
  liveRollupSql,
  liveViewName,
  rollupTableSchema,
  tableRef,
} from '../bigquery-sql.js';

export interface AnalyticsArgs {
  project: pulumi.Input<string>;
  /** The lake bucket's location (a region or EU/US): BigLake reads only a bucket co-located with its dataset. */
  location: string;
  /** The lake bucket's name. */
  lakeBucket: pulumi.Input<string>;
  /** The log types with an external table; each must be in the schema registry. */
  logTypes: string[];
  /** Who reads the curated dataset (and Looker Studio on it): IAM members, `group:analysts@example.com`. */
  analysts: string[];
  rawDatasetId?: string;
  curatedDatasetId?: string;
  /** Defaults to the rollups declared in schemas/src/rollups.ts. */
  rollups?: readonly RollupDeclaration[];
  /** Defaults to the bundled schemas: the lake's columns per log type. */
  registry?: Pick<Registry, 'columns'>;
}

/**
 * BigQuery over the lake, without copying it:
 *
 * - raw dataset: per log type a BigLake external table over `events/log_type=<t>/` (hive keys dt,
 *   hr; a partition filter required, so nobody scans the whole lake by accident) and its dedup view;
 * - curated dataset: per rollup a BigLake table over the curator's `curated/<rollup>/` files and a
 *   `<rollup>_live` view computing it from the raw dedup views, for today's figures;
 * - one BigLake connection whose service account alone reads the bucket: analysts, Looker Studio
 *   and the views need no bucket access (https://cloud.google.com/bigquery/docs/biglake-intro).
 *
 * Analysts get the curated dataset only. The live views read the raw dataset as authorized views
 * (https://cloud.google.com/bigquery/docs/authorized-views), so the raw events, PII included
 * (hashed or not), stay out of analysts' reach.
 */
export class Analytics extends pulumi.ComponentResource {
  readonly rawDatasetId: pulumi.Output<string>;
  readonly curatedDatasetId: pulumi.Output<string>;
  /** `projects/<p>/locations/<l>/connections/<id>`. */
  readonly connectionName: pulumi.Output<string>;
  /** The connection's service account (the only reader of the bucket on BigQuery's behalf). */
  readonly connectionServiceAccount: pulumi.Output<string>;
  /** log type → table id in the raw dataset. */
  readonly eventTables: Record<string, pulumi.Output<string>>;
  /** log type → dedup view id in the raw dataset. */
  readonly dedupViews: Record<string, pulumi.Output<string>>;
  /** rollup → curated table id in the curated dataset. */
  readonly curatedTables: Record<string, pulumi.Output<string>>;
  /** rollup → live view id in the curated dataset (rollups reading none of the log types have none). */
  readonly liveViews: Record<string, pulumi.Output<string>>;

  constructor(name: string, args: AnalyticsArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Analytics', name, {}, opts);
    // Children wait for what the component waits for (the APIs): a component's dependsOn alone does not hold them back.
    const parent = { parent: this, dependsOn: opts?.dependsOn };
    const location = bigQueryLocation(args.location);
    const rollups = args.rollups ?? ROLLUPS;
    const registry = args.registry ?? createRegistry(loadBundledSchemas());
    // Fail before any resource for an unknown log type (columns throws naming it).
    const columns = new Map(args.logTypes.map((t) => [t, registry.columns(t)]));
    const project = pulumi.output(args.project);
    const bucket = pulumi.output(args.lakeBucket);

    const raw = new gcp.bigquery.Dataset(`${name}-raw`, {
      project,
      datasetId: args.rawDatasetId ?? DEFAULT_DATASETS.raw,
      location,
      description: 'Strata raw events: BigLake tables over the lake (one per log type) and their dedup views. Not shared with analysts.',
    }, parent);
    const curated = new gcp.bigquery.Dataset(`${name}-curated`, {
      project,
      datasetId: args.curatedDatasetId ?? DEFAULT_DATASETS.curated,
      location,
      description: "Strata rollups: the curator's curated files and live views. What analysts and Looker Studio read.",
    }, parent);

    const connection = new gcp.bigquery.Connection(`${name}-lake`, {
      project,
      location,
      connectionId: 'strata-lake',
      friendlyName: 'Strata lake',
      description: 'BigLake connection: its service account reads the lake bucket for every BigLake table of Strata.',
      cloudResource: {},
    }, parent);
    const serviceAccount = connection.cloudResource.apply((c) => {
      if (!c?.serviceAccountId) throw new Error('the BigLake connection has no service account');
      return c.serviceAccountId;
    });
    // Read-only: BigQuery never writes the lake.
    const lakeReader = new gcp.storage.BucketIAMMember(`${name}-lake-reader`, {
      bucket,
      role: 'roles/storage.objectViewer',
      member: pulumi.interpolate`serviceAccount:${serviceAccount}`,
    }, parent);

    // BigLake tables read with the connection's credentials. With a connection the schema is the
    // table's own (`schema`), and BigQuery adds the hive keys to it; without a connection an
    // explicit schema must sit in externalDataConfiguration.schema instead, or the partition keys
    // are dropped (hashicorp/terraform-provider-google#8717). Only the connection case is used.
    const external = (uri: pulumi.Input<string>, hive?: { prefix: pulumi.Input<string>; requireFilter: boolean }) => ({
      sourceFormat: 'PARQUET',
      sourceUris: [uri],
      autodetect: false,
      connectionId: connection.name,
      // Lists are REPEATED fields (schemas/src/bigquery.ts): the Parquet LIST wrapper must be read as an array.
      parquetOptions: { enableListInference: true },
      ...(hive ? { hivePartitioningOptions: { mode: 'CUSTOM', sourceUriPrefix: hive.prefix, requirePartitionFilter: hive.requireFilter } } : {}),
    });
    const gs = (path: string) => pulumi.interpolate`gs://${bucket}/${path}`;

    this.eventTables = {};
    this.dedupViews = {};
    for (const [logType, cols] of columns) {
      const folder = `${LAKE_ROOT}/log_type=${logType}`;
      const table = new gcp.bigquery.Table(`${name}-${logType}`, {
        project,
        datasetId: raw.datasetId,
        tableId: logType,
        description: `${logType} events as the lake holds them (duplicates included: read ${dedupViewName(logType)}). Filter on dt (and hr).`,
        schema: JSON.stringify(eventTableSchema(cols)),
        // External tables hold no data: replacing one loses nothing.
        deletionProtection: false,
        externalDataConfiguration: external(gs(`${folder}/*`), { prefix: gs(`${folder}/{dt:DATE}/{hr:INTEGER}`), requireFilter: true }),
      }, { parent: this, dependsOn: [lakeReader] });
      const view = new gcp.bigquery.Table(`${name}-${dedupViewName(logType)}`, {
        project,
        datasetId: raw.datasetId,
        tableId: dedupViewName(logType),
        description: `${logType}, one row per event_id (the first received_at wins), as every rollup counts. Filter on dt (and hr): it prunes partitions.`,
        deletionProtection: false,
        view: { useLegacySql: false, query: pulumi.all([project, raw.datasetId, table.tableId]).apply(([p, d, t]) => dedupViewSql(tableRef(p, d, t))) },
      }, parent);
      this.eventTables[logType] = table.tableId;
      this.dedupViews[logType] = view.tableId;
    }

    this.curatedTables = {};
    this.liveViews = {};
    const authorized: gcp.bigquery.DatasetAccess[] = [];
    for (const rollup of rollups) {
      const folder = `${CURATED_ROOT}/${rollup.name}`;
      // No hive partitioning: the files carry dt themselves (see rollupTableSchema). They are a few
      // KB per rollup, day and log type, so a query reading all of them stays cheap.
      const table = new gcp.bigquery.Table(`${name}-curated-${rollup.name}`, {
        project,
        datasetId: curated.datasetId,
        tableId: curatedTableName(rollup.name),
        description: `${rollup.description} As of the curator's last run (see ${liveViewName(rollup.name)} for live figures).`,
        schema: JSON.stringify(rollupTableSchema(rollup)),
        deletionProtection: false,
        externalDataConfiguration: external(gs(`${folder}/*`)),
      }, { parent: this, dependsOn: [lakeReader] });
      this.curatedTables[rollup.name] = table.tableId;

      const logTypes = [...columns.keys()];
      if (!liveRollupSql(rollup, logTypes, (t) => t)) continue;
      const views = pulumi.all(logTypes.map((t) => this.dedupViews[t]!));
      const query = pulumi.all([project, raw.datasetId, views]).apply(([p, d, ids]) =>
        liveRollupSql(rollup, logTypes, (t) => tableRef(p, d, ids[logTypes.indexOf(t)]!))!,
      );
      const live = new gcp.bigquery.Table(`${name}-live-${rollup.name}`, {
        project,
        datasetId: curated.datasetId,
        tableId: liveViewName(rollup.name),
        description: `${rollup.description} Computed live from the raw events: filter on dt, or it reads the whole lake.`,
        deletionProtection: false,
        view: { useLegacySql: false, query },
      }, parent);
      this.liveViews[rollup.name] = live.tableId;
      // The raw dataset trusts this view: its readers see its result, never the raw tables.
      authorized.push(
        new gcp.bigquery.DatasetAccess(`${name}-authorize-${rollup.name}`, {
          project,
          datasetId: raw.datasetId,
          view: { projectId: project, datasetId: curated.datasetId, tableId: live.tableId },
        }, parent),
      );
    }

    for (const member of args.analysts) {
      const who = member.replace(/[^A-Za-z0-9._-]+/g, '-');
      new gcp.bigquery.DatasetIamMember(`${name}-analyst-${who}`, { project, datasetId: curated.datasetId, role: 'roles/bigquery.dataViewer', member }, parent);
      // Reading data is not running a query: a query is a job billed to a project, and creating one
      // needs bigquery.jobs.create, which no dataset role grants. jobUser grants only that (no data
      // access), so analysts and Looker Studio (with viewers' credentials) can query the curated
      // dataset and nothing more.
      new gcp.projects.IAMMember(`${name}-job-user-${who}`, { project, role: 'roles/bigquery.jobUser', member }, parent);
    }

    this.rawDatasetId = raw.datasetId;
    this.curatedDatasetId = curated.datasetId;
    this.connectionName = connection.name;
    this.connectionServiceAccount = serviceAccount;
    this.registerOutputs({
      rawDatasetId: this.rawDatasetId,
      curatedDatasetId: this.curatedDatasetId,
      connectionName: this.connectionName,
      connectionServiceAccount: this.connectionServiceAccount,
      eventTables: this.eventTables,
      dedupViews: this.dedupViews,
      curatedTables: this.curatedTables,
      liveViews: this.liveViews,
      authorizedViews: authorized.length,
    });
  }
}
