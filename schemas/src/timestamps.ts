const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** The number in `s[from, from + n)` if those are all ASCII digits, else -1. */
function digits(s: string, from: number, n: number): number {
  let value = 0;
  for (let i = from; i < from + n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/**
 * Parses an RFC 3339 timestamp (`YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`) into whole milliseconds
 * since the epoch (UTC) plus the sub-millisecond microseconds that Date would drop. Hand-rolled
 * rather than a regexp and Date.parse: it runs twice per event on the validation hot path (this is
 * several times faster), and Date.parse would also roll Feb 30 into March.
 */
function parse(iso: string): { ms: number; subMicros: number } | undefined {
  const n = iso.length;
  if (n < 20 || iso[4] !== '-' || iso[7] !== '-' || iso[13] !== ':' || iso[16] !== ':') return undefined;
  const t = iso[10];
  if (t !== 'T' && t !== 't' && t !== ' ') return undefined;
  const year = digits(iso, 0, 4);
  const month = digits(iso, 5, 2);
  const day = digits(iso, 8, 2);
  const hour = digits(iso, 11, 2);
  const minute = digits(iso, 14, 2);
  const second = digits(iso, 17, 2);
  if (year < 0 || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  if (day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  let i = 19;
  let micros = 0;
  if (iso[i] === '.') {
    const start = ++i;
    while (i < n && i - start < 9 && iso.charCodeAt(i) >= 48 && iso.charCodeAt(i) <= 57) i++;
    if (i === start) return undefined;
    // Keep six digits (µs); further digits are truncated, as BigQuery does.
    for (let k = 0; k < 6; k++) micros = micros * 10 + (start + k < i ? iso.charCodeAt(start + k) - 48 : 0);
  }
  let offsetMinutes = 0;
  const zone = iso[i];
  if (zone === 'Z' || zone === 'z') {
    if (i + 1 !== n) return undefined;
  } else if (zone === '+' || zone === '-') {
    if (i + 6 !== n || iso[i + 3] !== ':') return undefined;
    const oh = digits(iso, i + 1, 2);
    const om = digits(iso, i + 4, 2);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return undefined;
    offsetMinutes = (zone === '-' ? -1 : 1) * (oh * 60 + om);
  } else {
    return undefined;
  }
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return { ms: seconds * 1000 + Math.floor(micros / 1000), subMicros: micros % 1000 };
}

/**
 * Microseconds since the epoch (UTC) for an RFC 3339 timestamp, keeping sub-millisecond digits.
 * Lake timestamps are µs, as BigQuery's TIMESTAMP is.
 */
export function toMicros(iso: string): bigint {
  const parsed = parse(iso);
  if (!parsed) throw new Error(`not an RFC 3339 timestamp: ${iso}`);
  return BigInt(parsed.ms) * 1000n + BigInt(parsed.subMicros);
}

/**
 * The same microseconds as `toMicros`, as a Number: exact while |µs| ≤ 2^53 (until the year 2255),
 * else NaN, and NaN for a string that is not RFC 3339. The Arrow encoder's path: it writes the
 * number's two 32-bit halves into the int64 column, with no BigInt allocated per value.
 */
export function toMicrosNumber(iso: string): number {
  const parsed = parse(iso);
  if (!parsed) return Number.NaN;
  const micros = parsed.ms * 1000 + parsed.subMicros;
  return Number.isSafeInteger(micros) ? micros : Number.NaN;
}

/** Milliseconds since the epoch (UTC), for partitioning. */
export function toMillis(iso: string): number {
  const parsed = parse(iso);
  if (!parsed) throw new Error(`not an RFC 3339 timestamp: ${iso}`);
  return parsed.ms;
}

/**
 * BigQuery's TIMESTAMP (and DATE) range, 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z, in ms.
 * https://cloud.google.com/bigquery/docs/reference/standard-sql/data-types#timestamp_type
 * A value outside it cannot be stored or queried, and its partition (dt) would not be a DATE.
 */
export const BIGQUERY_TIMESTAMP_RANGE_MS = { min: -62_135_596_800_000, max: 253_402_300_799_999 } as const;

/**
 * The `date-time` format every schema uses: exactly what `toMicros` can store, no more. RFC 3339
 * with a Z or ±hh:mm offset, and within what BigQuery can hold once in UTC (so not year 0000).
 */
export function isTimestamp(value: string): boolean {
  const parsed = parse(value);
  return parsed !== undefined && parsed.ms >= BIGQUERY_TIMESTAMP_RANGE_MS.min && parsed.ms <= BIGQUERY_TIMESTAMP_RANGE_MS.max;
}

export function microsToIso(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const sub = Number(((micros % 1000n) + 1000n) % 1000n);
  const iso = new Date(ms).toISOString(); // ...sss Z
  return sub ? `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z` : iso;
}
