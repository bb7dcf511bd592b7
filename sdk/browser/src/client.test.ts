import { describe, expect, it } from 'vitest';
import { createClient, StrataOptionsError, type Client } from './client.js';

// Options are checked before the client touches the page, so these run in Node.
describe('createClient options', () => {
  it('names the option that is wrong', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ endpoint: 'ingest.example', key: 'k' }, /option endpoint/],
      [{ endpoint: 'https://ingest.example', key: '' }, /option key/],
      [{ endpoint: 'https://ingest.example', key: 'k', common: [] }, /option common/],
      [{ endpoint: 'https://ingest.example', key: 'k', parentOrigin: 'https://pub.example/page' }, /option parentOrigin/],
      [{ endpoint: 'https://ingest.example', key: 'k', parentOrigin: ['https://*.example'] }, /option parentOrigin/],
      [{ endpoint: 'https://ingest.example', key: 'k', maxBatchEvents: 501 }, /option maxBatchEvents must be an integer from 1 to 500/],
      [{ endpoint: 'https://ingest.example', key: 'k', flushIntervalMs: 1.5 }, /option flushIntervalMs/],
    ];
    for (const [options, message] of bad) {
      expect(() => createClient(options as Parameters<typeof createClient>[0])).toThrow(StrataOptionsError);
      expect(() => createClient(options as Parameters<typeof createClient>[0])).toThrow(message);
    }
  });
});

// Compile-time checks (npm run typecheck): track() takes the generated types. Never called.
export function typedTrack(client: Client): void {
  client.track('impression', { event: 'impression', publisher_id: 'p', link_url: 'https://x.example', placement: 'inline', visible_ms: 1200 });
  client.track('user_action', { event: 'page_view', ts: '2026-01-01T00:00:00Z', page_url: 'https://shop.example/' });
  // @ts-expect-error not an event of user_action
  client.track('user_action', { event: 'impression' });
  // @ts-expect-error impression requires link_url and placement
  client.track('impression', { event: 'impression', publisher_id: 'p' });
  // @ts-expect-error placement is inline or widget
  client.track('impression', { event: 'click', publisher_id: 'p', link_url: 'u', placement: 'sidebar' });
  // @ts-expect-error not a log type
  client.track('page_views', { event: 'page_view' });
}
