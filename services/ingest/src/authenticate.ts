import type { Request, RequestHandler, Response } from 'express';
import { isBase64, isObject, sendError } from '@strata/runtime';
import type { Key, KeyRegistry } from './keys.js';

/** Where a key may be presented, in the order they are read. */
type KeySource = 'Authorization' | 'X-API-Key' | '?key' | '?api_key' | 'writeKey';

type Presented = { ok: true; key: string | undefined } | { ok: false; reason: string };

export interface AuthenticateOptions {
  /**
   * Also read the key from the body's `writeKey` (Segment's HTTP API takes it there as well as in
   * Basic auth). The body must have been read before authenticate() runs.
   */
  writeKeyInBody?: boolean;
}

/**
 * Reads the key from `Authorization: Bearer <key>`, `Authorization: Basic` with the key as the user
 * name (what Segment's SDKs send: base64 of `<write key>:`), `X-API-Key`, or `?key=` —
 * navigator.sendBeacon cannot set headers, so browsers sending on page hide need the query.
 * `?api_key=` is what ingest read before keys had identities; it is kept so deployed pages keep
 * working.
 */
function presentedKey(req: Request, options: AuthenticateOptions): Presented {
  const found: Array<[KeySource, string]> = [];
  const authorization = req.get('authorization');
  if (authorization !== undefined) {
    const key = authorizationKey(authorization);
    if (!key.ok) return key;
    found.push(['Authorization', key.key]);
  }
  const header = req.get('x-api-key');
  if (header !== undefined && header !== '') found.push(['X-API-Key', header]);
  for (const [source, name] of [['?key', 'key'], ['?api_key', 'api_key']] as const) {
    const value: unknown = req.query[name];
    if (value === undefined || value === '') continue;
    // `?key=a&key=b` parses to an array: refuse rather than pick one.
    if (typeof value !== 'string') return { ok: false, reason: `the ${name} query parameter must be given once` };
    found.push([source, value]);
  }
  if (options.writeKeyInBody) {
    const writeKey = isObject(req.body) ? req.body.writeKey : undefined;
    if (typeof writeKey === 'string' && writeKey !== '') found.push(['writeKey', writeKey]);
  }
  const distinct = new Set(found.map(([, key]) => key));
  if (distinct.size > 1) {
    return { ok: false, reason: `the request carries different keys in ${found.map(([source]) => source).join(' and ')}; send one key` };
  }
  return { ok: true, key: found[0]?.[1] };
}

/** The key in an Authorization header: a Bearer token, or the user name of Basic credentials (RFC 7617). */
function authorizationKey(header: string): { ok: true; key: string } | { ok: false; reason: string } {
  const bearer = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (bearer) return { ok: true, key: bearer[1]! };
  const basic = /^Basic[ \t]+(\S+)[ \t]*$/i.exec(header);
  const refused = { ok: false, reason: 'the Authorization header must be "Bearer <key>" or "Basic <base64 of key:>" (the key as the user name, as Segment SDKs send it)' } as const;
  if (!basic || !isBase64(basic[1]!)) return refused;
  const credentials = Buffer.from(basic[1]!, 'base64').toString('utf8');
  // The password is ignored: Segment sends the write key as the user name and an empty password.
  const colon = credentials.indexOf(':');
  const user = colon === -1 ? credentials : credentials.slice(0, colon);
  if (user === '') return { ok: false, reason: 'the Basic credentials have an empty user name; send the key as the user name ("<key>:")' };
  return { ok: true, key: user };
}

/**
 * Authenticates a producer by its key, then checks the request's `Origin` header:
 *
 * - No `Origin`: a server-side client (Node fetch, curl, a mobile app). Every key may be used so.
 * - An `Origin`: a web page. Only a browser key — one configured with `origins` — listing that
 *   exact origin may be used; anything else is 403 `forbidden_origin`. Browsers always send
 *   `Origin` on a POST (Fetch standard, "append a request Origin header"), so a page on another
 *   site can neither spend a browser key's rate nor use a server key. CORS alone would not stop
 *   it: `sendBeacon` or a text/plain `fetch` with `?key=` is a "simple" request that the browser
 *   sends without a preflight; CORS only hides the answer. So a server key pasted into a page
 *   fails here, loudly.
 *
 * Why a browser key is not also refused without `Origin`: outside a browser `Origin` is whatever
 * the client writes, so demanding it would cost real clients (the site's own backend, an app,
 * tests) and stop no one. A browser key is public by nature; what protects it is its log types
 * and its rate. `Origin: null` (sandboxed frames; a no-cors sendBeacon from a page whose
 * Referrer-Policy is no-referrer) is never listed, so it is refused.
 *
 * On success `res.locals.key` is the {@link Key} (read it with {@link authenticatedKey}). The key
 * text is never logged or echoed; use {@link redactedUrl} for request logs.
 */
export function authenticate(registry: KeyRegistry, options: AuthenticateOptions = {}): RequestHandler {
  return (req, res, next) => {
    const presented = presentedKey(req, options);
    if (!presented.ok) {
      sendError(res, 401, 'unauthenticated', presented.reason);
      return;
    }
    if (presented.key === undefined) {
      sendError(res, 401, 'unauthenticated', 'missing API key: send "Authorization: Bearer <key>", an X-API-Key header, Basic auth with the key as the user name (Segment), or ?key=<key> (sendBeacon)');
      return;
    }
    const key = registry.lookup(presented.key);
    if (key === undefined) {
      sendError(res, 401, 'unauthenticated', 'unknown API key');
      return;
    }
    const refused = refuseOrigin(key, req.get('origin'));
    if (refused !== undefined) {
      sendError(res, 403, 'forbidden_origin', refused, { key: key.name });
      return;
    }
    res.locals.key = key;
    next();
  };
}

/** Why this Origin may not use the key, or undefined when it may. */
function refuseOrigin(key: Key, origin: string | undefined): string | undefined {
  if (origin === undefined || key.origins?.includes(origin)) return undefined;
  return key.origins === undefined
    ? `key "${key.name}" is a server key and is refused from web pages (Origin: ${origin}); a page needs a browser key listing its origin`
    : `key "${key.name}" may not be used from ${origin}; its origins are ${key.origins.join(', ')}`;
}

/** The key that {@link authenticate} accepted for this request; throws if it did not run (a wiring bug). */
export function authenticatedKey(res: Response): Key {
  const key = res.locals.key as Key | undefined;
  if (key === undefined) throw new Error('authenticatedKey: authenticate() has not run for this request');
  return key;
}

// Any parameter that could carry a secret: the names we read and the ones producers try.
const SECRET_PARAM = /^(?:key|api[_-]?key|token|access[_-]?token)$/i;

/**
 * The request's URL for logs, with the values of key-like query parameters replaced by
 * `REDACTED`. Other parameters are kept byte for byte, so logs still show what was asked.
 */
export function redactedUrl(req: Pick<Request, 'originalUrl'>): string {
  const url = req.originalUrl;
  const at = url.indexOf('?');
  if (at === -1) return url;
  const query = url
    .slice(at + 1)
    .split('&')
    .map((part) => {
      const eq = part.indexOf('=');
      const rawName = eq === -1 ? part : part.slice(0, eq);
      return SECRET_PARAM.test(decodeName(rawName)) ? `${rawName}=REDACTED` : part;
    })
    .join('&');
  return `${url.slice(0, at)}?${query}`;
}

function decodeName(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}
