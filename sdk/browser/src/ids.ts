/**
 * Client-side event ids, so a batch retried after a timeout or a 503 only ever adds rows that the
 * lake's `event_id` dedup removes. ULID-shaped (https://github.com/ulid/spec): 10 characters of
 * millisecond time then 16 random ones, Crockford base32, so ids sort by creation time and match
 * the envelope's `^[A-Za-z0-9_.:-]+$`, ≤ 64 characters.
 */
const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** Fills the array with cryptographically random bytes (`crypto.getRandomValues` in browsers and Node). */
export type RandomBytes = (bytes: Uint8Array) => Uint8Array;

export const cryptoRandom: RandomBytes = (bytes) => crypto.getRandomValues(bytes);

export function createIdFactory(random: RandomBytes = cryptoRandom, now: () => number = Date.now): () => string {
  return () => {
    let time = '';
    let t = now();
    for (let i = 0; i < 10; i++) {
      time = CROCKFORD[t % 32] + time;
      t = Math.floor(t / 32);
    }
    let rest = '';
    // 256 is a multiple of 32, so the low five bits of a random byte are uniform: 80 random bits.
    for (const byte of random(new Uint8Array(16))) rest += CROCKFORD[byte & 31];
    return time + rest;
  };
}
