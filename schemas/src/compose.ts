import type { JsonSchema, LogTypeVersion } from './log-type.js';

/**
 * A log type's file holds only its own fields; the envelope (schemas/envelope.json) holds the
 * fields every event shares. `composeSchema` joins them into the one flat JSON Schema that is
 * validated, mapped to columns and compared across versions.
 *
 * Rules a type file must follow (checked here, so a bad file fails at load, in CI and at publish):
 * - it may not redefine an envelope field, except `event`, which it narrows (usually to an enum);
 * - `x-unknown-properties` says what happens to fields the schema does not know:
 *   "reject" (a clear validation error) or "keep" (stored in the `extra` JSON column);
 * - it may not name a field after a partition key (log_type, dt, hr) or `extra`.
 */
export type UnknownPolicy = 'reject' | 'keep';

export const EXTRA_COLUMN = 'extra';

/**
 * The envelope fields the services handle by name (ids, time, dedup, rollups). Defined in
 * envelope.json; a test checks every one is there, so renaming one there breaks loudly.
 */
export const ENVELOPE = {
  eventId: 'event_id',
  event: 'event',
  ts: 'ts',
  receivedAt: 'received_at',
  userId: 'user_id',
  schemaVersion: 'schema_version',
} as const;
export const RESERVED_FIELDS = ['log_type', 'dt', 'hr', EXTRA_COLUMN] as const;
/** Envelope fields Strata fills in (ingest, or the writer for direct publishers): a producer need not send them. */
export const FILLED_BY_STRATA: readonly string[] = [ENVELOPE.eventId, ENVELOPE.receivedAt, ENVELOPE.schemaVersion];
/** Upper bound on top-level fields of any event, unknown ones included: bounds work per event. */
export const MAX_TOP_LEVEL_PROPERTIES = 100;

export function unknownPolicyOf(schema: JsonSchema): UnknownPolicy {
  const policy = schema['x-unknown-properties'];
  if (policy !== 'reject' && policy !== 'keep') {
    throw new Error(`x-unknown-properties must be "reject" or "keep", got ${JSON.stringify(policy)}`);
  }
  return policy;
}

export function composeSchema(envelope: JsonSchema, version: LogTypeVersion): JsonSchema {
  const { logType, version: n, schema } = version;
  const where = `${logType} v${n}`;
  const policy = unknownPolicyOf(schema);
  const own = schema.properties ?? {};
  const envelopeFields = envelope.properties ?? {};
  for (const name of Object.keys(own)) {
    if ((RESERVED_FIELDS as readonly string[]).includes(name)) throw new Error(`${where}: field "${name}" is reserved (partition keys and the extra column)`);
    if (name in envelopeFields && name !== 'event') throw new Error(`${where}: field "${name}" is an envelope field and cannot be redefined`);
  }
  const event = { ...envelopeFields.event, ...own.event };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: schema.$id,
    title: logType,
    description: schema.description,
    'x-log-type': logType,
    'x-version': n,
    'x-unknown-properties': policy,
    type: 'object',
    required: [...new Set([...(envelope.required ?? []), ...(schema.required ?? [])])],
    properties: { ...envelopeFields, ...own, event },
    additionalProperties: policy === 'keep',
    maxProperties: MAX_TOP_LEVEL_PROPERTIES,
  };
}
