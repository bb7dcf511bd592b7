/**
 * What to do with ingest's answer to a batch, and how long to wait before trying again. Ingest's
 * answers are in the README's "Sending events" table: 429 `rate_limited` and 503 `unavailable` /
 * `stopping` carry `Retry-After`, and a 503 `unavailable` lists the indexes it did not publish.
 */

export type SendResult =
  | { ok: true }
  /** Try again later; `only` lists the batch indexes still to send (the rest are durable). */
  | { ok: false; retry: true; retryAfterMs?: number; only?: number[] }
  /** Ingest refused the batch for good (401, 403, 400, 413, …): sending it again cannot help. */
  | { ok: false; retry: false; status: number; reason: string };

export interface BackoffPolicy {
  /** The first retry's delay before jitter. */
  baseMs: number;
  /** The longest delay, however many attempts failed. */
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1000, maxMs: 60_000 };

/**
 * Exponential backoff with "equal jitter" (https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/):
 * half the capped exponential delay, plus a random share of the other half. The delay still grows
 * with every failure, while thousands of pages that failed at the same moment spread out.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const cap = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/** `Retry-After` as milliseconds from now: delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null | undefined, now: number = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The wait before the next attempt: never earlier than the server asked, and growing with failures. */
export function retryDelay(attempt: number, retryAfterMs: number | undefined, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  return Math.max(retryAfterMs ?? 0, backoffDelay(attempt, policy, random));
}

/**
 * Maps ingest's status (and, for a 503, its body) to a {@link SendResult}. Retried: 429 and 503, as
 * ingest's contract asks; every other 4xx and 5xx would fail the same way again.
 */
export function classifyResponse(status: number, retryAfter: string | null, body: unknown, now: number = Date.now()): SendResult {
  if (status >= 200 && status < 300) return { ok: true };
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(retryAfter, now);
    const unpublished = (body as { unpublished?: unknown } | null)?.unpublished;
    const only = Array.isArray(unpublished) && unpublished.every((i) => Number.isInteger(i)) ? (unpublished as number[]) : undefined;
    return { ok: false, retry: true, ...(retryAfterMs !== undefined && { retryAfterMs }), ...(only && { only }) };
  }
  const error = (body as { error?: unknown; reason?: unknown } | null) ?? {};
  const reason = typeof error.reason === 'string' ? error.reason : typeof error.error === 'string' ? error.error : `HTTP ${status}`;
  return { ok: false, retry: false, status, reason };
}
