import { getTestServer } from '@google-cloud/functions-framework/testing';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from '@strata/dev/oidc-issuer';

const env = {
  LAKE_BUCKET: 'lake',
  PII_HASH_SECRET: 'test-secret-0123456789',
  PUSH_AUDIENCE: 'https://writer.strata.test/push',
  PUSH_SERVICE_ACCOUNT: 'pubsub-push@strata-test.iam.gserviceaccount.com',
  LOG_LEVEL: 'silent',
  STORAGE_EMULATOR_HOST: 'http://127.0.0.1:9', // never reached: these requests stop before the lake
};
let issuer: OidcIssuer;
let certs: ServedCerts;
const saved: Record<string, string | undefined> = {};
// function.ts puts its shutdown on SIGTERM/SIGINT, as it must in Cloud Run; in this worker those
// handlers must go with the test, or the worker's own teardown signal would run it (and exit).
const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
let added: Array<{ signal: (typeof SIGNALS)[number]; listener: (...args: unknown[]) => void }> = [];

beforeAll(async () => {
  issuer = await createOidcIssuer();
  certs = await serveCerts(issuer);
  for (const [name, value] of Object.entries({ ...env, OIDC_CERTS_URL: certs.certsUrl })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  await import('./function.js');
  added = SIGNALS.flatMap((signal) => process.listeners(signal).filter((l) => !before.get(signal)!.has(l)).map((listener) => ({ signal, listener: listener as (...args: unknown[]) => void })));
});

afterAll(async () => {
  for (const { signal, listener } of added) process.removeListener(signal, listener);
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await certs.close();
});

describe('the Functions Framework entry', () => {
  it('stops on SIGTERM and SIGINT in place of the framework', () => {
    expect(added.map((a) => a.signal).sort()).toEqual(['SIGINT', 'SIGTERM']);
  });

  it('registers the writer app as the "writer" HTTP function', async () => {
    const server = getTestServer('writer');
    expect((await request(server).post('/push').send({})).status).toBe(401);
    const token = await issuer.sign({ audience: env.PUSH_AUDIENCE, email: env.PUSH_SERVICE_ACCOUNT });
    const res = await request(server).post('/push').set('authorization', `Bearer ${token}`).send({ message: {} });
    expect(res.status).toBe(400);
    expect(res.body.reason).toMatch(/messageId/);
  });
});
