import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { SignJWT, exportJWK, exportSPKI, generateKeyPair, type JWK } from 'jose';
import { closeServer, listen } from '@strata/runtime';

/**
 * A local stand-in for Google's token issuer: it signs ID tokens shaped like the ones Pub/Sub push and
 * Cloud Scheduler attach (`Authorization: Bearer <jwt>`) and serves the verification keys the way
 * https://www.googleapis.com/oauth2/v1/certs (PEM map) and /oauth2/v3/certs (JWKS) do, so
 * google-auth-library's OAuth2Client verifies them unchanged when pointed at `certsUrl`.
 * Token format: https://cloud.google.com/pubsub/docs/authenticate-push-subscriptions
 */
export interface SignRequest {
  /** `aud`: the push subscription's oidcToken.audience, or the push endpoint URL. */
  audience: string;
  /** The service account the token is issued for (`email`). */
  email: string;
  /** Lifetime; Google's tokens live one hour. */
  ttlSeconds?: number;
}

export interface JwkSet {
  keys: JWK[];
}

export interface OidcIssuer {
  readonly kid: string;
  sign(request: SignRequest): Promise<string>;
  jwks(): JwkSet;
  /** `{ kid: "-----BEGIN PUBLIC KEY-----…" }`, the body of Google's v1 certs endpoint. */
  pemCerts(): Record<string, string>;
  /** node:http handler for GET /oauth2/v1/certs (PEM map) and GET /oauth2/v3/certs (JWKS); 404 otherwise. */
  handler(req: IncomingMessage, res: ServerResponse): void;
}

export const GOOGLE_ISSUER = 'https://accounts.google.com';
export const PEM_CERTS_PATH = '/oauth2/v1/certs';
export const JWKS_PATH = '/oauth2/v3/certs';
const DEFAULT_TTL_SECONDS = 3600;
// Google answers its certs endpoints with a cache lifetime; google-auth-library honours max-age.
const CERTS_CACHE_CONTROL = 'public, max-age=300';

/** Google gives a service account a stable numeric `sub`; derive one from the email so it is stable too. */
function subjectOf(email: string): string {
  const digest = createHash('sha256').update(email).digest();
  return (BigInt(`0x${digest.subarray(0, 9).toString('hex')}`) % 10n ** 21n).toString().padStart(21, '1');
}

export async function createOidcIssuer(): Promise<OidcIssuer> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(20).toString('hex');
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  const pem = await exportSPKI(publicKey);

  const jwks = (): JwkSet => ({ keys: [{ ...jwk }] });
  const pemCerts = (): Record<string, string> => ({ [kid]: pem });

  return {
    kid,
    jwks,
    pemCerts,
    async sign({ audience, email, ttlSeconds = DEFAULT_TTL_SECONDS }) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ email, email_verified: true, azp: subjectOf(email) })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(GOOGLE_ISSUER)
        .setAudience(audience)
        .setSubject(subjectOf(email))
        .setIssuedAt(now)
        .setExpirationTime(now + ttlSeconds)
        .sign(privateKey);
    },
    handler(req, res) {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      const body = req.method === 'GET' && path === PEM_CERTS_PATH ? pemCerts() : req.method === 'GET' && path === JWKS_PATH ? jwks() : undefined;
      if (!body) {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': CERTS_CACHE_CONTROL });
      res.end(JSON.stringify(body));
    },
  };
}

export interface ServedCerts {
  /** http://host:port */
  baseUrl: string;
  /** The PEM map (Google's /oauth2/v1/certs), what createOidcVerifier's certsUrl takes. */
  certsUrl: string;
  /** The JWKS (Google's /oauth2/v3/certs). */
  jwksUrl: string;
  close(): Promise<void>;
}

/** Serves the issuer's certs over HTTP on `host:port` (port 0 = a free one). */
export async function serveCerts(
  issuer: OidcIssuer,
  options: { host?: string; port?: number; /** Other routes on the same server; true when it answered. */ routes?: (req: IncomingMessage, res: ServerResponse) => boolean } = {},
): Promise<ServedCerts> {
  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    if (!options.routes?.(req, res)) issuer.handler(req, res);
  });
  const port = await listen(server, options.port ?? 0, host);
  const baseUrl = `http://${host}:${port}`;
  return { baseUrl, certsUrl: `${baseUrl}${PEM_CERTS_PATH}`, jwksUrl: `${baseUrl}${JWKS_PATH}`, close: closeServer(server) };
}
