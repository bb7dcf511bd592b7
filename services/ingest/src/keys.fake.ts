import { keyDigest, type KeyConfig } from './keys.js';

/** A key document for tests: one key per clear-text value given, allowed everything, at a rate no test reaches. */
export function testKeys(...keys: string[]): KeyConfig[] {
  return keys.map((key, i) => ({ name: `test-${i}`, sha256: keyDigest(key), rate: { points: 1_000_000, durationSeconds: 1 } }));
}
