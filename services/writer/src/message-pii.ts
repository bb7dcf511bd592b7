import { isObject } from '@strata/runtime';
import { BATCH_ATTRIBUTES, protectPii, protectStored, protectText, type PiiPolicy, type Registry } from '@strata/schemas';
import type { PushMessage } from './push-message.js';

/**
 * Where the writer applies PII protection, so that it runs exactly once on every copy stored. A
 * message ingest marked `pii_protected` holds protected data already: it is stored as it is
 * (hashing again would change every hash). Any other message comes from a direct publisher and is
 * protected here: rows by their version's rules and the key patterns, records (quarantine, dead
 * letters) by the rules of the version they name, else the latest, valid or not.
 */
export interface MessagePii {
  /** The key id the stored data is protected with (the mark's, else this writer's): kept on each record, so a replay can carry the mark. */
  keyId: string;
  /** A valid event of the message's log type, for the lake. */
  row(event: Record<string, unknown>, version: number): Record<string, unknown>;
  /** A value kept in a record: by the version named (the message's attribute), else the value's own, else the latest. */
  stored(value: unknown, version?: number): unknown;
  /** Text that is not JSON (a line that failed to parse), its `"key": value` and `key=value` pairs protected. */
  text(text: string): string;
  /** A whole payload that could not be decoded, as base64: protected as text when it is UTF-8, else kept as it came. */
  payload(base64: string): string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export type PiiRegistry = Pick<Registry, 'pii'>;

/** `logType` is the message's log type when the registry knows it: an unknown one declares nothing. */
export function messagePii(registry: PiiRegistry, message: PushMessage, logType: string | undefined, policy: PiiPolicy): MessagePii {
  const mark = message.attributes[BATCH_ATTRIBUTES.piiProtected];
  if (mark) return { keyId: mark, row: (event) => event, stored: (value) => value, text: (text) => text, payload: (base64) => base64 };
  const planOf = (version: number | undefined) => (logType === undefined ? undefined : registry.pii(logType, version));
  return {
    keyId: policy.hash.keyId,
    row(event, version) {
      const plan = planOf(version);
      // A valid event's log type and version are known: validation found them.
      if (!plan) throw new Error(`no PII plan for ${String(logType)} v${version}`);
      return protectPii(event, plan, policy);
    },
    stored(value, version) {
      const own = isObject(value) && typeof value.schema_version === 'number' ? value.schema_version : undefined;
      return protectStored(value, planOf(version ?? own), policy);
    },
    text: (text) => protectText(text, planOf(undefined), policy),
    payload(base64) {
      let text: string;
      try {
        text = utf8.decode(Buffer.from(base64, 'base64'));
      } catch {
        // Binary (compressed beyond the decode limit, say): nothing readable to protect.
        return base64;
      }
      const protectedText = protectText(text, planOf(undefined), policy);
      return protectedText === text ? base64 : Buffer.from(protectedText).toString('base64');
    },
  };
}
