import { createHmac, generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import type { OidcIssuer, SignRequest } from './oidc-issuer.js';

/**
 * Tokens an OIDC-protected endpoint (the writer's POST /push, the curator's POST /run) must refuse,
 * for tests that send each one to the real app. The genuine ones (expired, another audience,
 * another account) come from the dev issuer; the forged ones are built by hand from a genuine
 * token's claims, so they differ from an accepted token in exactly one way. JWT layout and the
 * attacks: RFC 7519 and RFC 8725 §2.1 (alg "none", RS256 → HS256 key confusion).
 */
export interface HostileToken {
  /** What is wrong with it, for the test's name. */
  name: string;
  /** The Authorization header to send; undefined sends none. */
  authorization: string | undefined;
  /** What the 401's `reason` must say. */
  reason: RegExp;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (segment: string) => JSON.parse(Buffer.from(segment, 'base64url').toString('utf8')) as Record<string, unknown>;

/** A JWT with this header and payload, signed by `signer` over `header.payload` (RFC 7515 §5.1). */
function jwt(header: Record<string, unknown>, payload: Record<string, unknown>, signer: (input: string) => string): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${signer(input)}`;
}

const hs256 = (secret: string | Buffer) => (input: string) => createHmac('sha256', secret).update(input).digest('base64url');

/** Every token `accepted` must not be enough for, each with the reason the refusal must give. */
export async function hostileTokens(issuer: OidcIssuer, accepted: Omit<SignRequest, 'ttlSeconds'>): Promise<HostileToken[]> {
  const genuine = await issuer.sign(accepted);
  const [headerPart, payloadPart] = genuine.split('.') as [string, string, string];
  const header = decode(headerPart);
  const claims = decode(payloadPart);
  const publicPem = issuer.pemCerts()[issuer.kid]!;
  // Keys of the attacker's own; signing under the issuer's kid is what a forger would try.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rs256 = (input: string) => sign('sha256', Buffer.from(input), privateKey).toString('base64url');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const es256 = (input: string) => sign('sha256', Buffer.from(input), { key: ec.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  const otherAccount = await issuer.sign({ ...accepted, email: 'intruder@attacker.iam.gserviceaccount.com' });
  const bearer = (token: string) => `Bearer ${token}`;

  return [
    { name: 'no Authorization header', authorization: undefined, reason: /missing Authorization: Bearer/ },
    { name: 'a Basic credential', authorization: `Basic ${Buffer.from('push:secret').toString('base64')}`, reason: /missing Authorization: Bearer/ },
    { name: 'a bearer that is not a JWT', authorization: bearer('not-a-jwt'), reason: /not a JWT/ },
    { name: 'an unsigned token (alg none)', authorization: bearer(jwt({ ...header, alg: 'none' }, claims, () => '')), reason: /alg "none" is refused/ },
    { name: 'an unsigned token (alg None)', authorization: bearer(jwt({ ...header, alg: 'None' }, claims, () => '')), reason: /alg "None" is refused/ },
    { name: 'a token without alg', authorization: bearer(jwt({ kid: header.kid, typ: 'JWT' }, claims, () => '')), reason: /alg "" is refused/ },
    { name: 'HS256 keyed with the issuer\'s public key', authorization: bearer(jwt({ ...header, alg: 'HS256' }, claims, hs256(publicPem))), reason: /alg "HS256" is refused/ },
    { name: 'HS256 keyed with a guessed secret', authorization: bearer(jwt({ ...header, alg: 'HS256' }, claims, hs256(randomBytes(32)))), reason: /alg "HS256" is refused/ },
    // google-auth-library has an ES256 branch (for IAP); Pub/Sub and Scheduler never sign so.
    { name: 'ES256 under the issuer\'s kid', authorization: bearer(jwt({ ...header, alg: 'ES256' }, claims, es256)), reason: /alg "ES256" is refused/ },
    { name: 'RS256 with the signature stripped', authorization: bearer(`${headerPart}.${payloadPart}.`), reason: /signature does not verify/ },
    { name: 'RS256 by another key under the issuer\'s kid', authorization: bearer(jwt(header, claims, rs256)), reason: /signature does not verify/ },
    { name: 'RS256 by a key the issuer does not publish', authorization: bearer(jwt({ ...header, kid: randomBytes(20).toString('hex') }, claims, rs256)), reason: /key \(kid\) the issuer does not publish/ },
    {
      // Another account's genuine token with this account's email pasted into its payload.
      name: 'a genuine token whose payload was altered',
      authorization: bearer([otherAccount.split('.')[0], payloadPart, otherAccount.split('.')[2]].join('.')),
      reason: /signature does not verify/,
    },
    // google-auth-library allows 300 s of clock skew past `exp`.
    { name: 'an expired token', authorization: bearer(await issuer.sign({ ...accepted, ttlSeconds: -600 })), reason: /expired/ },
    { name: 'a token for another audience', authorization: bearer(await issuer.sign({ ...accepted, audience: 'https://elsewhere.example/push' })), reason: /audience is not this endpoint/ },
    { name: 'a token for another service account', authorization: bearer(otherAccount), reason: /intruder@attacker\.iam\.gserviceaccount\.com is not the service account/ },
  ];
}
