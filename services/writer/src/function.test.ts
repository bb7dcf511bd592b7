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

beforeAll(async () => {
  issuer = await createOidcIssuer();
  certs = await serveCerts(issuer);
  for (const [name, value] of Object.entries({ ...env, OIDC_CERTS_URL: certs.certsUrl })) {
    saved[name] = process.env[name];
    process.env[name] = value;
  }
  await import('./function.js');
});

afterAll(async () => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  await certs.close();
});

describe('the Functions Framework entry', () => {
  it('registers the writer app as the "writer" HTTP function', async () => {
    const server = getTestServer('writer');
    expect((await request(server).post('/push').send({})).status).toBe(401);
    const token = await issuer.sign({ audience: env.PUSH_AUDIENCE, email: env.PUSH_SERVICE_ACCOUNT });
    const res = await request(server).post('/push').set('authorization', `Bearer ${token}`).send({ message: {} });
    expect(res.status).toBe(400);
    expect(res.body.reason).toMatch(/messageId/);
  });
});
