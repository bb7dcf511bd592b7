const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Microseconds since the epoch (UTC) for an RFC 3339 timestamp, keeping sub-millisecond digits
 * that Date would drop. Lake timestamps are µs, as BigQuery's TIMESTAMP is.
 */
export function toMicros(iso: string): bigint {
  const match = RFC3339.exec(iso);
  if (!match) throw new Error(`not an RFC 3339 timestamp: ${iso}`);
  const [, date, hh, mm, ss, fraction = '', zone] = match;
  const wholeSeconds = Date.parse(`${date}T${hh}:${mm}:${ss}${zone === 'z' ? 'Z' : zone}`);
  // Date.parse rolls Feb 30 over into March and accepts 24:00; a timestamp must name a real instant as written.
  if (Number.isNaN(wholeSeconds) || Number(hh) > 23 || new Date(Date.parse(`${date}T00:00:00Z`)).toISOString().slice(0, 10) !== date) {
    throw new Error(`not a valid date: ${iso}`);
  }
  const micros = BigInt((fraction + '000000').slice(0, 6));
  return BigInt(wholeSeconds) * 1000n + micros;
}

export function microsToIso(micros: bigint): string {
  const ms = Number(micros / 1000n);
  const sub = Number(((micros % 1000n) + 1000n) % 1000n);
  const iso = new Date(ms).toISOString(); // ...sss Z
  return sub ? `${iso.slice(0, -1)}${String(sub).padStart(3, '0')}Z` : iso;
}

/** The `date-time` format every schema uses: exactly what `toMicros` can store, no more. */
export function isTimestamp(value: string): boolean {
  try {
    toMicros(value);
    return true;
  } catch {
    return false;
  }
}
