import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { sendError } from '@strata/runtime';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Checks the producer's API key: `X-API-Key` header, or the `api_key` query parameter for
 * navigator.sendBeacon, which cannot set headers. Compared in constant time.
 */
export function requireApiKey(keys: string[]): RequestHandler {
  const accepted = keys.map(digest);
  return (req, res, next) => {
    const presented = req.get('x-api-key') ?? (typeof req.query.api_key === 'string' ? req.query.api_key : undefined);
    if (!presented) {
      sendError(res, 401, 'unauthenticated', 'missing API key (X-API-Key header or api_key query parameter)');
      return;
    }
    const candidate = digest(presented);
    if (!accepted.some((key) => timingSafeEqual(key, candidate))) {
      sendError(res, 401, 'unauthenticated', 'unknown API key');
      return;
    }
    next();
  };
}
