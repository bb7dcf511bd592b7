import type { RequestHandler } from 'express';
import { isObject } from '@strata/runtime';
import { DEFAULT_SHAPE_LIMITS, ENVELOPE, FILLED_BY_STRATA, type JsonSchema, type Registry } from '@strata/schemas';
import pkg from '../package.json' with { type: 'json' };
import { ACCEPTED_ENCODINGS } from './body.js';
import { errorResponse, preflight, ref, REFUSALS, RETRY_AFTER } from './openapi-refs.js';
import { SEGMENT_SCHEMAS, segmentPaths } from './openapi-segment.js';

/**
 * The ingest API as an OpenAPI 3.1 document (https://spec.openapis.org/oas/v3.1.0), generated
 * from the schema registry so that the request bodies are the log types' own schemas and can never
 * drift from what the handler validates. openapi.test.ts checks it against the real handler.
 *
 * OpenAPI 3.1's Schema Object is JSON Schema 2020-12 (plus a few OpenAPI keywords such as
 * `discriminator`), which is what the registry holds, so each log type's schema is embedded as
 * it is, changed only where the wire differs from storage (see {@link wireSchema}).
 */

/** What `components.schemas` and `components.responses` hold besides one schema per log type. */
const SCHEMA_NAMES = ['Event', 'EventArray', 'EventBatch', 'FieldError', 'Accepted', 'Error', 'Health', ...(Object.keys(SEGMENT_SCHEMAS) as Array<keyof typeof SEGMENT_SCHEMAS>)] as const;

const PII_NOTE: Record<string, string> = {
  hash: 'PII: stored as a keyed HMAC-SHA256 (joins across tables, never readable).',
  redact: 'PII: replaced before storage.',
  drop: 'PII: accepted, never stored.',
};

// Keywords whose value is a map of name → schema, one schema, or a list of schemas (JSON Schema
// 2020-12 applicators). Everything else is copied as it is: `enum`, `const`, `examples` are data.
const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'dependentSchemas']);
const SCHEMA_ONE = new Set(['items', 'additionalProperties', 'unevaluatedProperties', 'unevaluatedItems', 'contains', 'propertyNames', 'not', 'if', 'then', 'else']);
const SCHEMA_LIST = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);

/**
 * Drops Strata's `x-` annotations (x-log-type, x-version, x-unknown-properties, x-column, x-pii).
 * OpenAPI 3.1 would allow them, but they describe storage, not the wire, and ajv, code generators
 * and linters in strict mode refuse keywords they do not know; a document every validator accepts
 * as it is beats one that needs Strata's keyword list. What a producer should know of `x-pii` is
 * said in the field's description instead. Field names are never touched, even ones starting with
 * `x-`, because the walk knows which keywords hold schemas.
 */
export function stripAnnotations(schema: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [keyword, value] of Object.entries(schema)) {
    if (keyword.startsWith('x-')) continue;
    if (SCHEMA_MAPS.has(keyword) && isSchemaMap(value)) {
      out[keyword] = Object.fromEntries(Object.entries(value).map(([name, s]) => [name, stripAnnotations(s)]));
    } else if (SCHEMA_ONE.has(keyword) && isSchema(value)) {
      out[keyword] = stripAnnotations(value);
    } else if (SCHEMA_LIST.has(keyword) && Array.isArray(value)) {
      out[keyword] = value.map((s: unknown) => (isSchema(s) ? stripAnnotations(s) : s));
    } else {
      out[keyword] = value;
    }
  }
  const pii = schema['x-pii'];
  if (pii !== undefined) out.description = [schema.description, PII_NOTE[pii]].filter(Boolean).join(' ');
  return out;
}

const isSchema = isObject as (v: unknown) => v is JsonSchema;
const isSchemaMap = (v: unknown): v is Record<string, JsonSchema> => isSchema(v) && Object.values(v).every(isSchema);

/**
 * One log type's latest schema as a producer sends it: the stored schema (envelope + own fields)
 * plus `log_type` as a const, with the fields ingest fills made optional. `maxProperties` counts
 * `log_type` too, since ingest removes it before the stored schema's bound applies.
 */
