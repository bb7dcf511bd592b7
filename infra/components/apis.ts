import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';

/**
 * Every Google API the stack uses. Each resource that calls one of them `dependsOn` these, so a
 * fresh project works on the first `pulumi up` (an API enabled moments ago is otherwise a 403).
 */
export const REQUIRED_APIS = [
  'run.googleapis.com', // the Cloud Run services behind gen2 functions
  'cloudfunctions.googleapis.com',
  'cloudbuild.googleapis.com', // gen2 functions are built by Cloud Build
  'artifactregistry.googleapis.com', // where the built images live
  'pubsub.googleapis.com',
  'storage.googleapis.com',
  'sqladmin.googleapis.com',
  'secretmanager.googleapis.com',
  'cloudscheduler.googleapis.com',
  'bigquery.googleapis.com',
  'bigqueryconnection.googleapis.com', // the BigLake connection over the lake (bigquery.ts)
  'monitoring.googleapis.com',
  'logging.googleapis.com',
  'iam.googleapis.com',
  'compute.googleapis.com', // the VPC the database's private IP lives in
  'servicenetworking.googleapis.com', // private services access peering for Cloud SQL
  'vpcaccess.googleapis.com', // the connector that gives functions a route into the VPC
] as const;

export interface ApisArgs {
  project: string;
  apis?: readonly string[];
}

export class ProjectApis extends pulumi.ComponentResource {
  /** Pass as `dependsOn` to every resource that calls a Google API. */
  readonly services: gcp.projects.Service[];

  constructor(name: string, args: ApisArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:ProjectApis', name, {}, opts);
    this.services = (args.apis ?? REQUIRED_APIS).map(
      (api) =>
        new gcp.projects.Service(
          api.split('.')[0]!,
          {
            project: args.project,
            service: api,
            // Other stacks or people may use the API too: destroying Strata must not switch it off.
            disableOnDestroy: false,
            disableDependentServices: false,
          },
          { parent: this },
        ),
    );
    this.registerOutputs({ services: this.services.map((s) => s.service) });
  }
}
