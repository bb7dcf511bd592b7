import { conditionNotMet, invalid, notModified, type GcsError } from './errors.js';

/**
 * The JSON API's generation preconditions:
 * https://cloud.google.com/storage/docs/request-preconditions
 */
export interface Preconditions {
  ifGenerationMatch?: number;
  ifGenerationNotMatch?: number;
  ifMetagenerationMatch?: number;
  ifMetagenerationNotMatch?: number;
}

const KEYS = ['ifGenerationMatch', 'ifGenerationNotMatch', 'ifMetagenerationMatch', 'ifMetagenerationNotMatch'] as const;

/** Reads the four precondition query parameters; a non-integer value is a 400 like the real API. */
export function parsePreconditions(query: URLSearchParams): Preconditions | GcsError {
  const result: Preconditions = {};
  for (const key of KEYS) {
    const raw = query.get(key);
    if (raw === null) continue;
    if (!/^\d+$/.test(raw)) return invalid(`Invalid value for ${key}: ${raw}`);
    result[key] = Number(raw);
  }
  return result;
}

export interface Generations {
  generation: number;
  metageneration: number;
}

/**
 * Checks preconditions against the live object (undefined when it does not exist).
 * `ifGenerationMatch=0` means "must not exist". Reads answer a failed *NotMatch with 304, as GCS
 * does for conditional GETs; writes and deletes answer every failure with 412.
 */
export function checkPreconditions(
  pre: Preconditions,
  current: Generations | undefined,
  kind: 'read' | 'write',
): GcsError | undefined {
  const gen = current?.generation ?? 0;
  if (pre.ifGenerationMatch !== undefined && pre.ifGenerationMatch !== gen) return conditionNotMet('If-Match');
  if (pre.ifMetagenerationMatch !== undefined && pre.ifMetagenerationMatch !== current?.metageneration) {
    return conditionNotMet('If-Metageneration-Match');
  }
  if (current && pre.ifGenerationNotMatch !== undefined && pre.ifGenerationNotMatch === current.generation) {
    return kind === 'read' ? notModified() : conditionNotMet('If-None-Match');
  }
  if (current && pre.ifMetagenerationNotMatch !== undefined && pre.ifMetagenerationNotMatch === current.metageneration) {
    return kind === 'read' ? notModified() : conditionNotMet('If-Metageneration-Not-Match');
  }
  return undefined;
}
