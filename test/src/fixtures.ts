import { randomUUID } from 'node:crypto';

/** A valid user_action as a producer would POST it (with its routing field `log_type`). */
export function makeEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    log_type: 'user_action',
    event: 'product_view',
    ts: '2026-11-21T10:15:30.123456Z',
    user_id: `user-${randomUUID().slice(0, 8)}`,
    session_id: 'session-1',
    source: 'web',
    context: { user_agent: 'Mozilla/5.0', locale: 'de-DE', page: { url: 'https://shop.example/p/42', title: 'Blue mug' } },
    page_url: 'https://shop.example/p/42',
    product_id: 'p-42',
    price: 12.5,
    currency: 'EUR',
    ...overrides,
  };
}

/** The same event as stored: what a backend service publishes straight to Pub/Sub as message data. */
export function makeStoredEvent(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { log_type: _logType, ...event } = makeEvent();
  return { event_id: randomUUID(), received_at: new Date().toISOString(), ...event, ...overrides };
}