export function wireSchema(registry: Registry, logType: string): JsonSchema {
  const version = registry.latestVersion(logType);
  if (version === undefined) throw new Error(`unknown log type ${logType}`);
  // $schema: the document's dialect (OpenAPI 3.1's, a superset of 2020-12) applies to components.
  // $id: it names the stored form; kept, it would also rebase every $ref inside the document.
  const { $schema: _s, $id: _id, ...stored } = stripAnnotations(registry.schema(logType, version));
  const properties = { ...(stored.properties ?? {}) };
  const note = (field: string, text: string, extra: JsonSchema = {}) => {
    const p = properties[field];
    if (p) properties[field] = { ...p, ...extra, description: [p.description, text].filter(Boolean).join(' ') };
  };
  note(ENVELOPE.eventId, 'Optional on the wire: send your own to make retries idempotent; never null.');
  note(ENVELOPE.receivedAt, 'Set by ingest; a value sent is replaced.', { readOnly: true });
  note(ENVELOPE.schemaVersion, `Optional: the latest (${version}, this schema) when absent. A pinned older version is validated against that version's schema.`);
  note(ENVELOPE.ts, 'Outside the time window (by default 7 days before to 1 hour after arrival) the event is rejected into quarantine.');
  return {
    ...stored,
    title: logType,
    description: [stored.description, `Schema version ${version}. ${unknownFieldsNote(registry.schema(logType, version))}`].filter(Boolean).join(' '),
    required: ['log_type', ...(stored.required ?? []).filter((f) => !FILLED_BY_STRATA.includes(f))],
    properties: { log_type: { const: logType, description: 'The log type; routes the event to its schema and table.' }, ...properties },
    ...(typeof stored.maxProperties === 'number' && { maxProperties: stored.maxProperties + 1 }),
  };
}

function unknownFieldsNote(schema: JsonSchema): string {
  return schema['x-unknown-properties'] === 'keep'
    ? `Unknown fields are kept (in the extra column), bounded to strings of ${DEFAULT_SHAPE_LIMITS.maxStringLength} characters and ${DEFAULT_SHAPE_LIMITS.maxDepth} levels of nesting.`
    : 'Unknown fields are rejected.';
}

const EVENT_IDS: JsonSchema = {
  type: 'array',
  items: { type: ['string', 'null'] },
  description: 'Index-aligned with the request: the id of each accepted event, null for one that was not.',
};
const INDEXED_ERRORS: JsonSchema = { type: 'array', items: { $ref: '#/components/schemas/FieldError' } };

