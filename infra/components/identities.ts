import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';

/**
 * One service account per service and per caller, so every grant names exactly one workload:
 * ingest, writer and curator run as their own; Pub/Sub signs push tokens as `push`, Cloud
 * Scheduler signs the curator's tokens as `scheduler`, Cloud Build builds the functions as `builder`.
 */
export const IDENTITIES = {
  ingest: 'Strata ingest: publishes events to the topic',
  writer: 'Strata writer: writes Parquet files into the lake',
  curator: 'Strata curator: compacts the lake, writes rollups to Cloud SQL',
  push: 'Strata push: signs Pub/Sub push tokens for the writer',
  scheduler: 'Strata scheduler: signs Cloud Scheduler tokens for the curator',
  builder: 'Strata builder: builds the function images (Cloud Build)',
} as const;

export type Identity = keyof typeof IDENTITIES;

export interface IdentitiesArgs {
  project: string;
  dependsOn: pulumi.Resource[];
}

export class Identities extends pulumi.ComponentResource {
  readonly accounts: Record<Identity, gcp.serviceaccount.Account>;
  /** Deterministic emails: usable before the accounts exist (e.g. in a function's own env). */
  readonly emails: Record<Identity, string>;
  /** `serviceAccount:<email>` members for IAM bindings. */
  readonly members: Record<Identity, pulumi.Output<string>>;

  constructor(name: string, args: IdentitiesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Identities', name, {}, opts);
    const entries = (Object.keys(IDENTITIES) as Identity[]).map((id) => {
      const account = new gcp.serviceaccount.Account(
        `sa-${id}`,
        { project: args.project, accountId: `strata-${id}`, displayName: IDENTITIES[id] },
        { parent: this, dependsOn: args.dependsOn },
      );
      return [id, account] as const;
    });
    this.accounts = Object.fromEntries(entries) as Record<Identity, gcp.serviceaccount.Account>;
    this.emails = Object.fromEntries(entries.map(([id]) => [id, `strata-${id}@${args.project}.iam.gserviceaccount.com`])) as Record<Identity, string>;
    this.members = Object.fromEntries(entries.map(([id, a]) => [id, pulumi.interpolate`serviceAccount:${a.email}`])) as Record<Identity, pulumi.Output<string>>;
    this.registerOutputs({ emails: this.emails });
  }
}
