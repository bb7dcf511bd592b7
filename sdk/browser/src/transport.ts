import { utf8Length } from './batch.js';
import { classifyResponse, type SendResult } from './retry.js';
import type { Transport } from './sender.js';

/**
 * Ingest's `POST /v1/events` from a page. `fetch` sends the key as `Authorization: Bearer` (one
 * CORS preflight, cached for 2 h) and reads the answer; `sendBeacon` cannot set headers, so it
 * sends the key as `?key=` and the body as text/plain, which ingest reads as JSON (README,
 * "Sending events"). Ingest accepts either only from an origin the key lists.
 */

// keepalive lets a request started while the page unloads finish, within a 64 KiB budget per page
// (https://fetch.spec.whatwg.org/#http-network-or-cache-fetch, "inflight keepalive bytes").
const KEEPALIVE_MAX_BYTES = 64 * 1024;

export interface TransportOptions {
  /** Ingest's `/v1/events` URL. */
  url: string;
  key: string;
  fetch?: typeof fetch;
  sendBeacon?: (url: string, body: string) => boolean;
}

export function eventsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/v1/events')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/v1/events`;
  return url.toString();
}

export function createTransport({ url, key, fetch: fetchFn = (...args) => fetch(...args), sendBeacon }: TransportOptions): Transport {
  const beaconUrl = new URL(url);
  beaconUrl.searchParams.set('key', key);
  return {
    async post(body): Promise<SendResult> {
      let res: Response;
      try {
        res = await fetchFn(url, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body,
          credentials: 'omit',
          keepalive: utf8Length(body) <= KEEPALIVE_MAX_BYTES,
        });
      } catch {
        // Offline, DNS, a refused connection, CORS: all look alike from a page, and all may pass.
        return { ok: false, retry: true };
      }
      // Only a 503 body says which events are still to send; other bodies only give a reason.
      let answer: unknown = null;
      if (res.status >= 400) answer = await res.json().catch(() => null);
      return classifyResponse(res.status, res.headers.get('retry-after'), answer);
    },
    beacon(body) {
      if (!sendBeacon) return false;
      try {
        return sendBeacon(beaconUrl.toString(), body);
      } catch {
        return false;
      }
    },
  };
}
