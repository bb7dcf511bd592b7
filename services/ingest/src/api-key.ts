import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

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
      res.status(401).json({ error: 'unauthenticated', reason: 'missing API key (X-API-Key header or api_key query parameter)' });
      return;
    }
    const candidate = digest(presented);
    if (!accepted.some((key) => timingSafeEqual(key, candidate))) {
      res.status(401).json({ error: 'unauthenticated', reason: 'unknown API key' });
      return;
    }
    next();
  };
}
