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

export function createOidcVerifier(config: OidcConfig): OidcVerifier {
  const client = new OAuth2Client(
    config.certsUrl ? { endpoints: { oauth2FederatedSignonPemCertsUrl: config.certsUrl } } : {},
  );
  return {
    async verify(authorization) {
      const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? '');
      if (!match?.[1]) return { ok: false, reason: 'missing Authorization: Bearer token' };
      let payload;
      try {
        const ticket = await client.verifyIdToken({ idToken: match[1], audience: config.audience });
        payload = ticket.getPayload();
      } catch (err) {
        return { ok: false, reason: `invalid token: ${(err as Error).message}` };
      }
      if (!payload?.email) return { ok: false, reason: 'token has no email claim' };
      if (payload.email !== config.serviceAccountEmail) {
        return { ok: false, reason: `token email ${payload.email} is not ${config.serviceAccountEmail}` };
      }
      if (payload.email_verified === false) return { ok: false, reason: 'token email is not verified' };
      return { ok: true, email: payload.email };
    },
  };
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
