import * as gcp from '@pulumi/gcp';
import * as pulumi from '@pulumi/pulumi';
import * as random from '@pulumi/random';

export interface ConnectionStringParts {
  host: string;
  port?: number;
  database: string;
  user: string;
  password: string;
  /** Path of the PEM file holding the instance's server CA certificates, as mounted in the function. */
  sslRootCertPath: string;
}

/**
 * The DATABASE_URL the services get. node-postgres (pg-connection-string 2.x) treats
 * `sslmode=require` and `verify-ca` as `verify-full`, which checks the host name: a Cloud SQL
 * server certificate names `<project>:<instance>`, not the private IP, so that fails. With
 * `uselibpqcompat=true` the modes mean what libpq says: `verify-ca` checks the chain against the
 * instance's own CA (`sslrootcert`, a per-instance CA, so only this instance's certificate
 * passes) without the host-name check. Unit-tested by parsing with pg-connection-string.
 * https://cloud.google.com/sql/docs/postgres/configure-ssl-instance
 */
export function postgresConnectionString(parts: ConnectionStringParts): string {
  const auth = `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.password)}`;
  const query = new URLSearchParams({ sslmode: 'verify-ca', sslrootcert: parts.sslRootCertPath, uselibpqcompat: 'true' });
  return `postgresql://${auth}@${parts.host}:${parts.port ?? 5432}/${encodeURIComponent(parts.database)}?${query.toString()}`;
}

export interface DatabaseArgs {
  project: string;
  region: string;
  tier: string;
  availabilityType: 'ZONAL' | 'REGIONAL';
  /** The /28 the Serverless VPC Access connector takes. */
  connectorCidr: string;
  databaseName: string;
  userName: string;
  /** Where the functions mount the server CA file (see postgresConnectionString). */
  sslRootCertPath: string;
  dependsOn: pulumi.Resource[];
}

/**
 * Cloud SQL for PostgreSQL 15 on a private IP only: a VPC, a private-services-access peering for
 * Cloud SQL, and a Serverless VPC Access connector the functions send private-range traffic
 * through. Chosen over the Cloud SQL Node connector because the services already speak plain
 * node-postgres (curator, schema registry, node-pg-migrate) with a DATABASE_URL: no code change,
 * and the database has no public address at all.
 */
export class Database extends pulumi.ComponentResource {
  readonly network: gcp.compute.Network;
  readonly connector: gcp.vpcaccess.Connector;
  readonly instance: gcp.sql.DatabaseInstance;
  readonly database: gcp.sql.Database;
  readonly user: gcp.sql.User;
  /** The full connection string (a secret): store it in Secret Manager, never in plain env. */
  readonly connectionString: pulumi.Output<string>;
  /** Every server CA certificate of the instance, PEM (the next one too, during a rotation). */
  readonly serverCaPem: pulumi.Output<string>;

  constructor(name: string, args: DatabaseArgs, opts?: pulumi.ComponentResourceOptions) {
    super('strata:index:Database', name, {}, opts);
    const child = { parent: this, dependsOn: args.dependsOn };

    this.network = new gcp.compute.Network('vpc', { project: args.project, name: 'strata', autoCreateSubnetworks: false }, child);
    const peeringRange = new gcp.compute.GlobalAddress(
      'sql-peering-range',
      { project: args.project, name: 'strata-sql-peering', purpose: 'VPC_PEERING', addressType: 'INTERNAL', prefixLength: 20, network: this.network.id },
      child,
    );
    const peering = new gcp.servicenetworking.Connection(
      'sql-peering',
      { network: this.network.id, service: 'servicenetworking.googleapis.com', reservedPeeringRanges: [peeringRange.name] },
      child,
    );
    this.connector = new gcp.vpcaccess.Connector(
      'connector',
      { project: args.project, region: args.region, name: 'strata-connector', network: this.network.name, ipCidrRange: args.connectorCidr, minInstances: 2, maxInstances: 3, machineType: 'e2-micro' },
      child,
    );

    this.instance = new gcp.sql.DatabaseInstance(
      'postgres',
      {
        project: args.project,
        region: args.region,
        databaseVersion: 'POSTGRES_15',
        // Both guards: Pulumi refuses to delete it, and so does the Cloud SQL API.
        deletionProtection: true,
        settings: {
          tier: args.tier,
          edition: 'ENTERPRISE',
          availabilityType: args.availabilityType,
          deletionProtectionEnabled: true,
          diskAutoresize: true,
          ipConfiguration: {
            ipv4Enabled: false,
            privateNetwork: this.network.id,
            // TLS required; client certificates are not (the password and the network are the credentials).
            sslMode: 'ENCRYPTED_ONLY',
          },
          backupConfiguration: {
            enabled: true,
            startTime: '02:00',
            pointInTimeRecoveryEnabled: true,
            transactionLogRetentionDays: 7,
            backupRetentionSettings: { retainedBackups: 14, retentionUnit: 'COUNT' },
          },
          insightsConfig: { queryInsightsEnabled: true },
        },
      },
      { ...child, dependsOn: [...args.dependsOn, peering] },
    );
    this.database = new gcp.sql.Database('database', { project: args.project, instance: this.instance.name, name: args.databaseName }, child);
    // URL-safe characters only, so the connection string needs no escaping anywhere it is shown.
    const password = new random.RandomPassword('database-password', { length: 32, special: false }, { parent: this });
    this.user = new gcp.sql.User('user', { project: args.project, instance: this.instance.name, name: args.userName, password: password.result }, child);

    this.connectionString = pulumi
      .all([this.instance.privateIpAddress, this.database.name, this.user.name, password.result])
      .apply(([host, database, user, pass]) => postgresConnectionString({ host, database, user, password: pass, sslRootCertPath: args.sslRootCertPath }));
    this.connectionString = pulumi.secret(this.connectionString);
    this.serverCaPem = this.instance.serverCaCerts.apply((certs) => certs.map((c) => c.cert.trim()).join('\n') + '\n');
    this.registerOutputs({ instance: this.instance.connectionName, privateIp: this.instance.privateIpAddress });
  }
}
