import { describe, expect, it } from 'vitest';
import { hoistCommon } from './batch.js';

// What ingest does with a batch object (services/ingest/src/body.ts mergeCommon), to check the round trip.
const merge = (common: Record<string, unknown>, event: Record<string, unknown>) => {
  const merged = { ...common, ...event };
  if (common.context || event.context) merged.context = { ...(common.context as object), ...(event.context as object) };
  return merged;
};

const event = (n: number, overrides: Record<string, unknown> = {}) => ({
  log_type: 'impression',
  event_id: `e${n}`,
  ts: `2026-01-01T00:00:0${n}Z`,
  anonymous_id: 'a1',
  session_id: 's1',
  context: { user_agent: 'UA', page: { url: 'https://pub.example/a' } },
  link_url: `https://x.example/${n}`,
  ...overrides,
});

describe('hoistCommon', () => {
  it('sends the fields every event shares once, in common, and ingest rebuilds every event', () => {
    const events = [event(1), event(2), event(3)];
    const body = hoistCommon(events);
    expect(body.common).toEqual({ log_type: 'impression', anonymous_id: 'a1', session_id: 's1', context: { user_agent: 'UA', page: { url: 'https://pub.example/a' } } });
    expect(body.events[0]).toEqual({ event_id: 'e1', ts: '2026-01-01T00:00:01Z', link_url: 'https://x.example/1' });
    expect(body.events.map((e) => merge(body.common!, e))).toEqual(events);
  });

  it('keeps a field on the events when one event lacks it or differs, per context field too', () => {
    const events = [event(1), event(2, { session_id: 's2', context: { user_agent: 'UA', page: { url: 'https://pub.example/b' } } }), event(3)];
    const body = hoistCommon(events);
    expect(body.common).toEqual({ log_type: 'impression', anonymous_id: 'a1', context: { user_agent: 'UA' } });
    expect(body.events[1]).toMatchObject({ session_id: 's2', context: { page: { url: 'https://pub.example/b' } } });
    expect(body.events.map((e) => merge(body.common!, e))).toEqual(events);

    const { user_agent: _dropped, ...contextWithoutAgent } = event(2).context;
    const missing = [event(1), { ...event(2), context: contextWithoutAgent }];
    const hoisted = hoistCommon(missing);
    expect(hoisted.common?.context).toEqual({ page: { url: 'https://pub.example/a' } });
    expect(hoisted.events.map((e) => merge(hoisted.common!, e))).toEqual(missing);
  });

  it('leaves a single event alone, and never changes the events passed in', () => {
    expect(hoistCommon([event(1)])).toEqual({ events: [event(1)] });
    const events = [event(1), event(2)];
    const before = JSON.stringify(events);
    hoistCommon(events);
    expect(JSON.stringify(events)).toBe(before);
  });
});
