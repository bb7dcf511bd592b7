import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'pg-connection-string';
import { beforeAll, describe, expect, it } from 'vitest';
import { Database, postgresConnectionString } from './database.js';
import { FAKE_CA, setRecordingMocks, valueOf, type Recorded } from '../pulumi-mocks.fake.js';

describe('postgresConnectionString', () => {
  const dir = mkdtempSync(join(tmpdir(), 'strata-ca-'));
  const caPath = join(dir, 'server-ca.pem');
  writeFileSync(caPath, FAKE_CA);
  const url = postgresConnectionString({ host: '10.20.0.3', database: 'strata', user: 'strata', password: 'p@ss/w:rd?', sslRootCertPath: caPath });

  it('parses back to the same host, database, user and password', () => {
    const config = parse(url);
    expect(config).toMatchObject({ host: '10.20.0.3', port: '5432', database: 'strata', user: 'strata', password: 'p@ss/w:rd?' });
  });

  it('makes node-postgres verify the chain against the instance CA, without a host-name check', () => {
    const ssl = parse(url).ssl as { ca: string; rejectUnauthorized?: boolean; checkServerIdentity?: (host: string, cert: unknown) => unknown };
    expect(ssl.ca).toBe(FAKE_CA);
    expect(ssl.rejectUnauthorized).not.toBe(false);
    // The server certificate names <project>:<instance>, not the IP: the host name must not be checked…
    expect(typeof ssl.checkServerIdentity).toBe('function');
    expect(ssl.checkServerIdentity!('10.20.0.3', { subject: { CN: 'strata-test:postgres' } })).toBeUndefined();
  });

  it('unlike plain sslmode=require, which pg treats as verify-full and fails against a Cloud SQL certificate', () => {
    const ssl = parse(`postgresql://u:p@10.20.0.3/strata?sslmode=require&sslrootcert=${caPath}`).ssl as { checkServerIdentity?: unknown };
    expect(ssl.checkServerIdentity).toBeUndefined(); // Node's default: checks the IP against the certificate's names
  });
});

describe('Database', () => {
  let created: Recorded[];
  let db: Database;
  beforeAll(async () => {
    created = await setRecordingMocks();
    db = new Database('database', {
      project: 'strata-test',
      region: 'europe-west4',
      tier: 'db-custom-1-3840',
      availabilityType: 'ZONAL',
      connectorCidr: '10.8.0.0/28',
      databaseName: 'strata',
      userName: 'strata',
      sslRootCertPath: '/strata/secrets/db-ca/server-ca.pem',
      dependsOn: [],
    });
    await valueOf(db.connectionString);
  });
  const one = (type: string) => created.find((r) => r.type === type)!.inputs;

  it('is PostgreSQL 15 on a private IP only, TLS required, backed up with point-in-time recovery, protected from deletion', () => {
    const instance = one('gcp:sql/databaseInstance:DatabaseInstance');
    expect(instance).toMatchObject({
      databaseVersion: 'POSTGRES_15',
      deletionProtection: true,
      settings: {
        deletionProtectionEnabled: true,
        ipConfiguration: { ipv4Enabled: false, sslMode: 'ENCRYPTED_ONLY' },
        backupConfiguration: { enabled: true, pointInTimeRecoveryEnabled: true },
      },
    });
    expect(one('gcp:compute/globalAddress:GlobalAddress')).toMatchObject({ purpose: 'VPC_PEERING', addressType: 'INTERNAL' });
    expect(one('gcp:servicenetworking/connection:Connection')).toMatchObject({ service: 'servicenetworking.googleapis.com' });
    expect(one('gcp:vpcaccess/connector:Connector')).toMatchObject({ ipCidrRange: '10.8.0.0/28', region: 'europe-west4' });
  });

  it('builds the connection string from the private IP, the user and the mounted CA, as a secret', async () => {
    const url = await valueOf(db.connectionString);
    expect(url).toMatch(/^postgresql:\/\/strata:p{32}@10\.20\.0\.3:5432\/strata\?sslmode=verify-ca&sslrootcert=%2Fstrata%2Fsecrets%2Fdb-ca%2Fserver-ca\.pem&uselibpqcompat=true$/);
    expect(await valueOf(db.serverCaPem)).toBe(`${FAKE_CA}\n`);
  });
});
