import type { JsonSchema } from '@strata/schemas';
import { preflight, ref, REFUSALS } from './openapi-refs.js';
import { SEGMENT_CALLS, SEGMENT_LOG_TYPES, SEGMENT_PATHS, type SegmentCall } from './segment.js';

/**
 * The Segment HTTP Tracking API routes (segment.ts) in the OpenAPI document: what Segment's SDKs
 * send, as the spec describes it (https://segment.com/docs/connections/sources/catalog/libraries/server/http-api/),
 * and what ingest answers. The schemas are Segment's spec; the handler takes more: a call that does
 * not match (no or an unknown `type`, a numeric messageId) is mapped as far as it can be or kept in
 * quarantine, and the request still answers 200, as Segment's own API does.
 */
const ID: JsonSchema = { type: ['string', 'number'], description: 'Numbers are stored as text.' };

export const SEGMENT_SCHEMAS = {
  SegmentCall: {
    type: 'object',
    description: `One Segment call. Lands in ${[...new Set(Object.values(SEGMENT_LOG_TYPES))].join(', ')}; a track lands in another log type when \`properties.log_type\` names it, or when its event name (snake_cased) is listed by exactly one log type that keeps unknown fields and the key may write. Fields ingest does not map are kept in \`extra.segment\`.`,
    properties: {
      type: { enum: [...SEGMENT_CALLS], description: 'Required in a batch item; a single-call route names it.' },
      messageId: { type: 'string', description: 'Becomes `event_id` (hashed when it does not fit one): a retry is deduplicated.' },
      timestamp: { type: 'string', description: 'Becomes `ts`; without it `originalTimestamp` (corrected for the client clock when `sentAt` is given), else the receive time.' },
      originalTimestamp: { type: 'string' },
      sentAt: { type: 'string' },
      userId: ID,
      anonymousId: ID,
      event: { type: 'string', description: 'track: the event name.' },
      name: { type: 'string', description: 'page and screen: the page name.' },
      groupId: ID,
      previousId: ID,
      properties: { type: 'object' },
      traits: { type: 'object' },
      context: { type: 'object', description: 'userAgent, ip, locale and page.url, page.referrer, page.title map to the event context; the rest is kept in `extra.segment`.' },
      integrations: { type: 'object' },
    },
  },
  SegmentBatch: {
    type: 'object',
    required: ['batch'],
    properties: {
      batch: { type: 'array', items: ref('SegmentCall') },
      writeKey: { type: 'string', description: 'The key (analytics.js sends it here, analytics-node here and as Basic auth); with a header carrying a different key the answer is 401.' },
      sentAt: { type: 'string' },
      context: { type: 'object', description: "Applies to every item; an item's own fields win." },
      integrations: { type: 'object' },
    },
  },
  SegmentSuccess: {
    type: 'object',
    required: ['success'],
    properties: { success: { const: true } },
    description: "What Segment answers; invalid calls included (they are in Strata's quarantine).",
  },
} satisfies Record<string, JsonSchema>;

const PASCAL = (route: string) => route[0]!.toUpperCase() + route.slice(1);

function segmentOperation(path: string, route: SegmentCall | 'batch') {
  const short = path !== `/v1/${route}`;
  const id = `segment${PASCAL(route)}${short ? 'Short' : ''}`;
  const body = route === 'batch' ? ref('SegmentBatch') : { allOf: [ref('SegmentCall'), { type: 'object', properties: { writeKey: { type: 'string' } } }] };
  return {
    post: {
      summary: `Segment ${route}${short ? ` (analytics.js's /v1/${route})` : ''}`,
      operationId: id,
      description: [
        `Segment's \`${route}\` ${route === 'batch' ? 'of calls' : 'call'}, mapped onto Strata events and put through the same validation, PII handling and quarantine as POST /v1/events. 200 means every mapped event is durable in Pub/Sub.`,
        'The key may also be sent as `writeKey` in the body. The body is JSON: application/json, or text/plain as analytics.js sends it; gzip and deflate as for /v1/events.',
      ].join('\n\n'),
      // {}: a request may carry its key only as `writeKey` in the body, which no scheme can express.
      security: [{ basic: [] }, { bearer: [] }, { apiKeyHeader: [] }, { apiKeyQuery: [] }, {}],
      requestBody: {
        required: true,
        content: { 'application/json': { schema: body }, 'text/plain': { schema: { type: 'string', description: 'The same JSON.' } } },
      },
      responses: {
        '200': { description: 'Every mapped event is durable; invalid ones are in quarantine.', content: { 'application/json': { schema: ref('SegmentSuccess') } } },
        ...REFUSALS,
      },
    },
    options: preflight(`${id}Preflight`, path),
  };
}

/** Every Segment path ingest serves, long and short. */
export function segmentPaths(): Record<string, ReturnType<typeof segmentOperation>> {
  return Object.fromEntries(SEGMENT_PATHS.map(([path, route]) => [path, segmentOperation(path, route)]));
}
