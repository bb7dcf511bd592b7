import { gunzipSync } from 'node:zlib';
import { isBase64 } from '@strata/runtime';
import { BATCH_LIMITS, ENVELOPE } from '@strata/schemas';

/**
 * Erasure in the JSON-lines zones (quarantine/, dead-letter/): which records hold a user's data,
 * and a file's text without them. A record keeps the event as received (`data`, see
 * services/writer/src/quarantine.ts), which is often not a valid event, so it is not matched by
 * `data.user_id` alone: a record holds the user when `"user_id": "<id>"` appears in it at any
 * depth, or in the text of a string near its top (a line the writer could not parse as JSON), or
 * in such a string decoded when it is a base64 payload, gzip or not (a whole message kept as it
 * came). A whole message that matches goes whole, other users' events in it included: quarantine
 * is for replaying, and an erasure must not leave the user's events behind.
 */

const GZIP_MAGIC = [0x1f, 0x8b];
/** How deep strings are looked into as text: `data`, or `message.data` in a dead letter. */
const TEXT_DEPTH = 3;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A base64 payload's text (gunzipped when it is gzip), or undefined for a string that is not one. */
function decodedPayload(value: string): string | undefined {
  if (value.length < 4 || !isBase64(value)) return undefined;
  let bytes = Buffer.from(value, 'base64');
  if (bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
    try {
      // The writer's bound on decoding: a bomb stops there, and what it inflated to is not looked at.
      bytes = gunzipSync(bytes, { maxOutputLength: BATCH_LIMITS.maxDecodedBytes });
    } catch {
      // Not gzip after all (or over the bound): the raw bytes are what there is.
    }
  }
  return bytes.toString('utf8');
}

/** The texts a record may hold the user in: itself as JSON, and its strings near the top, as they are and decoded. */
function textsOf(record: unknown): string[] {
  const texts = [JSON.stringify(record)];
  const visit = (value: unknown, depth: number) => {
    if (typeof value === 'string') {
      texts.push(value);
      const decoded = decodedPayload(value);
      if (decoded !== undefined) texts.push(decoded);
    } else if (depth < TEXT_DEPTH && typeof value === 'object' && value !== null) {
      for (const child of Object.values(value)) visit(child, depth + 1);
    }
  };
  visit(record, 0);
  return texts;
}

/** `"user_id": "<id>"`, as JSON writes it (any spacing). */
const userField = (user: string) => new RegExp(`"${ENVELOPE.userId}"\\s*:\\s*${escapeRegExp(JSON.stringify(user))}`);

/** Whether the record on `line` holds the user's data (userField). */
function holdsUser(line: string, field: RegExp): boolean {
  let texts: string[];
  try {
    texts = textsOf(JSON.parse(line));
  } catch {
    // The writer never writes such a line; if one says the user's id, it goes too.
    texts = [line];
  }
  return texts.some((text) => field.test(text));
}

export interface JsonLinesErasure {
  /** The file's text without the user's records: each kept line as it was, newline-terminated. */
  text: string;
  /** Lines kept and removed (blank lines are neither). */
  kept: number;
  removed: number;
}

/** A JSON-lines file without the user's records. */
export function eraseJsonLines(text: string, user: string): JsonLinesErasure {
  const field = userField(user);
  const kept: string[] = [];
  let removed = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (holdsUser(line, field)) removed += 1;
    else kept.push(line);
  }
  return { text: kept.map((line) => `${line}\n`).join(''), kept: kept.length, removed };
}
