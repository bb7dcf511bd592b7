const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

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

/**
 * Parses an RFC 3339 timestamp into whole milliseconds since the epoch (UTC) plus the sub-millisecond
 * microseconds that Date would drop. Arithmetic rather than Date.parse: this runs twice per event on
 * the validation hot path, and Date.parse would also roll Feb 30 into March.
 */
function parse(iso: string): { ms: number; subMicros: number } | undefined {
  const m = RFC3339.exec(iso);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  if (day > (month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  let offsetMinutes = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const fraction = ((m[7] ?? '') + '000000').slice(0, 6);
  const seconds = daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offsetMinutes * 60;
  return { ms: seconds * 1000 + Number(fraction.slice(0, 3)), subMicros: Number(fraction.slice(3)) };
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

/** Milliseconds since the epoch (UTC), for partitioning. */
export function toMillis(iso: string): number {
  const parsed = parse(iso);
  if (!parsed) throw new Error(`not an RFC 3339 timestamp: ${iso}`);
  return parsed.ms;
}

/** The `date-time` format every schema uses: exactly what `toMicros` can store, no more. */
export function isTimestamp(value: string): boolean {
  return parse(value) !== undefined;
}

export function microsToIso(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const sub = Number(((micros % 1000n) + 1000n) % 1000n);
  const iso = new Date(ms).toISOString(); // ...sss Z
  return sub ? `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z` : iso;
}
