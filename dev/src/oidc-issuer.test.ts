import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createOidcVerifier } from '@strata/runtime';
import { GOOGLE_ISSUER, createOidcIssuer, serveCerts, type OidcIssuer, type ServedCerts } from './oidc-issuer.js';

const audience = 'https://writer.local/push';
const email = 'pubsub-push@strata-dev.iam.gserviceaccount.com';

describe('createOidcIssuer', () => {
  let issuer: OidcIssuer;
  let served: ServedCerts;

  beforeAll(async () => {
    issuer = await createOidcIssuer();
    served = await serveCerts(issuer);
  });
  afterAll(async () => {
    await served.close();
  });

  const verifier = () => createOidcVerifier({ audience, serviceAccountEmail: email, certsUrl: served.certsUrl });

  it('signs a Google-shaped RS256 ID token', async () => {
    const token = await issuer.sign({ audience, email });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', kid: issuer.kid });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ iss: GOOGLE_ISSUER, aud: audience, email, email_verified: true });
    expect(claims.sub).toMatch(/^\d{21}$/);
    expect(claims.exp! - claims.iat!).toBe(3600);
  });

  it('serves PEM certs and a JWKS with a cache lifetime', async () => {
    expect(served.certsUrl).toBe(`${served.baseUrl}/oauth2/v1/certs`);
    const pem = await fetch(served.certsUrl);
    expect(pem.headers.get('cache-control')).toContain('max-age=300');
    expect(await pem.json()).toEqual({ [issuer.kid]: expect.stringContaining('-----BEGIN PUBLIC KEY-----') });
    const jwks = await fetch(served.jwksUrl);
    expect(jwks.headers.get('cache-control')).toContain('max-age=300');
    expect(await jwks.json()).toEqual({ keys: [expect.objectContaining({ kid: issuer.kid, kty: 'RSA', alg: 'RS256' })] });
    expect((await fetch(`${served.baseUrl}/other`)).status).toBe(404);
  });

  it('is accepted by createOidcVerifier', async () => {
    const token = await issuer.sign({ audience, email });
    expect(await verifier().verify(`Bearer ${token}`)).toEqual({ ok: true, email });
  });

  it('is rejected for another audience, another email, after expiry, or from another key', async () => {
    const other = await createOidcIssuer();
    const tokens = {
      audience: await issuer.sign({ audience: 'https://elsewhere.local/', email }),
      email: await issuer.sign({ audience, email: 'intruder@example.iam.gserviceaccount.com' }),
      // google-auth-library allows 300 s of clock skew past `exp`.
      expired: await issuer.sign({ audience, email, ttlSeconds: -600 }),
      otherKey: await other.sign({ audience, email }),
    };
    const results = Object.fromEntries(
      await Promise.all(Object.entries(tokens).map(async ([k, t]) => [k, await verifier().verify(`Bearer ${t}`)] as const)),
    );
    for (const result of Object.values(results)) expect(result.ok).toBe(false);
    expect(results.email).toMatchObject({ reason: expect.stringContaining('intruder@') });
    expect(results.expired).toMatchObject({ reason: expect.stringMatching(/expired|late/i) });
  });
});
