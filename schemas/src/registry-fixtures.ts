import type { JsonSchema, LogTypeVersion } from './log-type.js';
import type { RegistryLogger } from './registry-table.js';

/**
 * Test fixtures for the registry table: `test_signup`, a log type no bundle ships, which rejects
 * unknown fields so a newly published field is visibly refused before and accepted after.
 */
export function signupVersion(version: number, properties: Record<string, JsonSchema> = {}): LogTypeVersion {
  return {
    logType: 'test_signup',
    version,
    schema: {
      'x-log-type': 'test_signup',
      'x-version': version,
      'x-unknown-properties': 'reject',
      type: 'object',
      required: ['event'],
      properties: { event: { enum: ['signed_up'] }, ...properties },
    },
  };
}

/** v2 adds an optional `plan`: a compatible successor of v1. */
export const signupV1 = signupVersion(1);
export const signupV2 = signupVersion(2, { plan: { type: 'string', maxLength: 32 } });
/** v3 turns `plan` into an integer: breaks v2. */
export const signupV3Breaking = signupVersion(3, { plan: { type: 'integer' } });

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  fields: Record<string, unknown>;
  message: string;
}

/** A RegistryLogger that keeps what it is told, for assertions. */
export function recordingLogger(): RegistryLogger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at = (level: LogLine['level']) => (fields: object, message: string) => void lines.push({ level, fields: fields as Record<string, unknown>, message });
  return { lines, info: at('info'), warn: at('warn'), error: at('error') };
}
