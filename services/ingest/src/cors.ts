import type { RequestHandler } from 'express';
import { sendError } from '@strata/runtime';

/**
 * CORS for the browser keys' origins (https://fetch.spec.whatwg.org/#http-cors-protocol).
 *
 * Hand-written rather than the `cors` package: the whole policy is these few lines, and the
 * package answers an unknown origin's preflight 204 without headers, where we want the shared
 * error body saying why.
 *
 * - The allowed origin is echoed, never `*`, with `Vary: Origin`, so a cache never serves one
 *   origin's answer to another.
 * - No `Access-Control-Allow-Credentials`: keys travel in headers or the query, never cookies.
 * - CORS only decides whether the page may *read* the answer. Whether the key may be used from
 *   this origin is authenticate()'s check, which also covers simple requests (sendBeacon,
 *   text/plain) that the browser sends without a preflight.
 */
export interface Cors {
  /** `OPTIONS /v1/events`: 204 with the CORS headers for an allowed origin, 403 for another. */
  preflight: RequestHandler;
  /** Before authenticate(): an allowed origin can read every answer, 401/403/429 included. */
  headers: RequestHandler;
}

const ALLOW_METHODS = 'POST, OPTIONS';
const ALLOW_HEADERS = 'Content-Type, Content-Encoding, Authorization, X-API-Key, Idempotency-Key';
// Retry-After is not a CORS-safelisted response header: without this an SDK cannot read it on 429/503.
const EXPOSE_HEADERS = 'Retry-After';
// Chromium caps the preflight cache at 7200 s (Firefox at 86400); more would be ignored.
const MAX_AGE_SECONDS = '7200';

export function createCors(origins: readonly string[]): Cors {
  const allowed = new Set(origins);

  const headers: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    // On every answer, with or without Origin: the headers depend on it.
    res.vary('Origin');
    if (origin !== undefined && allowed.has(origin)) {
      res.set('access-control-allow-origin', origin);
      res.set('access-control-expose-headers', EXPOSE_HEADERS);
    }
    next();
  };

  const preflight: RequestHandler = (req, res) => {
    const origin = req.get('origin');
    res.vary('Origin');
    // An OPTIONS without Origin is not a CORS preflight: answer what HTTP asks (RFC 9110 §9.3.7).
    if (origin === undefined) {
      res.set('allow', ALLOW_METHODS).status(204).end();
      return;
    }
    if (!allowed.has(origin)) {
      sendError(res, 403, 'forbidden_origin', `origin ${origin} is not allowed: no key is configured for it (a browser key lists its "origins")`);
      return;
    }
    res.set({
      'access-control-allow-origin': origin,
      'access-control-allow-methods': ALLOW_METHODS,
      'access-control-allow-headers': ALLOW_HEADERS,
      'access-control-max-age': MAX_AGE_SECONDS,
    });
    res.status(204).end();
  };

  return { preflight, headers };
}
