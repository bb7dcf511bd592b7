import type { RequestHandler, Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { sendError } from '@strata/runtime';
import { authenticatedKey } from './authenticate.js';
import type { Key } from './keys.js';

/**
 * Per-key rate limits (rate-limiter-flexible's RateLimiterMemory: a fixed window of
 * `rate.durationSeconds` holding `rate.points`).
 *
 * Points are events, not requests. What a key costs downstream (Pub/Sub, the writer, GCS, BigQuery)
 * is per event; counting requests would let a producer that batches 500 events per request write
 * 500× more than one that sends them one by one, and would punish exactly the batching the
 * pipeline is built on. The events are known only once the body is parsed, so there are two
 * steps: `admit` before the body is read refuses a key whose window is already spent (a flood
 * costs no body parsing), and `consumeEvents` counts the parsed events.
 *
 * THE LIMIT IS PER INSTANCE. Each Cloud Run instance keeps its own counters in memory, and
 * requests are spread over the instances running, so what a key can write in total is up to
 * `points × instances running`, at most `points × max instances`. To size a key:
 * - the key's ceiling is `points × max-instances` per window: make sure that is a load you accept
 *   to pay for if the key leaks (a browser key is public);
 * - the key's floor, with `n` instances up at its peak, is `points × n`: set
 *   `points ≥ expected peak events per window ÷ n`, with headroom, since Cloud Run adds instances
 *   by concurrency and CPU, not by this key's traffic. With min-instances 1 at quiet times,
 *   one instance must hold the key's whole off-peak rate.
 * An exact global quota needs a shared store (rate-limiter-flexible's RateLimiterRedis on
 * Memorystore), at the cost of a network round trip per request.
 */
export interface RateLimiter {
  /** After authenticate(), before the body is read: 429 when the key's window is spent. */
  admit: RequestHandler;
  /**
   * Counts a request's events against its key once the body is parsed; on `ok: false` answer
   * with {@link sendRateLimited} and publish nothing. Refused events are given back, so they do
   * not count. A batch larger than the whole window costs the whole window: it waits for an
   * empty one instead of being refused forever.
   */
  consumeEvents(key: Key, events: number): Promise<RateResult>;
}

export type RateResult = { ok: true } | { ok: false; retryAfterSeconds: number };

// One limiter per key (each key has its own points and window); the single entry inside it is this.
const ENTRY = 'events';

export function createRateLimiter(): RateLimiter {
  const limiters = new Map<string, RateLimiterMemory>();
  const limiterFor = (key: Key) => {
    let limiter = limiters.get(key.name);
    if (limiter === undefined) {
      limiter = new RateLimiterMemory({ points: key.rate.points, duration: key.rate.durationSeconds });
      limiters.set(key.name, limiter);
    }
    return limiter;
  };

  const admit: RequestHandler = (_req, res, next) => {
    const key = authenticatedKey(res);
    limiterFor(key)
      .get(ENTRY)
      .then((state) => {
        if (state !== null && state.remainingPoints <= 0 && state.msBeforeNext > 0) {
          sendRateLimited(res, key, retryAfterSeconds(state));
          return;
        }
        next();
      }, next);
  };

  const consumeEvents = async (key: Key, events: number): Promise<RateResult> => {
    if (events <= 0) return { ok: true };
    const points = Math.min(events, key.rate.points);
    const limiter = limiterFor(key);
    try {
      await limiter.consume(ENTRY, points);
      return { ok: true };
    } catch (rejection) {
      // consume() rejects with the window's state when over the limit, with an Error otherwise.
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      await limiter.reward(ENTRY, points);
      return { ok: false, retryAfterSeconds: retryAfterSeconds(rejection) };
    }
  };

  return { admit, consumeEvents };
}

function retryAfterSeconds(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}

/** 429 `rate_limited` with `Retry-After` (whole seconds, RFC 9110 §10.2.3), the same from both steps. */
export function sendRateLimited(res: Response, key: Key, retryAfter: number): void {
  res.set('retry-after', String(retryAfter));
  sendError(
    res,
    429,
    'rate_limited',
    `key "${key.name}" has used its ${key.rate.points} events for this ${key.rate.durationSeconds} s window; retry after ${retryAfter} s`,
    { retry_after_seconds: retryAfter },
  );
}