export function buildOpenApi(registry: Registry): object {
  const logTypes = registry.logTypes();
  const schemas: Record<string, JsonSchema> = {};
  for (const logType of logTypes) {
    // Component names are ours and PascalCase; log types are snake_case, but say so if one clashes.
    if ((SCHEMA_NAMES as readonly string[]).includes(logType)) throw new Error(`log type ${logType} clashes with an OpenAPI component name`);
    schemas[logType] = wireSchema(registry, logType);
  }
  const versions = logTypes.map((t) => `${t} v${registry.latestVersion(t)}`).join(', ');

  Object.assign(schemas, {
    Event: {
      type: 'object',
      description: 'One event: its `log_type` picks the schema it must match.',
      oneOf: logTypes.map(ref),
      // Implicit mapping: each value of log_type is the name of its component.
      discriminator: { propertyName: 'log_type' },
    },
    EventArray: { type: 'array', minItems: 1, items: ref('Event'), description: 'At most INGEST_MAX_EVENTS events (500 by default).' },
    EventBatch: {
      type: 'object',
      description:
        'Fields hoisted to the batch: every event gets the fields of `common` it does not set itself (an own field wins, an explicit null included), and `context` merges one level deep. Each merged event must be an Event.',
      required: ['events'],
      additionalProperties: false,
      properties: {
        common: { type: 'object', description: 'Fields every event of the batch shares, e.g. session_id and context.user_agent.' },
        events: { type: 'array', minItems: 1, items: { type: 'object' } },
      },
    },
    FieldError: {
      type: 'object',
      required: ['path', 'message'],
      properties: {
        index: { type: 'integer', description: 'The event in the request (-1: the request as a whole).' },
        path: { type: 'string', description: "JSON pointer into the event; '' for the event itself." },
        message: { type: 'string' },
      },
    },
    Accepted: {
      type: 'object',
      required: ['accepted', 'event_ids', 'rejected'],
      properties: {
        accepted: { type: 'integer', minimum: 0, description: 'Events durable in Pub/Sub.' },
        event_ids: EVENT_IDS,
        rejected: {
          type: 'array',
          description: "Invalid events, kept in the lake's quarantine with these reasons so they can be replayed after a fix.",
          items: {
            type: 'object',
            required: ['index', 'errors'],
            properties: { index: { type: 'integer', minimum: 0 }, errors: { type: 'array', minItems: 1, items: ref('FieldError') } },
          },
        },
      },
    },
    Error: {
      type: 'object',
      description: 'The one error body of every Strata service. `error` is a stable code for programs; `reason` says what is wrong and where, for a person. Other fields are details.',
      required: ['error', 'reason'],
      properties: { error: { type: 'string', pattern: '^[a-z][a-z0-9_]*$' }, reason: { type: 'string' } },
    },
    // Nothing but ok: /healthz is unauthenticated, so it tells no one anything about the service.
    Health: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } }, additionalProperties: false },
    ...SEGMENT_SCHEMAS,
  } satisfies Record<(typeof SCHEMA_NAMES)[number], JsonSchema>);

  const events = {
    summary: 'Send events',
    operationId: 'sendEvents',
    description: [
      `Validates every event against its log type's schema (${versions}) and publishes the valid ones to Pub/Sub; invalid ones go to quarantine with their reasons and are listed in \`rejected\`. A 2xx means every accepted event is durable.`,
      'Ingest assigns `event_id` when absent, sets `received_at`, and sets `source` to the key\'s name unless the event has one.',
      'Bodies of at most 1 MiB on the wire and 10 MiB decoded (defaults). Retry 429 and 503 after Retry-After; send your own `event_id`s so that retries are deduplicated.',
    ].join('\n\n'),
    security: [{ bearer: [] }, { apiKeyHeader: [] }, { apiKeyQuery: [] }, { basic: [] }],
    parameters: [
      { name: 'atomic', in: 'query', schema: { type: 'boolean' }, description: 'true: all or nothing; one invalid event answers 400 invalid_events and nothing is published.' },
      { name: 'Strata-Atomic', in: 'header', schema: { type: 'boolean' }, description: 'The same as ?atomic=true.' },
      {
        name: 'Content-Encoding',
        in: 'header',
        schema: { enum: [...ACCEPTED_ENCODINGS, 'x-gzip'] },
        description: 'gzip or deflate (zlib or raw); one coding only. The decoded size is capped, so a gzip bomb gets 413.',
      },
      { name: 'Origin', in: 'header', schema: { type: 'string' }, description: 'Sent by browsers: only a key listing this exact origin may be used from the page.' },
    ],
    requestBody: {
      required: true,
      description:
        'Also accepted: `application/*+json`; `application/ndjson`, `application/jsonl`, `application/x-jsonlines` as NDJSON; no Content-Type (read as text/plain). Charset, when given, must be UTF-8.',
      content: {
        'application/json': {
          schema: {
            description: 'A JSON array of events, a batch object, or one event object.',
            anyOf: [ref('EventArray'), ref('EventBatch'), ref('Event')],
          },
        },
        'application/x-ndjson': {
          schema: { type: 'string', description: 'One Event as JSON per line; blank lines are skipped.' },
        },
        'text/plain': {
          schema: { type: 'string', description: 'What navigator.sendBeacon sends for a string: JSON (as application/json) or NDJSON, told apart by content.' },
        },
      },
    },
    responses: {
      '202': {
        description: 'Every accepted event is durable in Pub/Sub; rejected ones are in quarantine.',
        content: { 'application/json': { schema: ref('Accepted') } },
      },
      ...REFUSALS,
    },
  };

  return {
    openapi: '3.1.0',
    info: {
      title: 'Strata ingest',
      version: pkg.version,
      description: `The HTTP front door of Strata's event pipeline. Request bodies are generated from the schema registry: ${versions}.`,
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    // No servers: they default to where this document is served from, which is the service itself.
    paths: {
      '/v1/events': { post: events, options: preflight('preflightEvents', '/v1/events') },
      ...segmentPaths(),
      '/healthz': {
        get: {
          summary: 'Health',
          description: 'For probes: needs no key and answers only `{"ok":true}`, or `{"ok":false}` with 503 while the instance shuts down.',
          operationId: 'healthz',
          security: [],
          responses: {
            '200': { description: 'Serving: `{"ok":true}`.', content: { 'application/json': { schema: ref('Health') } } },
            '503': { description: 'Shutting down: `{"ok":false}`.', content: { 'application/json': { schema: ref('Health') } } },
          },
        },
      },
      '/openapi.json': {
        get: {
          summary: 'This document',
          operationId: 'openapi',
          security: [],
          responses: { '200': { description: 'The OpenAPI 3.1 document, for the schemas in force.', content: { 'application/json': { schema: { type: 'object' } } } } },
        },
      },
    },
    components: {
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'Authorization: Bearer <key>.' },
        basic: { type: 'http', scheme: 'basic', description: 'The key as the user name, no password: what Segment SDKs send (base64 of `<write key>:`).' },
        apiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        apiKeyQuery: {
          type: 'apiKey',
          in: 'query',
          name: 'key',
          description: 'For navigator.sendBeacon, which cannot set headers (`api_key` is read too). Request logs redact it.',
        },
      },
      headers: {
        RetryAfter: { description: 'Seconds to wait before retrying.', required: true, schema: { type: 'integer', minimum: 1 } },
      },
      responses: {
        BadRequest: errorResponse(
          'The body cannot be read (as events on /v1/events, as a call or batch on the Segment routes), or (/v1/events with atomic) an event is invalid.',
          ['invalid_events', 'invalid_request', 'invalid_json', 'invalid_ndjson', 'invalid_batch', 'invalid_body', 'invalid_utf8', 'invalid_encoding', 'empty_body', 'request_aborted'],
          { errors: INDEXED_ERRORS, line: { type: 'integer' }, offset: { type: 'integer' } },
        ),
        Unauthenticated: errorResponse('No key, an unknown key, a malformed Authorization header, or different keys in two places (a header and `writeKey`).', ['unauthenticated']),
        Forbidden: errorResponse('The key may not be used from this page, or may not write this log type.', ['forbidden_origin', 'forbidden_log_type'], {
          key: { type: 'string' },
          index: { type: 'integer' },
        }),
        PayloadTooLarge: errorResponse('The body, what it inflates to, or one event is over the limit.', ['payload_too_large', 'event_too_large'], {
          limit: { type: 'integer' },
          errors: INDEXED_ERRORS,
        }),
        UnsupportedMediaType: errorResponse('A content type, encoding or charset ingest does not read.', ['unsupported_media_type', 'unsupported_encoding', 'unsupported_charset'], {
          accepted: { type: 'array', items: { type: 'string' } },
        }),
        RateLimited: errorResponse("The key's events for this window are spent (per instance).", ['rate_limited'], { retry_after_seconds: { type: 'integer', minimum: 1 } }, { 'Retry-After': RETRY_AFTER }),
        Internal: errorResponse('A bug; see the service logs.', ['internal']),
        Unavailable: errorResponse(
          'Pub/Sub refused some or all messages (`unavailable`: the events not in `unpublished` are durable; retry with `event_ids`), the instance is stopping, or (/v1/events, with worker threads) its workers are still preparing earlier requests (`busy`: nothing was accepted).',
          ['unavailable', 'stopping', 'busy'],
          { published: { type: 'integer', minimum: 0 }, event_ids: EVENT_IDS, unpublished: { type: 'array', items: { type: 'integer', minimum: 0 } } },
          { 'Retry-After': RETRY_AFTER },
        ),
      },
    },
  };
}

/**
 * GET /openapi.json. The registry can change while the service runs (versions published to
 * PostgreSQL), so the document follows `registry.current()`; it is built once per registry object
 * (a new version is a new object) and the WeakMap lets a replaced registry's document be collected.
 */
export function serveOpenApi(registry: { current(): Promise<Registry> }): RequestHandler {
  const built = new WeakMap<Registry, object>();
  return async (_req, res) => {
    const current = await registry.current();
    let doc = built.get(current);
    if (doc === undefined) {
      doc = buildOpenApi(current);
      built.set(current, doc);
    }
    res.json(doc);
  };
}
