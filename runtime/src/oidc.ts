import { OAuth2Client } from 'google-auth-library';
import type { RequestHandler } from 'express';
import { sendError } from './http-errors.js';

/**
 * Verifies the Google-signed OIDC tokens that Pub/Sub push and Cloud Scheduler attach as
 * `Authorization: Bearer <jwt>`: signature against Google's certs, issuer, audience, expiry,
 * and the service-account email the subscription or job was configured with.
 * https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
 */
export interface OidcConfig {
  /** The audience configured on the push subscription / scheduler job (usually the endpoint URL). */
  audience: string;
  /** The service account the token must be issued for. */
  serviceAccountEmail: string;
  /** Where the signing certs (PEM, keyed by kid) are served; Google's by default, the local emulator's in dev. */
  certsUrl?: string;
}

export type OidcResult = { ok: true; email: string } | { ok: false; reason: string };

export interface OidcVerifier {
  verify(authorization: string | undefined): Promise<OidcResult>;
}

// Pub/Sub push and Cloud Scheduler sign with Google's RSA keys, always RS256. google-auth-library
// does not look at `alg` (it verifies RSA-SHA256 against the PEM for `kid`, or ECDSA for "ES256"),
// so `none` and HS256 tokens fail only because their signature does not verify. Checking `alg`
// first pins the algorithm explicitly, and a forged token is refused for what it is.
const ALGORITHM = 'RS256';

export function createOidcVerifier(config: OidcConfig): OidcVerifier {
  const client = new OAuth2Client(
    config.certsUrl ? { endpoints: { oauth2FederatedSignonPemCertsUrl: config.certsUrl } } : {},
  );
  return {
    async verify(authorization) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
      if (!match?.[1]) return { ok: false, reason: 'missing Authorization: Bearer token' };
      const token = match[1];
      const alg = algorithmOf(token);
      if (alg === undefined) return { ok: false, reason: 'the bearer token is not a JWT (header.payload.signature)' };
      if (alg !== ALGORITHM) return { ok: false, reason: `token alg ${JSON.stringify(alg)} is refused; only ${ALGORITHM} tokens signed by Google are accepted` };
      let payload;
      try {
        const ticket = await client.verifyIdToken({ idToken: token, audience: config.audience });
        payload = ticket.getPayload();
      } catch (err) {
        return { ok: false, reason: `invalid token: ${describeVerifyError(err as Error)}` };
      }
      if (!payload?.email) return { ok: false, reason: 'token has no email claim' };
      // Naming the caller's account helps whoever misconfigured a subscription; the expected one is
      // configuration an unauthenticated caller has no need to learn.
      if (payload.email !== config.serviceAccountEmail) return { ok: false, reason: `token email ${payload.email} is not the service account this endpoint accepts` };
      // Google's push guide: check email_verified is true, not merely "not false".
      if (payload.email_verified !== true) return { ok: false, reason: 'token email is not verified' };
      return { ok: true, email: payload.email };
    },
  };
}

/** The JWT header's `alg`, '' when it has none, or undefined when the text is not a JWT at all. */
function algorithmOf(token: string): string | undefined {
  const segments = token.split('.');
  if (segments.length !== 3) return undefined;
  try {
    const header: unknown = JSON.parse(Buffer.from(segments[0]!, 'base64url').toString('utf8'));
    if (typeof header !== 'object' || header === null) return undefined;
    const { alg } = header as { alg?: unknown };
    return typeof alg === 'string' ? alg : '';
  } catch {
    return undefined;
  }
}

// google-auth-library's messages end in the whole token or its payload ("Invalid token signature:
// eyJ…"); a 401 says what failed, it does not echo credentials back.
const VERIFY_ERRORS: Array<[RegExp, string]> = [
  [/^Invalid token signature/, 'the signature does not verify with the issuer\'s keys'],
  [/^No pem found for envelope/, 'it is signed with a key (kid) the issuer does not publish'],
  [/^Token used too late/, 'it has expired'],
  [/^Token used too early/, 'it is not valid yet (issued in the future)'],
  [/^Expiration time too far in future/, 'it lives longer than a day'],
  [/^Wrong recipient/, 'its audience is not this endpoint'],
  [/^Invalid issuer/, 'it was not issued by Google'],
];

function describeVerifyError(err: Error): string {
  const message = String(err?.message ?? err);
  const known = VERIFY_ERRORS.find(([pattern]) => pattern.test(message));
  return known ? known[1] : message.split(': ')[0]!;
}

/** Express middleware: 401 with the reason for anything but a valid token. */
export function requireOidc(verifier: OidcVerifier): RequestHandler {
  return (req, res, next) => {
    verifier.verify(req.get('authorization')).then(
      (result) => {
        if (result.ok) return next();
        sendError(res, 401, 'unauthenticated', result.reason);
      },
      next,
    );
  };
}
