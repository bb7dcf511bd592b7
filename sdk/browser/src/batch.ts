/**
 * The body of one request: ingest's batch object `{common, events}`, whose `common` fields ingest
 * merges into every event (an event's own field wins; `context` merges one level deep; see
 * services/ingest/src/body.ts `mergeCommon`). Fields every event of the batch carries with the same
 * value (anonymous and session id, user agent, page) are sent once instead of twenty times.
 */

export type WireEvent = Record<string, unknown>;

export interface BatchBody {
  common?: WireEvent;
  events: WireEvent[];
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

// Never shared, so never worth comparing.
const NEVER_HOISTED = new Set(['event_id', 'ts']);

/**
 * Moves to `common` each field that every event has with an equal value; for `context`, each of
 * its fields, since ingest merges `context` one level deep. A field some event lacks stays put:
 * `common` would add it to that event. The events passed in are not changed.
 */
export function hoistCommon(events: readonly WireEvent[]): BatchBody {
  if (events.length < 2) return { events: [...events] };
  const [first, ...rest] = events as [WireEvent, ...WireEvent[]];
  const same = (a: unknown, b: unknown) => a === b || (typeof a === 'object' && JSON.stringify(a) === JSON.stringify(b));
  const common: WireEvent = {};
  const commonContext: WireEvent = {};
  for (const [key, value] of Object.entries(first)) {
    if (NEVER_HOISTED.has(key) || value === undefined) continue;
    if (key === 'context' && isPlainObject(value)) {
      for (const [field, fieldValue] of Object.entries(value)) {
        if (fieldValue === undefined) continue;
        if (rest.every((e) => isPlainObject(e.context) && Object.hasOwn(e.context, field) && same(e.context[field], fieldValue))) commonContext[field] = fieldValue;
      }
      continue;
    }
    if (rest.every((e) => Object.hasOwn(e, key) && same(e[key], value))) common[key] = value;
  }
  if (Object.keys(commonContext).length > 0) common.context = commonContext;
  if (Object.keys(common).length === 0) return { events: [...events] };

  return {
    common,
    events: events.map((event) => {
      const own: WireEvent = {};
      for (const [key, value] of Object.entries(event)) {
        if (key === 'context' && isPlainObject(value)) {
          const context = Object.fromEntries(Object.entries(value).filter(([field]) => !Object.hasOwn(commonContext, field)));
          if (Object.keys(context).length > 0) own.context = context;
        } else if (!Object.hasOwn(common, key)) own[key] = value;
      }
      return own;
    }),
  };
}

export function encodeBatch(events: readonly WireEvent[]): string {
  return JSON.stringify(hoistCommon(events));
}

const encoder = new TextEncoder();
export const utf8Length = (text: string): number => encoder.encode(text).length;
