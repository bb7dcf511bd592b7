import { describe, expect, it } from 'vitest';
import { createTransport, eventsUrl } from './transport.js';

describe('eventsUrl', () => {
  it('adds /v1/events to ingest\'s URL once', () => {
    expect(eventsUrl('https://ingest.example')).toBe('https://ingest.example/v1/events');
    expect(eventsUrl('https://ingest.example/')).toBe('https://ingest.example/v1/events');
    expect(eventsUrl('http://127.0.0.1:8081/v1/events')).toBe('http://127.0.0.1:8081/v1/events');
    expect(() => eventsUrl('ingest.example')).toThrow();
  });
});

describe('createTransport', () => {
  const url = 'https://ingest.example/v1/events';

  it('POSTs JSON with the key as a bearer token, keepalive while small', async () => {
    const calls: Array<[string, RequestInit]> = [];
    const transport = createTransport({
      url,
      key: 'k 1',
      fetch: async (to, init) => {
        calls.push([String(to), init!]);
        return new Response('{"accepted":1}', { status: 202 });
      },
    });
    expect(await transport.post('{"events":[]}')).toEqual({ ok: true });
    expect(calls[0]![0]).toBe(url);
    expect(calls[0]![1]).toMatchObject({ method: 'POST', headers: { authorization: 'Bearer k 1', 'content-type': 'application/json' }, keepalive: true, credentials: 'omit' });
    await transport.post('x'.repeat(70_000));
    expect(calls[1]![1].keepalive).toBe(false);
  });

  it('reads Retry-After and the unpublished indexes of a 503, and retries network failures', async () => {
    const answer = new Response(JSON.stringify({ error: 'unavailable', unpublished: [1] }), { status: 503, headers: { 'retry-after': '2' } });
    expect(await createTransport({ url, key: 'k', fetch: async () => answer }).post('{}')).toEqual({ ok: false, retry: true, retryAfterMs: 2000, only: [1] });
    const offline = createTransport({ url, key: 'k', fetch: async () => Promise.reject(new TypeError('Failed to fetch')) });
    expect(await offline.post('{}')).toEqual({ ok: false, retry: true });
  });

  it('beacons with the key in the query string (sendBeacon cannot set headers)', () => {
    const sent: string[] = [];
    const transport = createTransport({ url, key: 'k&1', sendBeacon: (to, body) => (sent.push(to, body), true) });
    expect(transport.beacon('{"events":[]}')).toBe(true);
    expect(sent).toEqual(['https://ingest.example/v1/events?key=k%261', '{"events":[]}']);
    expect(createTransport({ url, key: 'k' }).beacon('{}')).toBe(false);
    const throwing = createTransport({ url, key: 'k', sendBeacon: () => { throw new TypeError('Illegal invocation'); } });
    expect(throwing.beacon('{}')).toBe(false);
  });
});
